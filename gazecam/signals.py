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

Handlers are installed explicitly, whatever the inherited disposition: a process started with SIGINT
ignored (``nohup``, ``cmd &`` in a non-interactive shell, some CI runners and service managers) still
stops cleanly on SIGINT.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

__all__ = ["StopEvent", "Interrupted", "stop_on_signals", "handling_signals", "interrupt_on_sigint", "signal_name"]

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
def handling_signals(handler: Callable[[int, object], None], signals: Sequence[int] = STOP_SIGNALS
                     ) -> Iterator[bool]:
    """``handler`` handles ``signals`` while the block runs, then the previous handlers are back.

    Installed explicitly, also over an inherited ``SIG_IGN``.  Yields False (nothing installed) outside
    the main thread, where Python cannot install signal handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {}
    try:
        for signum in signals:
            previous[signum] = signal.signal(signum, handler)
        yield True
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


@contextmanager
def stop_on_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[StopEvent]:
    """A :class:`StopEvent` that ``signals`` (default SIGINT and SIGTERM) set while the block runs."""
    stop = StopEvent()
    with handling_signals(stop.handle, signals):
        yield stop


@contextmanager
def interrupt_on_sigint() -> Iterator[bool]:
    """Ctrl-C raises ``KeyboardInterrupt`` while the block runs, also when SIGINT was ignored at start.

    For the parts of a command outside :func:`stop_on_signals` (argument checks, model loading): Python
    installs its ``KeyboardInterrupt`` handler only when SIGINT was not ignored by the parent.
    """
    with handling_signals(signal.default_int_handler, (signal.SIGINT,)) as installed:
        yield installed
