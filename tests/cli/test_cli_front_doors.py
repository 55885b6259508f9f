"""Every front door says the same thing (SPEC section 19, issue 21): one meaning for `--doc` and
`--json` on every command, before or after the subcommand; one JSON object for `--json` even
with nothing to say; exit 2 for every bad port; notes that start with `styxy: `, worded once;
`list -s/-i`; completion; `run` saying its port."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import styxy_command


def _leaf_commands():
    from typer.main import get_command

    from styxy.cli.app import app

    found = []

    def walk(command, path):
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, [*path, name])
        else:
            found.append((" ".join(path), command))

    walk(get_command(app), [])
    return found


LEAVES = _leaf_commands()


@pytest.mark.parametrize("path,command", LEAVES, ids=[p for p, _ in LEAVES])
def test_every_command_takes_doc_and_json(path, command):
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert {"--doc", "--json"} <= options, path


def test_the_commands_are_all_there():
    paths = {path for path, _ in LEAVES}
    assert {"iana", "init", "interceptor path", "interceptor build", "mcp", "serve",
            "hook session-end", "config get", "list"} <= paths


def test_doc_after_the_subcommand_on_iana_and_interceptor_path(styxy):
    # --doc is accepted where it means nothing to the command, as everywhere (exit 0, not 2).
    done = styxy("iana", "8000", "--doc", str(styxy.doc), doc=False)
    assert done.code == 0 and "irdmi" in done.out, done.err
    path = styxy("interceptor", "path", "--doc", str(styxy.doc), "--json", doc=False)
    assert path.code in (0, 1), path.err
    assert set(path.json()) in ({"path"}, {"error", "code"})


def test_init_answers_in_json_before_or_after_the_subcommand(styxy, tmp_path):
    first = tmp_path / "a" / "PORT_MANAGEMENT.md"
    done = styxy("init", "--json", "--doc", str(first), doc=False)
    assert (done.code, done.err) == (0, "")
    assert done.json() == {"document": str(first), "replaced": False}
    second = tmp_path / "b" / "PORT_MANAGEMENT.md"
    done = styxy("--json", "--doc", str(second), "init", doc=False)
    assert (done.code, done.json()) == (0, {"document": str(second), "replaced": False})
    again = styxy("--json", "--doc", str(second), "init", "--force", doc=False)
    assert again.json() == {"document": str(second), "replaced": True}
    refused = styxy("--json", "--doc", str(second), "init", doc=False)
    assert refused.code == 1 and refused.json()["code"] == 1


def test_init_and_first_use_say_the_same_note(styxy, tmp_path, home):
    target = tmp_path / "c" / "PORT_MANAGEMENT.md"
    done = styxy("init", "--doc", str(target), doc=False)
    assert done.err == f"styxy: created {target} from the default\n"
    forced = styxy("init", "--force", "--doc", str(target), doc=False)
    assert forced.err == f"styxy: replaced {target} with the default\n"
    # First use at the default location says the same words as init.
    first_use = styxy("list", doc=False)
    assert first_use.err == "styxy: created ~/docs/CORE/PORT_MANAGEMENT.md from the default\n"


def test_commands_with_nothing_to_say_still_print_one_json_object(styxy):
    end = subprocess.run(
        [*styxy_command(), "hook", "session-end", "--json"], input='{"session_id": "x"}',
        capture_output=True, text=True, env={**styxy.env, "STYXY_DOC": str(styxy.doc)},
        timeout=60,
    )
    assert end.returncode == 0
    assert json.loads(end.stdout) == {}
    dump = styxy("interceptor", "dump", "--json")
    assert dump.code == 0 and set(dump.json()) == {"description"}


@pytest.mark.parametrize("argv", [
    ["iana", "70000"], ["iana", "0"], ["check", "70000"], ["check", "0"],
    ["allocate", "-s", "dev", "-p", "70000"], ["use", "-p", "0"], ["release", "--port", "65536"],
    ["scan", "--start", "0"],
])
def test_every_port_outside_1_to_65535_is_a_usage_error(styxy, argv):
    done = styxy(*argv)
    assert done.code == 2, (argv, done.err)
    assert done.err.startswith("styxy: ") and "must be a port number from 1 to 65535, not " in done.err


def test_iana_70000_reads_as_check_70000(styxy):
    iana = styxy("iana", "70000").err
    check = styxy("check", "70000").err
    assert iana == check == "styxy: PORT must be a port number from 1 to 65535, not 70000.\n"


def test_cleanup_and_its_dry_run_say_the_same_words(styxy):
    assert styxy("config", "set", "lease-grace-seconds", "0").code == 0
    # A holder that is gone: a shell that allocates and exits.
    subprocess.run(
        ["sh", "-c", f"{' '.join(styxy_command())} --doc {styxy.doc} allocate -s dev -i gone; true"],
        env=styxy.env, check=True, capture_output=True, timeout=60,
    )
    dry = styxy("cleanup", "--dry-run").out
    real = styxy("cleanup").out
    assert dry.startswith("would reap dev port ") and real == dry.replace("would reap", "reaped")
    assert styxy("cleanup", "--dry-run").out == styxy("cleanup").out == "no stale leases\n"


def test_every_stderr_line_of_a_run_starts_with_styxy(styxy):
    grafana = styxy("allocate", "-s", "grafana", "-i", "x")
    assert grafana.err.startswith("styxy: Auto-allocated range ")
    styxy("allocate", "-s", "ai", "-i", "a")
    blocked = styxy("allocate", "-s", "ai", "-i", "b")
    assert blocked.err.startswith("styxy: Blocked: service type 'ai'")


def test_list_filters_by_type_and_instance(styxy):
    for kind, instance in (("dev", "a"), ("dev", "b"), ("api", "a")):
        assert styxy("allocate", "-s", kind, "-i", instance).code == 0
    def shown(*argv):
        return [(x["serviceType"], x["instanceId"]) for x in styxy("list", *argv, "--json").json()["leases"]]
    assert shown("-s", "dev") == [("dev", "a"), ("dev", "b")]
    assert shown("-i", "a") == [("dev", "a"), ("api", "a")]
    assert shown("-s", "dev", "-i", "b") == [("dev", "b")]
    assert shown("-s", "docs") == []
    assert styxy("list", "-s", "docs").out == "no leases\n"


def _complete(styxy, words: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        styxy_command(), capture_output=True, text=True, timeout=60,
        env={**styxy.env, **(env or {}), "_STYXY_COMPLETE": "complete_bash",
             "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_completion_offers_service_types_and_setting_keys(styxy):
    text = styxy.doc.read_text().replace("| docs | 4100 |", "| docstore | 4100 |")
    styxy.doc.write_text(text.replace("  docs: [documentation,", "  docstore: [documentation,"))
    assert _complete(styxy, f"styxy --doc {styxy.doc} allocate -s docs") == ["docstore"]
    assert _complete(styxy, "styxy list -s da", {"STYXY_DOC": str(styxy.doc)}) == ["database"]
    # Aliases complete too: they name their row everywhere a type is taken.
    assert _complete(styxy, f"styxy --doc {styxy.doc} run -s post") == ["postgres", "postgresql"]
    assert _complete(styxy, "styxy config get auto-allocation.pl") == ["auto-allocation.placement"]
    assert "lease-grace-seconds" in _complete(styxy, "styxy config set ")
    # Completion reads without the lock and writes nothing, not even the sidecar.
    assert not styxy.sidecar.exists()


def test_run_says_which_port_it_gave(styxy):
    done = styxy("run", "-s", "api", "-n", "web", "--", sys.executable, "-c", "import os; print(os.environ['PORT'])")
    assert done.code == 0
    port = int(done.out)
    assert done.err == f"styxy: running {os.path.basename(sys.executable)} on port {port} (api)\n"
