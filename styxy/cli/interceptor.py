"""The `styxy interceptor` group: build, locate and export the preload library.

Plain functions: `styxy.cli.table` declares their options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy import output
from styxy.cli.common import notify


def build(force: bool) -> None:
    """Compile the preload library with the system C compiler."""
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
