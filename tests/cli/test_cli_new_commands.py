"""The commands of the second round: `release -i`, `use -n`, `ranges`, `-V`, completion, and
the line `validate` prints when all is well."""

from __future__ import annotations

import os
import pty
import re
import subprocess

from netutil import first_free, listen
from support import styxy_command


def test_release_dash_i_ends_every_lease_of_the_instance_and_no_other(styxy):
    mine = [styxy("allocate", "-s", t, "-i", "agent-7", "--json").json() for t in ("dev", "api")]
    named = styxy("allocate", "-s", "dev", "-i", "agent-7", "-n", "web", "--json").json()
    other = styxy("allocate", "-s", "dev", "-i", "agent-8", "--json").json()
    done = styxy("release", "-i", "agent-7", "--json")
    assert done.code == 0
    released = done.json()["released"]
    assert sorted(x["lockId"] for x in released) == sorted(
        x["lockId"] for x in [*mine, named]
    )
    assert set(released[0]) == {
        "lockId", "port", "serviceType", "instanceId", "name", "pid", "pidStartTime",
        "createdAt", "source",
    }
    left = styxy("list", "--json").json()["leases"]
    assert [x["lockId"] for x in left] == [other["lockId"]]


def test_release_dash_i_with_nothing_to_end_is_still_success(styxy):
    before = styxy("release", "-i", "nobody")
    assert (before.code, before.out) == (0, "no leases of instance 'nobody'\n")
    done = styxy("release", "-i", "nobody", "--json")
    assert (done.code, done.json()) == (0, {"released": []})


def test_release_dash_i_says_what_it_ended(styxy):
    lease = styxy("allocate", "-s", "dev", "-i", "agent-7", "--json").json()
    done = styxy("release", "-i", "agent-7")
    assert done.out == f"released dev port {lease['port']} ({lease['lockId']})\n"


def test_use_finds_a_running_service_by_name(styxy):
    styxy("allocate", "-s", "dev", "-i", "a", "-n", "web")
    api = styxy("allocate", "-s", "api", "-i", "a", "-n", "web", "--json").json()
    styxy("allocate", "-s", "api", "-i", "b", "-n", "docs")
    done = styxy("use", "-n", "docs", "--json")
    assert (done.code, done.json()["serviceType"], done.json()["instanceId"]) == (0, "api", "b")
    narrowed = styxy("use", "-n", "web", "-s", "api")
    assert narrowed.out == f"{api['port']}\n"
    assert styxy("use", "-n", "web", "-i", "b").code == 1
    missing = styxy("use", "-n", "nothing")
    assert (missing.code, missing.err) == (
        1, "styxy: nothing styxy knows of is running named 'nothing'.\n"
    )


def test_ranges_json_lists_every_range_with_its_counts(styxy):
    taken = styxy("allocate", "-s", "dev", "--json").json()["port"]
    free_port = first_free(range(3001, 3099))
    with listen(free_port):
        found = styxy("ranges", "--json").json()["ranges"]
    dev = next(x for x in found if x["serviceType"] == "dev")
    assert set(dev) == {"serviceType", "start", "end", "instances", "leased", "listening", "free"}
    assert (dev["start"], dev["end"], dev["instances"], dev["leased"]) == (3000, 3099, "multi", 1)
    assert dev["listening"] >= 1
    assert dev["free"] == 100 - len({taken, free_port}) - (dev["listening"] - 1)
    ai = next(x for x in found if x["serviceType"] == "ai")
    assert ai["instances"] == "single"
    assert [x["start"] for x in found] == sorted(x["start"] for x in found)


def test_ranges_draws_a_bar_per_range_without_colour_off_a_terminal(styxy):
    styxy("allocate", "-s", "dev")
    done = styxy("ranges")
    lines = done.out.splitlines()
    assert lines[0].split() == ["TYPE", "RANGE", "INSTANCES", "LEASED", "LISTENING", "FREE", "MAP"]
    dev = next(line for line in lines if line.startswith("dev "))
    # 100 ports in 40 cells: the first cell holds the leased port 3000.
    assert dev.split()[1:] == ["3000-3099", "multi", "1", "0"] + dev.split()[5:]
    assert dev.split()[-1] == "#" + "." * 39
    assert "\033[" not in done.out
    assert lines[-1] == "# leased   ! listening without a lease   . free"


