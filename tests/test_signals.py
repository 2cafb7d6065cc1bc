"""gazecam.signals: SIGINT and SIGTERM stop a run cleanly (the hook `gazecam process` and `gazecam batch` use)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from gazecam.signals import Interrupted, StopEvent, signal_name, stop_on_signals


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_first_signal_sets_the_event_second_one_interrupts(sig, code):
    before = signal.getsignal(sig)
    with stop_on_signals() as stop:
        assert isinstance(stop, threading.Event) and not stop.is_set() and stop.signum is None
        os.kill(os.getpid(), sig)  # delivered to the main thread before the next bytecode
        assert stop.is_set() and stop.signum == sig and stop.exit_code == code
        with pytest.raises(Interrupted) as info:
            os.kill(os.getpid(), sig)
        assert isinstance(info.value, KeyboardInterrupt) and info.value.signum == sig
    assert signal.getsignal(sig) is before  # the previous handler is back


def test_outside_the_main_thread_the_event_is_only_set_by_the_caller():
    seen: list[StopEvent] = []

    def worker() -> None:
        with stop_on_signals() as stop:
            seen.append(stop)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(seen) == 1 and not seen[0].is_set() and seen[0].exit_code == 130


def test_signal_names():
    assert signal_name(signal.SIGTERM) == "SIGTERM" and signal_name(999) == "signal 999"
