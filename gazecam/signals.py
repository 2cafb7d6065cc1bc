"""Stopping a run cleanly on Ctrl-C and on SIGTERM (what ``timeout``, ``docker stop`` and systemd send).

::

    with stop_on_signals() as stop:
        report = process_source(src, model=model, options=options, video_path=out, stop=stop)
    if stop.signum is not None:
        sys.exit(stop.exit_code)  # 130 after SIGINT, 143 after SIGTERM

The first signal sets the event (the loop finishes the current frame, outputs are finalised: a playable
clip, complete records); a second one raises :class:`Interrupted` (a ``KeyboardInterrupt``, so ``with``
blocks still close the outputs).  Outside the main thread signals cannot be caught: the event is then
only set by the caller.  The previous handlers are restored on exit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["StopEvent", "Interrupted", "stop_on_signals", "signal_name"]

#: Signals a run stops on by default.
STOP_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Interrupted(KeyboardInterrupt):
    """A second stop signal: stop now (raised from the signal handler)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal_name(signum)}")
        self.signum = signum


class StopEvent(threading.Event):
    """A ``threading.Event`` set by a stop signal; :attr:`signum` says which one (None: set otherwise)."""

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None

    @property
    def exit_code(self) -> int:
        """The shell convention for a run ended by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + (self.signum if self.signum is not None else signal.SIGINT)

    def handle(self, signum: int, frame: object = None) -> None:
        """The signal handler: the first signal sets the event, a second one raises :class:`Interrupted`."""
        if self.is_set():
            raise Interrupted(signum)
        self.signum = signum
        self.set()


@contextmanager
def stop_on_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[StopEvent]:
    """A :class:`StopEvent` that ``signals`` (default SIGINT and SIGTERM) set while the block runs."""
    stop = StopEvent()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {}
    try:
        for signum in signals:
            previous[signum] = signal.signal(signum, stop.handle)
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
