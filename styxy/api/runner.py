"""`styxy run`: allocate for a child process, hand it the port, release when it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from styxy import api, notes
from styxy.errors import InvalidValueError, NotFoundError, RefusedError, StyxyError, UsageError
from styxy.system import ports

if TYPE_CHECKING:
    from styxy.store.leases import Lease

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run(
    service_type: str,
    command: Sequence[str],
    *,
    instance_id: str | None = None,
    name: str = "",
    intercept: bool = False,
    bpf: bool = False,
    new_type: bool = False,
    doc: str | os.PathLike[str] | None = None,
    notify: Callable[[str], None] = lambda _: None,
) -> int:
    """Run `command` holding a lease; returns the exit code to leave with (the child's)."""
    if not command:
        raise UsageError("give the command to run after `--`.")
    if intercept:
        _build_interceptor(notify)  # before allocating: no lease left behind by a failed build
    if bpf:
        from styxy import paths
        from styxy.api import bpf as kernel

        # This process enters the cgroup before the child exists, so the child starts inside.
        kernel.enter(paths.resolve(doc))
    result = api.allocate(
        service_type,
        instance_id=instance_id,
        name=name,
        pid=os.getpid(),
        source="run",
        new_type=new_type,
        doc=doc,
        notify=notify,
    )
    if result.reason == "single-instance":
        return 0  # the running instance is reused; the message already said where it is
    lease = result.lease
    service_type = lease.serviceType  # the row an alias (`-s db`) names
    # An existing lease of this identity is a running service: allocate takes a dead one over.
    if result.existing:
        return _already_running(service_type, lease, doc, notify)
    started = time.time()

    def started_child(pid: int) -> None:
        # Said once the command runs (a command that cannot start says only that).
        notify(notes.running_on(command[0], lease.port, lease.serviceType))
        _hand_over(lease.lockId, pid, doc)

    # The relay stays in place until the lease is settled: a SIGTERM or SIGHUP that comes after
    # the child ended (`timeout` and a closed terminal signal the whole group, twice) must not
    # kill styxy by default and leave the lease behind.
    with relaying() as relay:
        try:
            command = _with_port_arguments(command, lease.port, doc, notify)
            env = _child_env(lease.port, lease.lockId, service_type, intercept, doc)
            code = supervise(command, env, on_start=started_child, relay=relay)
            # A signal while waiting for a leftover server means stop waiting: the lease ends.
            keeper = _listening_survivor(lease.lockId, lease.port, started, relay.stopped)
        except BaseException:
            _release(lease.lockId, doc)
            raise
        if keeper is not None:
            _keep_for(lease, keeper, doc, notify)
        else:
            _release(lease.lockId, doc)
    return code


def _with_port_arguments(
    command: Sequence[str],
    port: int,
    doc: str | os.PathLike[str] | None,
    notify: Callable[[str], None],
) -> Sequence[str]:
    """The command with the port arguments `runFlags` gives it (SPEC 22), said on stderr."""
    from styxy.api import runflags

    found = runflags.choose(command, runflags.table(doc=doc), port)
    if found is None:
        return command
    notify(found.note)
    return [*command, *found.arguments]


def _build_interceptor(notify: Callable[[str], None]) -> None:
    from styxy.api import interceptor

    library, fresh = interceptor.ensure_built()
    if fresh:
        notify(notes.built_interceptor(library))


def _already_running(
    service_type: str,
    lease: Lease,
    doc: str | os.PathLike[str] | None,
    notify: Callable[[str], None],
) -> int:
    """Exit 0 for a running single-instance service (start nothing); refuse any other."""
    if _single_instance(service_type, doc):
        # SPEC 5: a running single-instance service is reused, also when it runs under
        # this very identity (two agent sessions starting `-i rag`): say where, start nothing.
        from styxy.engine.allocation import reuse_message

        notify(reuse_message(lease))
        return 0
    raise RefusedError(
        f"'{service_type}' instance '{lease.instanceId}' is already running on port "
        f"{lease.port} (process {lease.pid}); pick another --instance-id or --name."
    )


def _keep_for(
    lease: Lease, keeper: _Keeper, doc: str | os.PathLike[str] | None, notify: Callable[[str], None]
) -> None:
    """A server that daemonized itself: the lease stays, held by the process that serves it."""
    try:
        api.set_holder(lease.lockId, keeper.pid, doc=doc)
    except StyxyError:
        _release(lease.lockId, doc)  # the server went away meanwhile, or the lease ended
        return
    notify(
        f"the command exited, but process {keeper.pid} ({keeper.process or '?'}) still listens "
        f"on port {lease.port}: the lease stays, held by it; `styxy release {lease.lockId}` "
        "ends it."
    )


def _release(lock_id: str, doc: str | os.PathLike[str] | None) -> None:
    try:
        api.release(lock_id, doc=doc)
    except NotFoundError:
        pass  # already ended by `styxy release` or cleanup while the child ran


@dataclass(frozen=True)
class _Keeper:
    """The process left listening on the leased port after the command exited."""

    pid: int
    process: str | None


# How long styxy waits, after the child exited, for a process it left behind to listen on the
# port (`sh -c 'server & exit 0'` exits before the server has bound). Only paid while such a
# process exists and does not listen yet.
SURVIVOR_WAIT_SECONDS = 5.0


def _listening_survivor(
    lock_id: str, port: int, started: float, stopped: Callable[[], bool]
) -> _Keeper | None:
    """A process the child started that still listens on the leased port, if there is one.

    The child's descendants inherit STYXY_LOCK_ID: a process still carrying this lease's id is
    one the command left behind. A listener on the port that carries it, or that started after
    the command did (a daemon that cleaned its environment), is taken to be the command's.
    """
    deadline = time.monotonic() + SURVIVOR_WAIT_SECONDS
    while True:
        survivors = _survivors(lock_id)
        # The cheap probe first: the owners of a port (psutil's socket table) only when needed.
        if ports.is_listening(port):
            for listener in ports.listeners_on(port):
                if listener.pid is not None and (
                    listener.pid in survivors or _started_since(listener.pid, started)
                ):
                    return _Keeper(listener.pid, listener.process)
        if not survivors or time.monotonic() > deadline or stopped():
            return None
        time.sleep(0.05)


def _survivors(lock_id: str) -> set[int]:
    """Live processes whose environment carries this lease's STYXY_LOCK_ID."""
    import psutil

    found = set()
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("STYXY_LOCK_ID") == lock_id:
                found.add(proc.pid)
        except psutil.Error:
            continue  # gone, or another user's
    return found


def _started_since(pid: int, started: float) -> bool:
    begun = ports.process_start_time(pid)
    return begun is not None and begun >= started - ports.START_TIME_TOLERANCE


def _single_instance(service_type: str, doc: str | os.PathLike[str] | None) -> bool:
    return any(
        row.service_type == service_type and row.instances == "single"
        for row in api.ranges(doc=doc).ranges
    )


def _child_env(
    port: int, lock_id: str, service_type: str, intercept: bool, doc: str | os.PathLike[str] | None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PORT=str(port), STYXY_PORT=str(port), STYXY_LOCK_ID=lock_id)
    if intercept:
        from styxy import paths
        from styxy.api import interceptor

        env.update(interceptor.env_vars(paths.resolve(doc).cache))
        env["STYXY_SERVICE_TYPE"] = service_type
    return env


def supervise(
    command: Sequence[str],
    env: dict[str, str],
    *,
    on_start: Callable[[int], None] = lambda _: None,
    relay: _Relay | None = None,
) -> int:
    """Run `command` with `env`, forwarding signals; returns the exit code to leave with.

    `on_start` gets the child's pid once it runs (`styxy run` hands its lease over to it).
    `relay`, from `relaying()`, when the caller keeps the handlers past the child's end.
    """
    if relay is None:
        with relaying() as own:
            return supervise(command, env, on_start=on_start, relay=own)
    try:
        child = subprocess.Popen(list(command), env=env)
    except FileNotFoundError:
        raise InvalidValueError(f"command not found: {command[0]!r}.") from None
    except PermissionError:
        raise InvalidValueError(f"command not executable: {command[0]!r}.") from None
    try:
        relay.attach(child)
        on_start(child.pid)
        code = child.wait()
    except BaseException:
        _stop(child)  # whatever went wrong in styxy, the child does not outlive it
        raise
    # A child killed by a signal leaves like a shell reports it: 128 + the signal number.
    return 128 - code if code < 0 else code


@contextmanager
def relaying() -> Iterator[_Relay]:
    """SIGINT, SIGTERM and SIGHUP go to the child while this holds, never to styxy's defaults."""
    # The handlers go in before the child starts: a Ctrl-C in between must reach the child
    # rather than kill styxy and leave the child running.
    relay = _Relay()
    previous = {sig: signal.signal(sig, relay.on_signal) for sig in FORWARDED}
    try:
        yield relay
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _hand_over(lock_id: str, pid: int, doc: str | os.PathLike[str] | None) -> None:
    try:
        api.set_holder(lock_id, pid, doc=doc)
    except StyxyError:
        # The child is already gone, or the lease could not be handed over: styxy itself stays
        # the holder while it waits, which keeps the lease just as alive.
        pass


def _terminate_descendants(pid: int) -> None:
    """SIGTERM to every process the child started, before the child itself.

    A SIGTERM comes to `styxy run` alone (`kill`, systemd, a supervisor, an IDE's stop button),
    and a launcher in between (`npx`, `sh -c`, `npm run`) often ends without passing it on: its
    server (Vite under npx) was left running, holding the port. Ctrl-C needs none of this: the
    terminal sends SIGINT to the whole foreground job, and a second one would mean "force".
    Only processes that are the child's descendants now are signalled: a daemon that has
    already detached (reparented to init) is none of them.
    """
    import psutil

    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return
    for process in descendants:
        try:
            process.send_signal(signal.SIGTERM)  # psutil checks the pid was not reused
        except psutil.Error:
            pass  # gone meanwhile, or not ours to signal


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


class _Relay:
    """Forwards signals to the child, holding those that arrive before it exists."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []
        self.late = False

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.child is None:
            self.pending.append(signum)
        elif self.child.poll() is None:
            if signum == signal.SIGTERM:
                _terminate_descendants(self.child.pid)
            self.child.send_signal(signum)
        else:
            self.late = True  # the child is gone: styxy finishes its release, then leaves

    def stopped(self) -> bool:
        """Whether a signal came after the child ended."""
        return self.late

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        for signum in self.pending:
            child.send_signal(signum)
