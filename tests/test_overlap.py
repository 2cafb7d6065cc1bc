"""gazecam.overlap.StageChain: ordered, bounded stage threads whose errors reach the caller."""

from __future__ import annotations

import faulthandler
import sys
import threading
import time

import pytest

from gazecam.overlap import Stage, StageChain

TIMEOUT_S = 60


@pytest.fixture(autouse=True)
def dump_threads_if_stuck():
    """A hung chain dumps every thread's stack instead of hanging the test run silently."""
    faulthandler.dump_traceback_later(TIMEOUT_S, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("gazecam-stage:")]


class Recorder:
    """A stateful step (like a tracker): output depends on every earlier item; remembers its threads."""

    def __init__(self, name: str, delay_s: float = 0.0) -> None:
        self.name, self.delay_s, self.total, self.threads = name, delay_s, 0, set()

    def __call__(self, item):
        self.threads.add(threading.current_thread().name)
        if self.delay_s:
            time.sleep(self.delay_s)
        self.total += item[-1] if isinstance(item, tuple) else item
        return (item, self.name, self.total)


def chain_of(items, *, threaded: bool, delays=(0.0, 0.002, 0.0)) -> tuple[list, list[Recorder]]:
    steps = [Recorder(f"s{i}", d) for i, d in enumerate(delays)]
    chain = StageChain(items, [Stage(s.name, s) for s in steps], threaded=threaded, queue_size=2)
    return list(chain), steps


def test_threaded_outputs_equal_sequential_ones_in_order_each_stage_in_its_own_thread():
    threaded, steps = chain_of(range(50), threaded=True)
    sequential, _ = chain_of(range(50), threaded=False)
    assert threaded == sequential and len(threaded) == 50
    assert [s.threads for s in steps] == [{"gazecam-stage:s0"}, {"gazecam-stage:s1"}, {"gazecam-stage:s2"}]
    assert not stage_threads()


def test_an_error_in_a_stage_thread_reaches_the_caller_after_the_items_before_it():
    def fail_on_7(x):
        if x == 7:
            raise ValueError("bad item 7")
        return x

    got = []
    chain = StageChain(range(100), [Stage("a", lambda x: x), Stage("b", fail_on_7), Stage("c", lambda x: x)])
    with pytest.raises(ValueError, match="bad item 7"):
        for x in chain:
            got.append(x)
    assert got == list(range(7))
    assert not stage_threads()  # joined


def test_an_error_of_the_input_reaches_the_caller():
    def source():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(StageChain(source(), [Stage("a", lambda x: x)]))
    assert not stage_threads()


def test_queues_are_bounded_the_input_is_not_read_ahead():
    taken = []

    def source():
        for i in range(1000):
            taken.append(i)
            yield i

    stages = [Stage(n, lambda x: x) for n in "abc"]
    chain = StageChain(source(), stages, queue_size=2)
    it = iter(chain)
    assert next(it) == 0
    time.sleep(0.5)  # let the threads fill every queue
    # 3 queues of 2, one item in each stage's hands, one delivered: far less than the input
    assert len(taken) <= 3 * 2 + 3 + 1 + 1
    it.close()
    assert not stage_threads()


def test_stop_finishes_the_items_in_flight_and_takes_no_more():
    chain = StageChain(range(1000), [Stage("slow", lambda x: (time.sleep(0.001), x)[1])], queue_size=2)
    got = []
    for x in chain:
        got.append(x)
        if x == 5:
            chain.stop()
    assert got == list(range(len(got))) and 6 <= len(got) < 20
    assert not stage_threads()


def test_leaving_early_joins_the_threads():
    chain = StageChain(iter(range(10**6)), [Stage("a", lambda x: x), Stage("b", lambda x: x)])
    for x in chain:
        if x == 3:
            break
    assert not stage_threads()


def test_busy_time_is_counted_per_stage():
    chain = StageChain(range(5), [Stage("fast", lambda x: x), Stage("slow", lambda x: (time.sleep(0.01), x)[1])])
    assert list(chain) == list(range(5))
    ms = chain.busy.ms_per_item()
    assert set(ms) == {"fast", "slow"} and ms["slow"] >= 10 and ms["fast"] >= 0  # slow sleeps 10 ms per item


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="at least one stage"):
        StageChain([], [])
    with pytest.raises(ValueError, match="queue_size"):
        StageChain([], [Stage("a", lambda x: x)], queue_size=0)
    chain = StageChain([1], [Stage("a", lambda x: x)])
    assert list(chain) == [1]
    with pytest.raises(RuntimeError, match="once"):
        list(chain)
