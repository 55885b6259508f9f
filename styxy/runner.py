"""`styxy run`: allocate for a child process, hand it the port, release when it ends."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Sequence

from styxy import api, ports
from styxy.errors import InvalidValueError, NotFoundError, RefusedError, StyxyError, UsageError

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run(
    service_type: str,
    command: Sequence[str],
    *,
    instance_id: str | None = None,
    name: str = "",
    intercept: bool = False,
    doc: str | os.PathLike[str] | None = None,
    notify: Callable[[str], None] = lambda _: None,
) -> int:
    """Run `command` holding a lease; returns the exit code to leave with (the child's)."""
    if not command:
        raise UsageError("give the command to run after `--`.")
    if intercept:
        # Before allocating: a missing compiler must not leave a lease behind.
        from styxy import interceptor

        library, fresh = interceptor.ensure_built()
        if fresh:
            notify(f"built the interceptor at {library}")
    result = api.allocate(
        service_type,
        instance_id=instance_id,
        name=name,
        pid=os.getpid(),
        source="run",
        doc=doc,
        notify=notify,
    )
    if result.reason == "single-instance":
        return 0  # the running instance is reused; the message already said where it is
    lease = result.lease
    if result.existing and _holder_running(lease.pid, lease.pidStartTime, lease.port):
        raise RefusedError(
            f"'{service_type}' instance '{lease.instanceId}' is already running on port "
            f"{lease.port} (process {lease.pid}); pick another --instance-id or --name."
        )
    env = _child_env(lease.port, lease.lockId, service_type, intercept, doc)
    try:
        return _supervise(command, env, lease.lockId, doc)
    finally:
        try:
            api.release(lease.lockId, doc=doc)
        except NotFoundError:
            pass  # already ended by `styxy release` or cleanup while the child ran


def _holder_running(pid: int, start: float | None, port: int) -> bool:
    return pid != os.getpid() and (ports.process_alive(pid, start) or ports.is_listening(port))


def _child_env(
    port: int, lock_id: str, service_type: str, intercept: bool, doc: str | os.PathLike[str] | None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PORT=str(port), STYXY_PORT=str(port), STYXY_LOCK_ID=lock_id)
    if intercept:
        from styxy import interceptor, paths

        env.update(interceptor.env_vars(paths.resolve(doc).cache))
        env["STYXY_SERVICE_TYPE"] = service_type
    return env


def _supervise(
    command: Sequence[str], env: dict[str, str], lock_id: str, doc: str | os.PathLike[str] | None
) -> int:
    # The handlers go in before the child starts: a Ctrl-C in between must reach the child
    # rather than kill styxy and leave the child running.
    relay = _Relay()
    previous = {sig: signal.signal(sig, relay.on_signal) for sig in FORWARDED}
    try:
        try:
            child = subprocess.Popen(list(command), env=env)
        except FileNotFoundError:
            raise InvalidValueError(f"command not found: {command[0]!r}.") from None
        except PermissionError:
            raise InvalidValueError(f"command not executable: {command[0]!r}.") from None
        try:
            relay.attach(child)
            _hand_over(lock_id, child.pid, doc)
            code = child.wait()
        except BaseException:
            _stop(child)  # whatever went wrong in styxy, the child does not outlive it
            raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # A child killed by a signal leaves like a shell reports it: 128 + the signal number.
    return 128 - code if code < 0 else code


def _hand_over(lock_id: str, pid: int, doc: str | os.PathLike[str] | None) -> None:
    try:
        api.set_holder(lock_id, pid, doc=doc)
    except StyxyError:
        # The child is already gone, or the lease could not be handed over: styxy itself stays
        # the holder while it waits, which keeps the lease just as alive.
        pass


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

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.child is None:
            self.pending.append(signum)
        elif self.child.poll() is None:
            self.child.send_signal(signum)

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        for signum in self.pending:
            child.send_signal(signum)
