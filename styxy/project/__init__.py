"""Projects and worktrees (SPEC section 14): one stable port per declared service.

`styxy.toml` names the services; each gets a lease with identity (type, project id, service
name), so every worktree has its own set and the same worktree gets the same ports again.
The command line calls `env`, `release` and `run`; each returns a record or an exit code and
neither prints nor exits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from styxy.api import files as fsio
from styxy.errors import NotFoundError, UsageError
from styxy.project.config import ProjectConfig, Service, parse
from styxy.project.files import CONFIG_FILE, shown
from styxy.project.root import ProjectRoot, locate, release_target
from styxy.records import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any, Literal

    from styxy.api.projects import Pruned
    from styxy.api.records import Allocation, Confirm, Lease

Notify = Callable[[str], None]
if TYPE_CHECKING:
    WriteOutcome = Literal["written", "unchanged"]
else:
    WriteOutcome = str
HOST = "localhost"


def _quiet(_: str) -> None:
    pass


@record
class ServicePort:
    service: Service
    allocation: Allocation
    # The service's name behind `styxy proxy` (http://web.PROJECT.localhost:1355/): the
    # lease's, which for a shared single instance is its owner's; None when the name has
    # nothing a host name can hold.
    public_url: str | None = None

    @property
    def port(self) -> int:
        return self.allocation.lease.port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        lease = self.allocation.lease
        return {
            "name": self.service.name,
            "type": self.allocation.lease.serviceType,
            "requestedType": self.allocation.requested_type,
            "port": self.port,
            "env": self.service.port_variable,
            "urlEnv": self.service.url_variable,
            "url": self.url,
            "publicUrlEnv": self.service.public_variable if self.public_url else None,
            "publicUrl": self.public_url,
            "lockId": lease.lockId,
            "pid": lease.pid,
            "existing": self.allocation.existing,
            "reason": self.allocation.reason,
            "autoAllocated": self.allocation.auto_allocated,
        }


@record
class ProjectEnv:
    """What `styxy env` found or allocated, and what it did with `--write`."""

    root: Path
    project_id: str
    services: tuple[ServicePort, ...]
    written: Path | None = None  # the file `--write` named (through a link: the link)
    write_outcome: WriteOutcome | None = None

    @property
    def variables(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for item in self.services:
            found[item.service.port_variable] = str(item.port)
            found[item.service.url_variable] = item.url
            if item.public_url is not None:
                found[item.service.public_variable] = item.public_url
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project_id,
            "root": str(self.root),
            "services": [item.to_json() for item in self.services],
            "variables": self.variables,
            "written": str(self.written) if self.written else None,
            "writeOutcome": self.write_outcome,
        }


@record
class ProjectRelease:
    root: Path
    project_id: str
    released: tuple[Lease, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project_id,
            "root": str(self.root),
            "released": [lease.to_json() for lease in self.released],
        }


def load(project: str | os.PathLike[str] | None) -> tuple[ProjectRoot, ProjectConfig]:
    """The project's root and its checked `styxy.toml`; a bad file raises `PATH:LINE:` errors."""
    from styxy.project import memo

    where = locate(project)
    data = fsio.read_optional(where.config, CONFIG_FILE)
    if data is None:
        raise NotFoundError(f"{where.config} disappeared while styxy was reading it.")
    real = os.path.realpath(where.root)
    config = memo.config(real, data, shown(where.config))
    if config is None:
        config = parse(data, shown(where.config))
        memo.remember(real, where.project_id, data, config)
    return where, config


