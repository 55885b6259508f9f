"""The `styxy interceptor` group: build, locate and export the preload library.

Plain functions: `styxy.cli.table` declares their options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy import output
from styxy.cli.common import emit, notify


def build(force: bool, bpf: bool) -> None:
    """Compile the preload library with the system C compiler (or, --bpf, the BPF program)."""
    if bpf:
        from styxy.api import bpf as kernel

        output.result(str(kernel.build(force=force)))
        return
    from styxy.api import interceptor

    output.result(str(interceptor.build(force=force)))


def path() -> None:
    """Print the path of the built library."""
    from styxy.api import interceptor

    output.result(str(interceptor.library_path()))


def env(doc: str | None) -> None:
    """Print `export` lines for eval: LD_PRELOAD and STYXY_CACHE."""
    from styxy import api, paths
    from styxy.api import interceptor

    where = paths.resolve(doc)
    # Any command that takes the lock writes the cache, so this creates it when missing.
    api.sync(doc=doc, notify=notify)
    library, fresh = interceptor.ensure_built()
    if fresh:
        output.note(f"built the interceptor at {library}")
    for line in interceptor.env_lines(where.cache):
        output.result(line)


def dump(doc: str | None) -> None:
    """Show the compiled cache in words."""
    from styxy import api

    output.result(api.describe_cache(doc=doc, notify=notify))


def bpf_attach(cgroup: str | None, user: str | None, doc: str | None, json: bool) -> None:
    """Attach the bind programs to a cgroup (root, once); fill their maps."""
    from styxy import api, paths
    from styxy.api import bpf

    where = paths.resolve(doc)
    found = bpf.attach(where, cgroup, user)
    try:
        api.sync(doc=doc, notify=notify)  # the first commit fills the maps
    except BaseException:
        bpf.detach(where)
        raise
    emit(json, found.to_json(), f"attached to {found.cgroup} (maps pinned in {found.pin})")


def bpf_detach(doc: str | None) -> None:
    """Detach the programs; remove their pins and the cgroup attach made."""
    from styxy import paths
    from styxy.api import bpf

    bpf.detach(paths.resolve(doc))


def bpf_status(doc: str | None, json: bool) -> None:
    """What is attached where, and how many binds it watched and moved."""
    from styxy import paths
    from styxy.api import bpf

    found = bpf.status(paths.resolve(doc))
    if found.attachment is None:
        text = "not attached; run: sudo styxy interceptor bpf attach"
    else:
        text = (
            f"attached to {found.attachment.cgroup} (maps in {found.attachment.pin}); "
            f"{found.watched} binds watched, {found.busy} busy, {found.moved} moved, "
            f"{found.kept} kept, {found.pending} moves not folded yet"
        )
    emit(json, found.to_json(), text)


def bpf_exec(doc: str | None, command: list[str]) -> None:
    """Run CMD inside the attached cgroup, so its binds are moved off busy ports."""
    import os

    from styxy import paths
    from styxy.api import bpf
    from styxy.errors import UsageError

    if not command:
        raise UsageError("give the command to run after `--`.")
    bpf.enter(paths.resolve(doc))
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        from styxy.errors import NotFoundError

        raise NotFoundError(f"Cannot run {command[0]}: {exc.strerror}.") from None
