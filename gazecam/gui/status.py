"""The status bar's live figures: display and inference rates, stage times, latency, dropped frames, people, model."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from PyQt6.QtWidgets import QLabel, QStatusBar

from .workers import InferenceOutput

__all__ = ["EventRate", "StageMeans", "RecentStages", "StatusLabels"]

_NAN = float("nan")


class EventRate:
    """Events per second over the last few seconds (a bounded history of tick times)."""

    def __init__(self, history: int = 60) -> None:
        self.times: deque[float] = deque(maxlen=history)

    def tick(self, t: float) -> None:
        self.times.append(t)

    def rate(self, now: float, window_s: float = 2.0) -> float:
        """Events per second over the ticks of the last ``window_s`` seconds (0 with fewer than 2)."""
        recent = [t for t in self.times if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


@dataclass(frozen=True, slots=True)
class StageMeans:
    """Mean milliseconds per frame over the recent results (NaN: not measured / the stage never ran)."""

    detect: float = _NAN  # detection + tracking
    encode: float = _NAN
    decode: float = _NAN
    detect_thread: float = _NAN  # busy time per frame of each inference thread
    gaze_thread: float = _NAN
    overlapped: bool = True

    def text(self) -> str:
        """One line: the stage times, then which thread bounds the inference rate and its busy time per frame
        (the other thread's is about its stages' sum: detect, or encode + decode)."""
        if math.isnan(self.detect_thread):
            return "stages –"
        stages = " · ".join(f"{name} {_ms(v)}" for name, v in
                            (("detect", self.detect), ("encode", self.encode), ("decode", self.decode)))
        if not self.overlapped:
            return f"{stages} ms (one thread: {self.detect_thread + self.gaze_thread:.0f} ms/frame)"
        slow, busy = (("gaze", self.gaze_thread) if self.gaze_thread >= self.detect_thread
                      else ("detect", self.detect_thread))
        return f"{stages} ms ({slow} thread bounds: {busy:.0f} ms/frame)"


def _ms(v: float) -> str:
    return "–" if math.isnan(v) else f"{v:.0f}"


class RecentStages:
    """Stage and thread times of the last ``history`` inference results, averaged for the status bar."""

    def __init__(self, history: int = 20) -> None:
        self.outputs: deque[InferenceOutput] = deque(maxlen=history)

    def add(self, out: InferenceOutput) -> None:
        self.outputs.append(out)

    def clear(self) -> None:
        self.outputs.clear()

    def means(self) -> StageMeans:
        outs = list(self.outputs)
        if not outs:
            return StageMeans()

        def mean(values: list[float]) -> float:
            ok = [v for v in values if not math.isnan(v)]
            return sum(ok) / len(ok) if ok else _NAN

        t = [o.result.timings for o in outs]
        return StageMeans(detect=mean([x.detect for x in t]), encode=mean([x.encode for x in t]),
                          decode=mean([x.decode for x in t]),
                          detect_thread=mean([o.detect_thread_ms for o in outs]),
                          gaze_thread=mean([o.gaze_thread_ms for o in outs]), overlapped=outs[-1].overlapped)


class StatusLabels:
    """Permanent labels on a status bar, one per figure."""

    KEYS = ("display", "inference", "stages", "latency", "dropped", "people", "model")

    def __init__(self, bar: QStatusBar) -> None:
        self.labels: dict[str, QLabel] = {}
        for key in self.KEYS:
            lab = QLabel("")
            lab.setObjectName(f"status_{key}")
            bar.addPermanentWidget(lab)
            self.labels[key] = lab
        self.set_model("model: none")

    def set_model(self, text: str) -> None:
        self.labels["model"].setText(text)

    def show(self, *, display_fps: float | None, infer_fps: float, stages: StageMeans, latency_ms: float,
             dropped: int, model_skipped: int, people: int) -> None:
        """``display_fps`` None: paused; NaN ``latency_ms`` / stage times: nothing measured yet."""
        lab = self.labels
        lab["display"].setText(f"display {display_fps:4.1f} fps" if display_fps is not None else "display paused")
        lab["inference"].setText(f"inference {infer_fps:4.1f} fps")
        lab["stages"].setText(stages.text())
        lab["stages"].setToolTip("mean ms per frame of each stage (detect = detection + tracking, encode = scene "
                                 "encoder, decode = gaze decoder); busy ms per frame of the detect thread "
                                 f"{_ms(stages.detect_thread)} and of the gaze thread {_ms(stages.gaze_thread)}"
                                 + (": the slower one bounds the inference rate" if stages.overlapped
                                    else ", one after the other in one thread"))
        lab["latency"].setText(f"latency {latency_ms:.0f} ms" if not math.isnan(latency_ms) else "latency –")
        lab["dropped"].setText(f"dropped {dropped}")
        lab["dropped"].setToolTip(f"frames never shown: {dropped}; frames the model skipped "
                                  f"(slower than the video): {model_skipped}")
        lab["people"].setText(f"people {people}")

    def text(self) -> str:
        return " | ".join(lab.text() for lab in self.labels.values())
