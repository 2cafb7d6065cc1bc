"""Stable head ids across frames with ultralytics' ByteTrack.

:class:`HeadTracker` takes the detector's :class:`~gazecam.types.HeadBoxes` of each frame and returns the
same boxes (detector coordinates, not Kalman-smoothed) with ``track_ids`` filled in.

Behaviour worth knowing:

* A new head gets an id on the frame it first appears (ByteTrack normally waits a frame to confirm it).
* A head that disappears is kept as *lost* for ``track_buffer`` frames; if it reappears close to where
  the Kalman filter expects it within that time it gets its **old id** back, later it gets a **new id**.
* Boxes that matched no track (confidence below ``new_track_thresh`` and not matched) keep id -1.
* :meth:`HeadTracker.predict` steps the tracks one frame without detections (for frames the detector
  skips, :mod:`gazecam.cadence`): it returns the Kalman-predicted boxes of the heads the last
  :meth:`~HeadTracker.update` returned, with their ids; the next ``update`` finds them again by those ids.
* Boxes are matched on copies ``match_scale`` times their size (same centre): head boxes are small next
  to how far a walking person moves between frames (a 15 px head moves ~8 px per frame at 10 fps), and
  ByteTrack's IoU matching, made for whole bodies, would otherwise give such a person a new id every few
  frames (measured on the opencv-doc pedestrian clip vtest.avi: 57 ids in 150 frames at 1x, 16 at 2x).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from .types import HeadBoxes

__all__ = ["HeadTracker"]


@dataclass(frozen=True)
class _Detections:
    """The Results-like view ByteTrack reads: ``conf``, ``cls``, ``xywh`` (centre) and boolean indexing."""

    xyxy: np.ndarray  # (N, 4) float32 pixels
    conf: np.ndarray  # (N,) float32
    cls: np.ndarray  # (N,) float32 (all 0: head)

    @property
    def xywh(self) -> np.ndarray:
        """(N, 4) centre x, centre y, width, height."""
        wh = self.xyxy[:, 2:4] - self.xyxy[:, 0:2]
        return np.concatenate([self.xyxy[:, 0:2] + wh / 2, wh], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: Any) -> "_Detections":
        return _Detections(self.xyxy[mask], self.conf[mask], self.cls[mask])


def _byte_tracker_class() -> type:
    from .ultra import ultralytics_env

    ultralytics_env()
    from ultralytics.trackers.byte_tracker import BYTETracker

    class _ImmediateBYTETracker(BYTETracker):
        """ByteTrack whose new tracks are confirmed at once (a head gets its id on its first frame)."""

        def _init_new_tracks(self, u_detection, detections, activated, refind=None):  # type: ignore[override]
            super()._init_new_tracks(u_detection, detections, activated, refind)
            for track in activated:
                track.is_activated = True

    return _ImmediateBYTETracker


class HeadTracker:
    """ByteTrack over head boxes: ``update(heads) -> heads`` with stable ``track_ids``."""

    def __init__(self, *, track_buffer: int = 30, high_thresh: float = 0.25, low_thresh: float = 0.1,
                 new_track_thresh: float = 0.25, match_thresh: float = 0.8, match_scale: float = 2.0) -> None:
        if track_buffer < 0:
            raise ValueError(f"track_buffer must be >= 0 frames, got {track_buffer}")
        if not match_scale >= 1.0:
            raise ValueError(f"match_scale must be >= 1 (boxes are matched on enlarged copies), got {match_scale}")
        self.match_scale = float(match_scale)
        self.args = SimpleNamespace(track_high_thresh=float(high_thresh), track_low_thresh=float(low_thresh),
                                    new_track_thresh=float(new_track_thresh), track_buffer=int(track_buffer),
                                    match_thresh=float(match_thresh), fuse_score=True)
        self._tracker = _byte_tracker_class()(self.args)
        self._shown: frozenset[int] = frozenset()  # ids the last update() returned (what predict() carries)

    @property
    def track_buffer(self) -> int:
        return int(self.args.track_buffer)

    def reset(self) -> None:
        """Forget all tracks; ids restart at 1."""
        self._tracker.reset()
        self._shown = frozenset()

    def update(self, heads: HeadBoxes) -> HeadBoxes:
        """Assign track ids to this frame's heads (call once per frame, in order, also with no heads)."""
        n = len(heads)
        centre = heads.centers_xy.astype(np.float32)
        half = (heads.xyxy[:, 2:4] - heads.xyxy[:, 0:2]).astype(np.float32) * (self.match_scale / 2)
        dets = _Detections(xyxy=np.concatenate([centre - half, centre + half], axis=1),
                           conf=heads.confidence.astype(np.float32), cls=np.zeros(n, np.float32))
        out = self._tracker.update(dets)  # (M, 8): x1 y1 x2 y2 track_id score cls det_index
        ids = np.full(n, -1, np.int64)
        if len(out):
            out = np.asarray(out).reshape(-1, 8)
            det_index = out[:, 7].astype(np.int64)
            ok = (det_index >= 0) & (det_index < n)
            ids[det_index[ok]] = out[ok, 4].astype(np.int64)
        self._shown = frozenset(int(i) for i in ids if i >= 0)
        return HeadBoxes(xyxy=heads.xyxy, image_size=heads.image_size, track_ids=ids, confidence=heads.confidence)

    def predict(self, image_size: tuple[int, int]) -> HeadBoxes:
        """One frame without detections: the Kalman-predicted boxes of the heads the last :meth:`update` returned.

        ``image_size``: (height, width) of this frame (boxes are clipped to it; a box wholly outside is left
        out).  Counts as a frame for the tracker (a head not found again within ``track_buffer`` frames of
        its last detection gets a new id).  Confidence: the head's last detection score.
        """
        self._tracker.update(_Detections(xyxy=np.zeros((0, 4), np.float32), conf=np.zeros(0, np.float32),
                                         cls=np.zeros(0, np.float32)))
        bt = self._tracker
        tracks = {t.track_id: t for t in (*bt.tracked_stracks, *bt.lost_stracks)
                  if bt.frame_id - t.end_frame <= bt.max_frames_lost}  # not the ones this step removed
        ids = sorted(i for i in self._shown if i in tracks)
        if not ids:
            return HeadBoxes.empty(image_size)
        xyxy = np.stack([np.asarray(tracks[i].xyxy, np.float32) for i in ids])
        centre, half = (xyxy[:, 0:2] + xyxy[:, 2:4]) / 2, (xyxy[:, 2:4] - xyxy[:, 0:2]) / (2 * self.match_scale)
        return HeadBoxes(xyxy=np.concatenate([centre - half, centre + half], axis=1), image_size=image_size,
                         track_ids=np.asarray(ids, np.int64),
                         confidence=np.asarray([tracks[i].score for i in ids], np.float32)).clipped()
