"""The status bar's live figures: display and inference rates, latency, dropped frames, people, model."""

from __future__ import annotations

import math
from collections import deque

from PyQt6.QtWidgets import QLabel, QStatusBar

__all__ = ["EventRate", "StatusLabels"]


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


class StatusLabels:
    """Permanent labels on a status bar, one per figure."""

    KEYS = ("display", "inference", "latency", "dropped", "people", "model")

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

    def show(self, *, display_fps: float | None, infer_fps: float, infer_ms: float, latency_ms: float,
             dropped: int, model_skipped: int, people: int) -> None:
        """``display_fps`` None: paused; NaN ``infer_ms`` / ``latency_ms``: nothing measured yet."""
        lab = self.labels
        lab["display"].setText(f"display {display_fps:4.1f} fps" if display_fps is not None else "display paused")
        lab["inference"].setText(f"inference {infer_fps:4.1f} fps"
                                 + (f" ({infer_ms:.0f} ms/frame)" if not math.isnan(infer_ms) else ""))
        lab["latency"].setText(f"latency {latency_ms:.0f} ms" if not math.isnan(latency_ms) else "latency –")
        lab["dropped"].setText(f"dropped {dropped}")
        lab["dropped"].setToolTip(f"frames never shown: {dropped}; frames the model skipped "
                                  f"(slower than the video): {model_skipped}")
        lab["people"].setText(f"people {people}")

    def text(self) -> str:
        return " | ".join(lab.text() for lab in self.labels.values())
