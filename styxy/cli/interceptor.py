"""The `styxy interceptor` group: build, locate and export the preload library.

Plain functions: `styxy.cli.table` declares their options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy import output
from styxy.cli.common import emit, notify


def build(force: bool, bpf: bool, doc: str | None, json: bool) -> None:
    """Compile the preload library with the system C compiler (or, --bpf, the BPF program).

    `doc` is accepted as on every command; the library is the user's, not the document's.
    """
    if bpf:
        from styxy.api import bpf as kernel

        built = kernel.build(force=force)
    else:
        from styxy.api import interceptor

        built = interceptor.build(force=force)
    emit(json, {"path": str(built)}, str(built))


def path(doc: str | None, json: bool) -> None:
    """Print the path of the built library."""
    from styxy.api import interceptor

    found = interceptor.library_path()
    emit(json, {"path": str(found)}, str(found))


def env(doc: str | None, json: bool) -> None:
    """Print `export` lines for eval: LD_PRELOAD and STYXY_CACHE."""
    from styxy import api, notes, paths
    from styxy.api import interceptor

    where = paths.resolve(doc)
    # Any command that takes the lock writes the cache, so this creates it when missing.
    api.sync(doc=doc, notify=notify)
    library, fresh = interceptor.ensure_built()
    if fresh:
        output.note(notes.built_interceptor(library))
    if json:
        output.as_json({"variables": interceptor.env_vars(where.cache)})
        return
    for line in interceptor.env_lines(where.cache):
        output.result(line)


def dump(doc: str | None, json: bool) -> None:
    """Show the compiled cache in words."""
    from styxy import api

    described = api.describe_cache(doc=doc, notify=notify)
    emit(json, {"description": described}, described)


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


def bpf_detach(doc: str | None, json: bool) -> None:
    """Detach the programs; remove their pins and the cgroup attach made."""
    from styxy import paths
    from styxy.api import bpf

    bpf.detach(paths.resolve(doc))
    if json:
        output.as_json({"detached": True})


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


def bpf_exec(doc: str | None, json: bool, command: list[str]) -> None:
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
