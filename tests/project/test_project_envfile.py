"""`styxy env --write FILE`: styxy's block is replaced, every other byte and the mode stay."""

from __future__ import annotations

import os
import stat

import pytest
from project_support import repository, run_in, tree

CONFIG = b'[services.web]\ntype = "docs"\n'


def _block(port: int, newline: bytes = b"\n") -> bytes:
    lines = [
        b"# >>> styxy >>>",
        b"# Written by `styxy env`: lines between these markers are replaced on every run.",
        b"WEB_PORT=%d" % port,
        b"WEB_URL=http://localhost:%d" % port,
        b"WEB_PUBLIC_URL=http://web.%s.localhost:1355/" % port.project.encode(),
        b"# <<< styxy <<<",
    ]
    return b"".join(line + newline for line in lines)


class _Port(int):
    """The web service's port, and the project id its public URL is named after."""

    project: str


def _port(styxy, repo) -> _Port:
    report = run_in(styxy, repo, "env", "--json").json()
    port = _Port(report["services"][0]["port"])
    port.project = report["project"]
    return port


def test_an_existing_env_keeps_its_lines_and_mode_and_gets_the_block_appended(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    port = _port(styxy, repo)
    mine = b"# my settings\nSECRET=s3cr\xe9t\n\nexport OTHER='a b'  # note\nLAST=1"
    env = repo / ".env"
    env.write_bytes(mine)
    os.chmod(env, 0o600)
    done = run_in(styxy, repo, "env", "--write", ".env")
    assert (done.code, done.out, done.err) == (0, "", "styxy: wrote .env (3 variables)\n")
    assert env.read_bytes() == mine + b"\n" + _block(port)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600

    # Unchanged: the file is not rewritten (a dev server watching it does not restart).
    before = env.stat()
    again = run_in(styxy, repo, "env", "--write", ".env")
    assert again.err == "styxy: unchanged: .env (3 variables)\n"
    assert (env.stat().st_ino, env.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    # A hand edit inside the block goes; lines added around it stay, in place.
    edited = (mine + b"\n" + _block(port)).replace(b"WEB_PORT=%d" % port, b"WEB_PORT=1")
    env.write_bytes(b"FIRST=0\n" + edited + b"# after\nAFTER=2\n")
    run_in(styxy, repo, "env", "--write", ".env")
    assert env.read_bytes() == b"FIRST=0\n" + mine + b"\n" + _block(port) + b"# after\nAFTER=2\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


def test_crlf_files_get_a_crlf_block(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    port = _port(styxy, repo)
    (repo / ".env").write_bytes(b"A=1\r\nB=2\r\n")
    assert run_in(styxy, repo, "env", "--write", ".env").code == 0
    assert (repo / ".env").read_bytes() == b"A=1\r\nB=2\r\n" + _block(port, b"\r\n")


def test_a_missing_file_is_created_and_a_relative_path_is_the_projects(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    (repo / "src").mkdir()
    port = _port(styxy, repo)
    done = run_in(styxy, repo / "src", "env", "--write", ".env.local", "--format", "dotenv")
    assert done.code == 0
    # --format given with --write: stdout has the variables too.
    assert done.out == (
        f"WEB_PORT={port}\nWEB_URL=http://localhost:{port}\n"
        f"WEB_PUBLIC_URL=http://web.{port.project}.localhost:1355/\n"
    )
    created = repo / ".env.local"
    assert created.read_bytes() == _block(port)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(created.stat().st_mode) == 0o644 & ~mask
    assert not (repo / "src" / ".env.local").exists()


def test_a_symbolic_link_is_written_through(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    port = _port(styxy, repo)
    (repo / "config").mkdir()
    target = repo / "config" / "dev.env"
    target.write_bytes(b"KEEP=1\n")
    os.chmod(target, 0o640)
    os.symlink("config/dev.env", repo / ".env")
    assert run_in(styxy, repo, "env", "--write", ".env").code == 0
    assert os.readlink(repo / ".env") == "config/dev.env"
    assert target.read_bytes() == b"KEEP=1\n" + _block(port)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_link_out_of_the_project_is_written_only_once_its_target_holds_a_block(styxy, tmp_path):
    # A cloned repository can ship .env as a link to a file of the user's: styxy would append
    # its block to ~/.gitconfig.
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    outside = _file_of_mine(tmp_path / "mine" / ".gitconfig", b"[user]\n\tname = me\n")
    os.symlink(outside, repo / ".env")
    assert _refused_write(styxy, repo, ".env", outside) == (
        f"styxy: cannot write .env: it is a symbolic link to {outside}, outside the project "
        f"{repo}, which holds no styxy block; name that file with --write to start one there, "
        "or remove the link.\n"
    )
    # Named on purpose, the file starts a block; the link is written through from then on.
    assert run_in(styxy, repo, "env", "--write", str(outside)).code == 0
    port = _port(styxy, repo)
    assert run_in(styxy, repo, "env", "--write", ".env").code == 0
    assert outside.read_bytes() == b"[user]\n\tname = me\n" + _block(port)


def test_a_linked_folder_out_of_the_project_is_refused_like_a_linked_file(styxy, tmp_path):
    # `--write config/.env` where the repository ships `config` as a link to the home folder:
    # the file itself is no link, so styxy appended its block to the user's own file.
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    outside = _file_of_mine(tmp_path / "mine" / ".env", b"TOKEN=mine\n")
    os.symlink(outside.parent, repo / "config")
    assert _refused_write(styxy, repo, "config/.env", outside) == (
        f"styxy: cannot write config/.env: it leads through a symbolic link to {outside}, "
        f"outside the project {repo}, which holds no styxy block; name that file with --write "
        "to start one there, or remove the link.\n"
    )


def _file_of_mine(path, content: bytes):
    """A file of the user's outside the project."""
    path.parent.mkdir()
    path.write_bytes(content)
    return path


def _refused_write(styxy, repo, name: str, outside) -> str:
    """`env --write NAME` refused: exit 1, nothing on stdout, the outside file as it was and no
    lease made; its stderr."""
    before = outside.read_bytes()
    refused = run_in(styxy, repo, "env", "--write", name)
    assert (refused.code, refused.out) == (1, "")
    assert outside.read_bytes() == before
    assert run_in(styxy, repo, "list", "--json").json()["leases"] == []
    return refused.err


def test_a_variable_also_set_outside_the_block_is_pointed_out(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    (repo / ".env").write_bytes(b"# old habit\nWEB_PORT=3000\n")
    done = run_in(styxy, repo, "env", "--write", ".env")
    assert done.code == 0
    assert done.err.splitlines()[0] == (
        "styxy: .env:2 also sets WEB_PORT outside styxy's block; remove that line."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            b"A=1\n# >>> styxy >>>\nWEB_PORT=1\n",
            ".env:2: '# >>> styxy >>>' has no closing '# <<< styxy <<<' after it; fix the markers by hand",
        ),
        (
            b"A=1\n# <<< styxy <<<\n",
            ".env:2: '# <<< styxy <<<' has no opening '# >>> styxy >>>' before it; fix the markers by hand",
        ),
        (
            b"# >>> styxy >>>\n# <<< styxy <<<\nB=2\n# >>> styxy >>>\n# <<< styxy <<<\n",
            ".env:4: a second styxy block; keep one block between '# >>> styxy >>>' and "
            "'# <<< styxy <<<'; fix the markers by hand",
        ),
        (
            b"# <<< styxy <<<\n# >>> styxy >>>\n",
            ".env:1: '# <<< styxy <<<' has no opening '# >>> styxy >>>' before it; fix the markers by hand",
        ),
    ],
)
def test_broken_markers_are_refused_before_anything_is_leased(styxy, tmp_path, text, message):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    (repo / ".env").write_bytes(text)
    before = tree(repo)
    done = run_in(styxy, repo, "env", "--write", ".env")
    assert (done.code, done.out, done.err) == (1, "", message + "\n")
    assert tree(repo) == before
    assert not styxy.sidecar.exists()


def test_write_into_a_missing_folder_or_onto_a_folder_is_refused(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    (repo / "adir").mkdir()
    done = run_in(styxy, repo, "env", "--write", "nope/.env")
    assert (done.code, done.err) == (
        1,
        f"styxy: cannot write {repo / 'nope/.env'}: there is no folder {repo / 'nope'}.\n",
    )
    onto = run_in(styxy, repo, "env", "--write", "adir")
    assert (onto.code, onto.err) == (
        1,
        f"styxy: the variables file {repo / 'adir'} is a directory, not a regular file; "
        "styxy reads only regular files.\n",
    )
    assert not styxy.sidecar.exists()


def test_release_takes_no_write(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    done = run_in(styxy, repo, "env", "--release", "--write", ".env")
    assert (done.code, done.err) == (
        2,
        "styxy: --release ends the project's leases; it takes no --write, --format or --pid.\n",
    )
