"""gazecam.errors: exceptions as one line, log warnings routed to a callable (progress bars, workers)."""

from __future__ import annotations

import errno
import logging

from gazecam.errors import InputError, SinkError, log_to, one_line


def test_one_line():
    assert one_line(InputError("bad\n  file   x.mp4\n")) == "bad file x.mp4"  # the user message, one line
    assert one_line(SinkError("")) == "SinkError"
    assert one_line(OSError(errno.ENOSPC, "No space left on device")) == "OSError: [Errno 28] No space left on device"
    assert one_line(ValueError("a\nb")) == "ValueError: a b"
    assert one_line(KeyboardInterrupt()) == "KeyboardInterrupt"


def test_log_to_routes_warnings_and_restores_the_logger(caplog):
    log = logging.getLogger("gazecam.something")
    root = logging.getLogger("gazecam")
    propagate, handlers = root.propagate, list(root.handlers)
    got: list[str] = []
    with caplog.at_level(logging.INFO, logger="gazecam"):
        with log_to(lambda r: got.append(f"{r.levelname}: {r.getMessage()}")):
            assert root.propagate is False  # no second copy through the root logger
            log.warning("w %d", 1)
            log.info("not a warning")
            log.error("e")
        assert got == ["WARNING: w 1", "ERROR: e"]
        assert "w 1" not in caplog.text
        with log_to(lambda r: got.append(r.getMessage()), propagate=True):
            log.warning("both")
        assert got[-1] == "both" and "both" in caplog.text
    assert root.propagate == propagate and root.handlers == handlers
