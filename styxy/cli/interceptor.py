"""The `styxy interceptor` group: build, locate and export the preload library."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.


import typer

from styxy import output
from styxy.cli.common import (
    DocOption,
    doc_of,
    notify,
)

interceptor_app = typer.Typer(no_args_is_help=True, help="The bind() interceptor (LD_PRELOAD).")


@interceptor_app.command("build")
def interceptor_build(
    force: bool = typer.Option(False, "--force", help="Rebuild even if present."),
) -> None:
    """Compile the preload library with the system C compiler."""
    from styxy.api import interceptor

    output.result(str(interceptor.build(force=force)))


@interceptor_app.command("path")
def interceptor_path() -> None:
    """Print the path of the built library."""
    from styxy.api import interceptor

    output.result(str(interceptor.library_path()))


@interceptor_app.command("env")
def interceptor_env(doc: str | None = DocOption) -> None:
    """Print `export` lines for eval: LD_PRELOAD and STYXY_CACHE."""
    from styxy import api, paths
    from styxy.api import interceptor

    where = paths.resolve(doc_of(doc))
    # Any command that takes the lock writes the cache, so this creates it when missing.
    api.sync(doc=doc_of(doc), notify=notify)
    library, fresh = interceptor.ensure_built()
    if fresh:
        output.note(f"built the interceptor at {library}")
    for line in interceptor.env_lines(where.cache):
        output.result(line)


@interceptor_app.command("dump")
def interceptor_dump(doc: str | None = DocOption) -> None:
    """Show the compiled cache in words."""
    from styxy import api

    output.result(api.describe_cache(doc=doc_of(doc), notify=notify))
