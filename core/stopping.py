"""Ending signals unwind like Ctrl-C: SIGTERM (`kill`, a service manager, a logout) and SIGHUP
(a closed terminal) become an exception, so every clean-up on the way runs (a half-written
output's temporary file, a download's staging file, an install's undo, worker processes) instead
of the process vanishing mid-step.

One mechanism for the CLI and for library calls (fetch, install) made by programs that do not
handle these signals themselves; a program that installed its own handler keeps it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Iterator

END_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(SystemExit):
    """An ending signal arrived. A SystemExit with the shell's code for it (128 + the signal), so a
    program that does not catch it ends quietly with that code, as if the signal had ended it."""

    def __init__(self, number: int) -> None:
        super().__init__(128 + number)
        self.number = number

    @property
    def name(self) -> str:
        return signal.Signals(self.number).name


@contextlib.contextmanager
def unwinding() -> Iterator[None]:
    """While it lasts, an ending signal raises Terminated in the main thread (the only one Python
    runs handlers in; elsewhere this does nothing). Only signals nobody handles yet are taken.
    After the first, further ones are ignored until the block is left: they must not cut the
    clean-up short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _raise) for number in END_SIGNALS
                if signal.getsignal(number) == signal.SIG_DFL}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _raise(number: int, frame: FrameType | None) -> None:
    for each in END_SIGNALS:
        if signal.getsignal(each) is _raise:
            signal.signal(each, signal.SIG_IGN)
    raise Terminated(number)


def interruption(err: BaseException) -> BaseException | None:
    """The Ctrl-C or ending signal hidden inside ``err``, if any. A signal that lands while a C
    extension module sets itself up (onnxruntime, loaded at a run's first model call) comes back
    as ``ImportError: initialization failed`` caused by the KeyboardInterrupt or Terminated: it is
    still the user stopping the program, not a failure of the file being worked on."""
    seen: set[int] = set()
    link: BaseException | None = err
    while link is not None and id(link) not in seen:
        if not isinstance(link, Exception):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None