def _on_a_terminal(styxy, *args, env=None):
    """Run styxy with stdout on a real pseudo-terminal; return what it drew."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*styxy_command(), "--doc", str(styxy.doc), *args],
        stdout=follower, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env={**styxy.env, **(env or {})},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode()


def test_ranges_colours_the_bar_on_a_terminal_unless_no_color(styxy):
    styxy("allocate", "-s", "dev")
    env = {k: v for k, v in styxy.env.items() if k != "NO_COLOR"}
    styxy.env = env
    coloured = _on_a_terminal(styxy, "ranges")
    assert "\033[32m#\033[0m" in coloured
    plain = _on_a_terminal(styxy, "ranges", env={"NO_COLOR": "1"})
    assert "\033[" not in plain
    assert "#" + "." * 39 in plain


def test_dash_capital_v_is_the_version(styxy):
    from styxy import __version__

    for flag in ("-V", "--version"):
        done = styxy(flag)
        assert (done.code, done.out, done.err) == (0, f"styxy {__version__}\n", "")


def _from_bash(styxy, *args):
    """Run styxy as a person's bash does: typer finds the shell among styxy's parents."""
    line = " ".join(f"'{w}'" for w in [*styxy_command(), *args])
    return subprocess.run(["bash", "-c", f"{line}; exit $?"], env=styxy.env, capture_output=True,
                          text=True, timeout=120)


def test_show_completion_prints_typers_script_for_the_shell(styxy):
    done = _from_bash(styxy, "--show-completion")
    assert (done.returncode, done.stderr) == (0, "")
    assert "_STYXY_COMPLETE=complete_bash" in done.stdout
    assert "complete -o default -F _styxy_completion styxy" in done.stdout


def test_the_completion_script_completes_commands(styxy):
    done = styxy(env={"_STYXY_COMPLETE": "complete_bash", "COMP_WORDS": "styxy ran",
                      "COMP_CWORD": "1"}, doc=False)
    assert (done.code, done.out.split()) == (0, ["ranges"])
    options = styxy(env={"_STYXY_COMPLETE": "complete_bash", "COMP_WORDS": "styxy release --j",
                         "COMP_CWORD": "2"}, doc=False)
    assert options.out.split() == ["--json"]


def test_install_completion_writes_the_script_for_the_shell(styxy):
    done = _from_bash(styxy, "--install-completion")
    assert done.returncode == 0, done
    script = styxy.home / ".bash_completions" / "styxy.sh"
    assert done.stdout.startswith(f"bash completion installed in {script}\n")
    assert "_STYXY_COMPLETE=complete_bash" in script.read_text()
    assert f"source '{script}'" in (styxy.home / ".bashrc").read_text()


def test_help_lists_the_completion_options(styxy):
    done = styxy("--help", doc=False)
    assert "--install-completion" in done.out and "--show-completion" in done.out
    assert re.search(r"-V, --version", done.out)
    assert "Exit codes: 0 success, 1 refused or failed, 2 usage error, 130 interrupted;" in " ".join(
        done.out.split()
    )


def test_validate_says_what_it_checked_when_all_is_well(styxy):
    done = styxy("validate")
    assert (done.code, done.out) == (0, "")
    assert done.err == (
        f"styxy: checked {styxy.doc}: front matter, ranges table and audit block are valid.\n"
    )


def test_validate_with_errors_has_no_success_line(styxy):
    styxy.doc.write_text(styxy.doc.read_text().replace("| dev | 3000 | 3099 |", "| dev | 3000 | 2999 |"))
    done = styxy("validate")
    assert done.code == 1
    assert "checked" not in done.err
