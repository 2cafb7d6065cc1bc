"""Errors and warnings that gazecam reports to users as one clear line (no traceback).

* :func:`one_line`: any exception as one line (the CLI, batch workers, the GUI, detector notes);
* :func:`log_to`: while inside, gazecam's log warnings go to a callable (a line above a progress bar, a
  worker's list of warnings) instead of the root logger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["GazecamError", "InputError", "SinkError", "one_line", "log_to"]


class GazecamError(RuntimeError):
    """Base class: the message is written for the user and printed as-is by the CLI."""


class InputError(GazecamError):
    """Bad user input: missing or unreadable file, unsupported format, bad option value."""


class SinkError(GazecamError):
    """An output could not be created or written (re-exported by :mod:`gazecam.sinks`)."""


def one_line(exc: BaseException) -> str:
    """An exception as one line: a GazecamError's user message, else ``Type: message`` (the type alone if empty)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, GazecamError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Forward(logging.Handler):
    def __init__(self, write: Callable[[logging.LogRecord], None]) -> None:
        super().__init__(level=logging.WARNING)
        self._write = write

    def emit(self, record: logging.LogRecord) -> None:
        self._write(record)


@contextmanager
def log_to(write: Callable[[logging.LogRecord], None], *, propagate: bool = False) -> Iterator[None]:
    """While inside, every ``gazecam`` log record of level WARNING and above goes to ``write``.

    E.g. ``with log_to(lambda r: tqdm.write(r.getMessage())):`` prints warnings above a progress bar
    without breaking it.  ``propagate=False``: not also to the root logger (no second, unformatted copy).
    """
    logger = logging.getLogger("gazecam")
    handler = _Forward(write)
    logger.addHandler(handler)
    before = logger.propagate
    logger.propagate = before and propagate
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = before
