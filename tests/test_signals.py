"""gazecam.signals: SIGINT and SIGTERM stop a run cleanly (the hook `gazecam process` and `gazecam batch` use)."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from fakes import Child

from gazecam.signals import Interrupted, StopEvent, signal_name, stop_on_signals

REPO = Path(__file__).resolve().parents[1]


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


def test_handlers_are_installed_over_an_ignored_sigint():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as inherited under `nohup` or `cmd &` in a script
    try:
        with stop_on_signals() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.is_set() and stop.signum == signal.SIGINT
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the inherited disposition is back
    finally:
        signal.signal(signal.SIGINT, before)


# A run loop as `gazecam process` has it (stop_on_signals around it), in a child started with SIGINT ignored.
_LOOP = textwrap.dedent("""
    import sys, time
    from gazecam.signals import stop_on_signals
    with stop_on_signals() as stop:
        print("ready", flush=True)
        n = 0
        while not stop.is_set():
            time.sleep(0.01)
            n += 1
    print("stopped", n, flush=True)
    sys.exit(stop.exit_code)
""")

# A command blocked before its run loop (e.g. loading the model), started with SIGINT ignored.
_BLOCKED_COMMAND = textwrap.dedent("""
    import sys, time
    from gazecam import cli
    from gazecam.commands import models

    def blocked(args):
        print("ready", flush=True)
        time.sleep(120)
        return 0

    models.run = blocked
    sys.exit(cli.main(["models", "list"]))
""")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_run_started_with_sigint_ignored_still_stops_cleanly(sig, code):
    with Child([sys.executable, "-c", _LOOP], sigint="ignore", cwd=REPO, timeout_s=120) as child:
        assert child.read_line(timeout_s=60) == "ready"
        child.send_signal(sig)
        returncode, rest, err = child.finish(timeout_s=30)
    assert returncode == code and rest.startswith("stopped"), err


def test_a_command_started_with_sigint_ignored_is_interrupted_by_sigint_before_its_run_loop():
    with Child([sys.executable, "-c", _BLOCKED_COMMAND], sigint="ignore", cwd=REPO, timeout_s=120) as child:
        assert child.read_line(timeout_s=60) == "ready"
        child.send_signal(signal.SIGINT)
        returncode, _, err = child.finish(timeout_s=30)
    assert returncode == 130 and "gazecam: interrupted" in err and "Traceback" not in err, err
