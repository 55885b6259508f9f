"""The `styxy interceptor` group: build, locate and export the preload library."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.


import typer

from styxy import notes, output
from styxy.cli.common import (
    DocOption,
    JsonOption,
    doc_of,
    emit,
    notify,
    wants_json,
)

interceptor_app = typer.Typer(no_args_is_help=True, help="The bind() interceptor (LD_PRELOAD).")


@interceptor_app.command("build")
def interceptor_build(
    force: bool = typer.Option(False, "--force", help="Rebuild even if present."),
    bpf: bool = typer.Option(False, "--bpf", help="Build the kernel bind program instead."),
    doc: str | None = DocOption,  # accepted as everywhere; the library is the user's, not the document's
    json: bool = JsonOption,
) -> None:
    """Compile the preload library with the system C compiler (or, --bpf, the BPF program)."""
    if bpf:
        from styxy.api import bpf as kernel

        built = kernel.build(force=force)
    else:
        from styxy.api import interceptor

        built = interceptor.build(force=force)
    emit(json, {"path": str(built)}, str(built))


@interceptor_app.command("path")
def interceptor_path(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Print the path of the built library."""
    from styxy.api import interceptor

    found = interceptor.library_path()
    emit(json, {"path": str(found)}, str(found))


@interceptor_app.command("env")
def interceptor_env(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Print `export` lines for eval: LD_PRELOAD and STYXY_CACHE."""
    from styxy import api, paths
    from styxy.api import interceptor

    where = paths.resolve(doc_of(doc))
    # Any command that takes the lock writes the cache, so this creates it when missing.
    api.sync(doc=doc_of(doc), notify=notify)
    library, fresh = interceptor.ensure_built()
    if fresh:
        output.note(notes.built_interceptor(library))
    if wants_json(json):
        output.as_json({"variables": interceptor.env_vars(where.cache)})
        return
    for line in interceptor.env_lines(where.cache):
        output.result(line)


@interceptor_app.command("dump")
def interceptor_dump(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Show the compiled cache in words."""
    from styxy import api

    described = api.describe_cache(doc=doc_of(doc), notify=notify)
    emit(json, {"description": described}, described)


bpf_app = typer.Typer(
    no_args_is_help=True, help="The kernel bind program (cgroup BPF) for Go and static binaries."
)
interceptor_app.add_typer(bpf_app, name="bpf")


@bpf_app.command("attach")
def bpf_attach(
    cgroup: str | None = typer.Option(None, "--cgroup", help="cgroup v2 folder (default <cgroup2>/styxy)."),
    user: str | None = typer.Option(None, "--user", help="Who may update the maps (default: the sudo user)."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Attach the bind programs to a cgroup (root, once); fill their maps."""
    from styxy.api import bpf

    found = bpf.attach(bpf.document(doc_of(doc), user), cgroup, user, notify)
    emit(json, found.to_json(), f"attached to {found.cgroup} (maps pinned in {found.pin})")


@bpf_app.command("detach")
def bpf_detach(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Detach the programs; remove their pins and the cgroup attach made."""
    from styxy.api import bpf

    bpf.detach(bpf.document(doc_of(doc)))
    if wants_json(json):
        output.as_json({"detached": True})


@bpf_app.command("status")
def bpf_status(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """What is attached where, how many binds it watched and moved, its last events."""
    from styxy.api import bpf
    from styxy.cli.render import bpf_lines

    found = bpf.status(bpf.document(doc_of(doc))).to_json()
    emit(json, found, "\n".join(bpf_lines(found)))


@bpf_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def bpf_exec(
    doc: str | None = DocOption,
    # Only styxy's before `--` (errors as JSON); stdout is the command's.
    json: bool = JsonOption,
    command: list[str] = typer.Argument(None, metavar="-- CMD [ARGS]..."),
) -> None:
    """Run CMD inside the attached cgroup, so its binds are moved off busy ports."""
    import os

    from styxy.api import bpf
    from styxy.errors import UsageError

    if not command:
        raise UsageError("give the command to run after `--`.")
    bpf.enter(bpf.document(doc_of(doc)))
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        from styxy.errors import NotFoundError

        raise NotFoundError(f"Cannot run {command[0]}: {exc.strerror}.") from None
