"""Run one function in a forked child process and take its pickled result back.

Building worksheet XML is Python that holds the GIL, so threads cannot share it; on
two cores a forked child renders the largest output sheet while the parent renders the
others (`sync.xlsx.writer`). A fork copies nothing up front (the child sees the
parent's objects copy-on-write), so no input is pickled; only the result comes back,
through a pipe that a thread of the parent drains as the child writes. Where there is
no fork (Windows), `start` returns None and the caller does the work itself.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Forked(Generic[T]):
    """A child process computing one result."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._pieces: list[bytes] = []
        self._drained = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._drained.start()
        self._reaped = False

    def done(self) -> bool:
        """Whether the child has finished writing its result (or died)."""
        return not self._drained.is_alive()

    def result(self) -> T | None:
        """The child's result; None when it failed (the caller computes it instead)."""
        self._drained.join()
        ok = self._reap() == 0
        data, self._pieces = b"".join(self._pieces), []
        return pickle.loads(data) if ok and data else None

    def close(self) -> None:
        """Stop the child if it is still running, and reap it."""
        if not self._reaped:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(self.pid, signal.SIGKILL)
            self._reap()
        self._drained.join()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            while piece := pipe.read(1 << 20):
                self._pieces.append(piece)

    def _reap(self) -> int:
        if self._reaped:
            return -1
        _, status = os.waitpid(self.pid, 0)
        self._reaped = True
        return os.waitstatus_to_exitcode(status)


def start(work: Callable[[], T]) -> Forked[T] | None:
    """`work()` in a forked child; None where processes cannot be forked."""
    if not hasattr(os, "fork"):
        return None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        code = 1
        try:
            os.close(read_end)
            _write_all(write_end, pickle.dumps(work(), pickle.HIGHEST_PROTOCOL))
            code = 0
        finally:
            os._exit(code)  # no atexit, no flushing of the parent's buffers
    os.close(write_end)
    return Forked(pid, read_end)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)
