"""One command table, two readers: the fast path and typer parse every command alike.

Each sample command line is parsed by the fast path (`styxy.cli.fast.parse`) and by the typer
app built from the same table with a dispatch that records the call instead of running it.
When the fast path answers, typer must make the very same call (command, every argument's
value); when it declines, typer parses the words in production, so a usage error is typer's
own exit code and sentence on both paths. The plain shapes of every command and option must
not be declined: that is what keeps typer off the hot path.
"""

from __future__ import annotations

import inspect
import io
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from styxy.cli import fast, table, typed
from styxy.cli.boundary import _usage_sentence, main, spelled
from styxy.cli.projects import project_default
from styxy.errors import StyxyError

SAMPLE = {
    table.TEXT: "web",
    table.INT: "7",
    table.PORT: "3005",
    table.PID: "1",
}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[fast.Call] = []

    def __call__(self, call: fast.Call) -> int:
        self.calls.append(call)
        return 0


def typer_call(args: list[str]) -> fast.Call | tuple[int, str]:
    """What the typer app does with `args`: the call it makes, or (exit code, error text)."""
    from typer import _click
    from typer.main import get_command

    recorder = Recorder()
    command = get_command(typed.build(recorder))
    words = project_default(args)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            with command.make_context("styxy", list(words)) as ctx:
                command.invoke(ctx)
    except _click.exceptions.ClickException as exc:
        return exc.exit_code, _usage_sentence(exc)
    except StyxyError as exc:  # a port or pid, refused in the words of every front end
        return exc.exit_code, exc.said(spelled)
    assert len(recorder.calls) == 1, (args, recorder.calls)
    return recorder.calls[0]


def fast_call(args: list[str]) -> fast.Call | None:
    return fast.parse(project_default(args))


def sample(param: table.Param) -> list[str]:
    if param.kind == table.FLAG:
        return []
    if param.kind == table.CHOICE:
        assert isinstance(param, table.Option)
        return [param.choices[-1]]
    if param.kind == table.WORDS:
        return ["first", "second"]
    return [SAMPLE[param.kind]]


def required_words(command: table.Command) -> list[str]:
    """The command's words with every required parameter given."""
    words = list(command.words)
    for param in command.params:
        if isinstance(param, table.Option) and param.required:
            words += [param.flags[0], *sample(param)]
    for param in command.params:
        if isinstance(param, table.Argument) and param.required:
            words += sample(param)
    return words


def plain_samples() -> list[list[str]]:
    """For every command: the bare minimum, each option alone in each spelling, all of them
    at once, the optional arguments, and the root's --doc/--json before the command."""
    found: list[list[str]] = []
    for command in table.COMMANDS:
        base = required_words(command)
        found.append(base)
        found.append(["--doc", "root.md", "--json", *base])
        everything = list(base)
        for param in command.params:
            if isinstance(param, table.Option) and not param.required:
                for flag in param.flags:
                    found.append([*base, flag, *sample(param)])
                if param.kind != table.FLAG:
                    found.append([*base, f"{param.flags[-1]}={sample(param)[0]}"])
                everything += [param.flags[-1], *sample(param)]
            elif isinstance(param, table.Argument) and not param.required:
                if command.trailing:
                    found.append([*base, "--", *sample(param), "--json", "--help"])
                else:
                    found.append([*base, *sample(param)])
        found.append(everything)
        found.append(["--doc", "root.md", *everything])
    return found


@pytest.mark.parametrize("args", plain_samples(), ids=" ".join)
def test_both_paths_make_the_same_call(args):
    made = fast_call(args)
    assert made is not None, f"the fast path declined plain words: {args}"
    assert typer_call(args) == made


def usage_errors() -> list[list[str]]:
    """Words typer refuses with a usage error (exit 2), for every command and option."""
    found: list[list[str]] = []
    for command in table.COMMANDS:
        base = required_words(command)
        found.append([*base, "--no-such-option"] if not command.lenient else [])
        for param in command.params:
            if isinstance(param, table.Option) and param.required:
                without = list(command.words)
                found.append(without)
            if param.kind in (table.PORT, table.PID, table.INT, table.CHOICE):
                bad = ["0", "abc", "70000", "+5", "08000", "-1", ""]
                for value in bad if param.kind != table.CHOICE else ["xml", "JSON"]:
                    if isinstance(param, table.Option):
                        found.append([*base, f"{param.flags[-1]}={value}"])
                    elif not value.startswith("-"):
                        words = list(command.words) + [value]
                        found.append(words)
            if isinstance(param, table.Option) and param.kind != table.FLAG:
                found.append([*base, param.flags[-1]])  # the value is missing
    return [words for words in found if words and _refused(words)]


