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
    from styxy.api import bpf

    found = bpf.attach(bpf.document(doc, user), cgroup, user, notify)
    emit(json, found.to_json(), f"attached to {found.cgroup} (maps pinned in {found.pin})")


def bpf_detach(doc: str | None, json: bool) -> None:
    """Detach the programs; remove their pins and the cgroup attach made."""
    from styxy.api import bpf

    bpf.detach(bpf.document(doc))
    if json:
        output.as_json({"detached": True})


def bpf_status(doc: str | None, json: bool) -> None:
    """What is attached where, how many binds it watched and moved, its last events."""
    from styxy.api import bpf
    from styxy.cli.render import bpf_lines

    found = bpf.status(bpf.document(doc)).to_json()
    emit(json, found, "\n".join(bpf_lines(found)))


def bpf_exec(doc: str | None, json: bool, command: list[str]) -> None:
    """Run CMD inside the attached cgroup, so its binds are moved off busy ports."""
    import os

    from styxy.api import bpf
    from styxy.errors import UsageError

    if not command:
        raise UsageError("give the command to run after `--`.")
    bpf.enter(bpf.document(doc))
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        from styxy.errors import NotFoundError

        raise NotFoundError(f"Cannot run {command[0]}: {exc.strerror}.") from None