def env(
    project: str | os.PathLike[str] | None = None,
    *,
    write: str | os.PathLike[str] | None = None,
    pid: int | None = None,
    yes: bool = False,
    confirm: Confirm | None = None,
    source: str = "cli",
    new_type: bool = False,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> ProjectEnv:
    """Allocate or find every service's port; with `write`, put them in styxy's block there.

    Holder: `pid`, else the parent of this process (the shell), as `styxy allocate` does.
    A relative `write` path is taken from the project's root: the `.env` is the project's.
    """
    from styxy import api
    from styxy.api import urls
    from styxy.project import envfile

    where, config = load(project)
    target = None if write is None else where.root / write
    if target is not None:
        envfile.read(target, where.root)  # a file styxy cannot edit is refused before anything is leased
    results = api.allocate_all(
        [(s.service_type, where.project_id, s.name) for s in config.services],
        ports=[s.port for s in config.services],
        pid=pid,
        yes=yes,
        confirm=confirm,
        source=source,
        new_type=new_type,
        project=(where.project_id, str(where.root)),
        doc=doc,
        notify=notify,
    )
    proxy = urls.proxy_now(doc=doc)
    found = tuple(
        ServicePort(s, r, urls.url_of(r.lease, proxy))
        for s, r in zip(config.services, results, strict=True)
    )
    _tell_outcomes(found, notify)
    done = ProjectEnv(where.root, where.project_id, found)
    return done if target is None else _write(done, target, notify)


def _write(done: ProjectEnv, target: Path, notify: Notify) -> ProjectEnv:
    from styxy.project import envfile
    from styxy.records import replace

    # Read again: the leases are written now, and the file may have changed meanwhile.
    current = envfile.read(target, done.root)
    for line, name in envfile.shadowed(current, done.variables):
        notify(f"{shown(target)}:{line} also sets {name} outside styxy's block; remove that line.")
    changed = envfile.write(current, envfile.spliced(current, done.variables))
    return replace(done, written=target, write_outcome="written" if changed else "unchanged")


def _tell_outcomes(found: Sequence[ServicePort], notify: Notify) -> None:
    for item in found:
        result = item.allocation
        if result.reason == "single-instance":
            notify(
                f"{item.service.name}: service type '{item.service.service_type}' allows a "
                f"single instance; sharing the one running on port {item.port} "
                f"(process {result.lease.pid})."
            )
        elif result.message:
            notify(result.message)
        for note in result.notes:
            notify(note)
        if result.port_note and not result.existing:
            # Said when the port is handed out, not on every later `styxy env` of the project.
            notify(f"{item.service.name}: {result.port_note}")


def release(
    project: str | os.PathLike[str] | None = None,
    *,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> ProjectRelease:
    """End every lease of the project; DIR may be a worktree that was already removed."""
    from styxy.api import projects

    where = release_target(project)
    ended = projects.release(where.project_id, doc=doc, notify=notify)
    return ProjectRelease(where.root, where.project_id, tuple(ended))


def prune(
    *, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> list[Pruned]:
    """End the leases and forget the ids of every project whose folder no longer exists."""
    from styxy.api import projects

    return projects.prune(doc=doc, notify=notify)


def run(
    project: str | os.PathLike[str] | None,
    command: Sequence[str],
    *,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> int:
    """Run `command` with the project's variables; returns the exit code to leave with.

    The leases this call creates are held by this process while the child runs, then ended,
    except those whose port something still listens on (a server the child left running).
    Leases that existed before (`styxy env` in the shell, a shared single instance) are the
    caller's or another's, and stay.
    """
    from styxy import api
    from styxy.api import runner

    if not command:
        raise UsageError("give the command to run after `--`.")
    found = env(project, pid=os.getpid(), source="run", doc=doc, notify=notify)
    created = [item.allocation.lease for item in found.services if not item.allocation.existing]
    child_env = {**os.environ, **found.variables, "STYXY_INSTANCE_ID": found.project_id}
    try:
        return runner.supervise(command, child_env)
    finally:
        for lease in created:
            if api.is_listening(lease.port):
                continue
            try:
                api.release(lease.lockId, doc=doc)
            except NotFoundError:
                pass  # ended meanwhile by `styxy release` or `styxy env --release`