def _refused(words: list[str]) -> bool:
    made = typer_call(words)
    return not isinstance(made, fast.Call)


@pytest.mark.parametrize("args", usage_errors(), ids=" ".join)
def test_a_usage_error_is_typers_on_both_paths(args, capsys):
    assert fast_call(args) is None
    code, sentence = typer_call(args)
    assert code == 2
    assert main(args) == 2
    assert capsys.readouterr().err == f"styxy: {sentence}\n"


def test_every_usage_error_sample_list_covers_each_kind():
    words = {" ".join(args) for args in usage_errors()}
    assert "allocate -s web --port=0" in words
    assert "check abc" in words
    assert "allocate" in words  # a missing required option
    assert "env --format=xml" in words
    assert "allocate -s web --pid=0" in words


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["allocate", "--help"],
        ["-V"],
        [],
        ["config"],
        ["allocate", "-s", "dev", "-s", "api"],  # given twice: the last wins in typer
        ["allocate", "-sdev"],  # short option with its value attached
        ["allocate", "-s", "-dev"],  # a dash word as a value
        ["config", "set", "lease-grace-seconds", "-5"],
        ["hook", "session-end", "--unknown"],  # lenient: typer collects the extra words
        ["run", "-s", "dev", "echo", "hi"],  # whose words are these? typer decides
        ["check", "8000", "9000"],
        ["nonsense"],
    ],
    ids=" ".join,
)
def test_the_fast_path_leaves_unusual_words_to_typer(args):
    assert fast_call(args) is None


def test_completion_requests_are_typers(monkeypatch):
    monkeypatch.setenv("_STYXY_COMPLETE", "complete_bash")
    assert fast_call(["allocate", "-s", "dev"]) is None


ODD = ["", "0", "65536", "08000", "+5", "-5", "-", "--", "--json", "--doc", "--help", "x y"]
GOOD = {
    table.TEXT: ["web", "a.md", "x y"],
    table.INT: ["0", "7", "12"],
    table.PORT: ["1", "3005", "65535"],
    table.PID: ["1", "4242", "4194304", "4194305"],
    table.WORDS: ["first", "--json"],
}


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A command's words, then its own parameters in any order, mostly with values of their
    kind, sometimes with odd ones, sometimes given twice or left out."""
    command = draw(st.sampled_from(table.COMMANDS))
    words = draw(st.lists(st.sampled_from(["--doc", "root.md", "--json"]), max_size=3))
    words += command.words
    params = list(command.params)
    chosen = draw(st.lists(st.sampled_from(params), unique_by=id, max_size=len(params))
                  if params else st.just([]))
    if params and draw(st.integers(0, 4)) == 0:
        chosen.append(draw(st.sampled_from(params)))  # given twice
    if command.trailing and any(p.kind == table.WORDS for p in chosen):
        chosen = [p for p in chosen if p.kind != table.WORDS] + [params[-1]]
    for param in chosen:
        pool = [*param.choices] if isinstance(param, table.Option) and param.choices else \
            GOOD.get(param.kind, ["web"])
        odd = draw(st.integers(0, 5)) == 0
        value = draw(st.sampled_from(ODD if odd else pool))
        if isinstance(param, table.Argument):
            if command.trailing:
                words += ["--", value, *pool]
            else:
                words += [value] if param.kind != table.WORDS else [value, *pool]
        elif param.kind == table.FLAG:
            words.append(draw(st.sampled_from(param.flags)))
        else:
            flag = draw(st.sampled_from(param.flags))
            if flag.startswith("--") and draw(st.booleans()):
                words.append(f"{flag}={value}")
            else:
                words += [flag, value]
    return words


@settings(max_examples=1500, deadline=None)
@given(command_lines())
def test_whatever_the_fast_path_accepts_typer_parses_the_same(words):
    made = fast_call(words)
    if made is not None:
        assert typer_call(words) == made


def test_the_generated_command_lines_reach_the_fast_path():
    """The property above is worth something only if the fast path accepts many of them."""
    accepted = []

    @settings(max_examples=300, deadline=None, database=None)
    @given(command_lines())
    def count(words):
        accepted.append(fast_call(words) is not None)

    count()
    assert sum(accepted) > len(accepted) / 5


@pytest.mark.parametrize("command", table.COMMANDS, ids=lambda c: " ".join(c.words))
def test_every_target_takes_what_its_entry_declares(command):
    parameters = list(inspect.signature(table.target(command)).parameters)
    assert parameters == table.dests(command)


def test_the_tables_bounds_are_the_vocabularys():
    from styxy.vocabulary import MAX_PID, MAX_PORT

    assert (table.MAX_PORT, table.MAX_PID) == (MAX_PORT, MAX_PID)
