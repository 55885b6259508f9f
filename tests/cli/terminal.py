"""A real `styxy` process on a pseudo-terminal, for the commands that ask a question."""

from __future__ import annotations

import os
import pty
import select
import time

from support import Styxy, styxy_command

PROMPT = b"Proceed? [y/N/customize]"


class Terminal:
    """A real `styxy` process on a pseudo-terminal, so confirmation mode asks its question."""

    def __init__(self, styxy: Styxy, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become styxy
            os.environ.clear()
            os.environ.update(styxy.env)
            argv = [*styxy_command(), "--doc", str(styxy.doc), *args]
            os.execv(argv[0], argv)
        self.screen = b""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:
            return False
        self.screen += chunk
        return bool(chunk)

    def wait_for_prompt(self, count: int) -> None:
        deadline = time.monotonic() + 120
        while self.screen.count(PROMPT) < count:
            assert time.monotonic() < deadline, self.screen
            assert self._read(1.0), self.screen

    def answer(self, text: str) -> None:
        os.write(self.fd, text.encode() + b"\n")

    def finish(self) -> tuple[int, str]:
        while self._read(120):
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status), self.screen.decode(errors="replace")
