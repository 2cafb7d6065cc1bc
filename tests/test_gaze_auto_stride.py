"""stride="auto": encodes on a scene cut or a pan, skips on a static scene, never exceeds max_stride, re-decodes
heads that moved (generated clips, a fake model that counts calls)."""

from __future__ import annotations

import numpy as np
import pytest

from gazecam.gaze import DEFAULT_SCENE_THRESHOLD, GazeStage, camera_shift, scene_change, scene_thumbnail
from gazecam.types import Frame, GazePrediction, HeadBoxes

H, W = 180, 320


class CountingModel:
    """Counts encodes and decoded heads; the gaze of a head depends on its box and the encode count."""

    name, released, note = "counting", False, "fake weights"
    has_inout = True

    def __init__(self) -> None:
        self.encode_calls = 0
        self.decoded: list[int] = []  # heads per decode call

    def encode(self, image):
        self.encode_calls += 1
        return self.encode_calls

    def decode(self, feats, heads):
        boxes = np.asarray(heads, np.float32).reshape(-1, 4)
        self.decoded.append(len(boxes))
        hm = np.zeros((len(boxes), 64, 64), np.float32)
        for i, b in enumerate(boxes):
            hm[i, (7 * feats) % 64, int(b[0] * 63)] = 1.0
        return GazePrediction(heatmaps=hm, inout=np.full(len(boxes), 0.9, np.float32))


def _background(seed: int, width: int = W, height: int = H) -> np.ndarray:
    """A textured still scene (blocky noise + gradients), different for each seed."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(height // 10 + 1, width // 10 + 1, 3), dtype=np.uint8)
    img = np.kron(blocks, np.ones((10, 10, 1), np.uint8))[:height, :width]
    return img


def _person_x(i: int) -> float:
    return 40 + 6 * i  # walks right 6 px per frame


def _static_clip(i: int, *, seed: int = 1, noise: int = 3) -> np.ndarray:
    """Static camera, one person (a 30 x 60 px figure) walking across, a little sensor noise."""
    img = _background(seed).copy()
    x = int(_person_x(i))
    img[60:120, x:x + 30] = (220, 180, 150)
    rng = np.random.default_rng(100 + i)
    return np.clip(img.astype(np.int16) + rng.integers(-noise, noise + 1, img.shape), 0, 255).astype(np.uint8)


def _pan_clip(i: int) -> np.ndarray:
    """The camera pans right 12 px per frame over a wide textured scene."""
    wide = _background(7, width=W + 12 * 40)
    return np.ascontiguousarray(wide[:, 12 * i:12 * i + W])


def _frame(image: np.ndarray, i: int) -> Frame:
    return Frame(image=image, index=i, timestamp_s=i / 25)


def _head(i: int, *, walking: bool = True) -> HeadBoxes:
    x = _person_x(i) if walking else 40.0
    return HeadBoxes(xyxy=np.array([[x, 60, x + 30, 80]], np.float32), image_size=(H, W), track_ids=np.array([1]))


def _run(stage: GazeStage, frames, heads) -> list[bool]:
    return [stage.process(_frame(img, i), h).fresh for i, (img, h) in enumerate(zip(frames, heads))]


def test_thumbnail_and_change_measure():
    a = _static_clip(0)
    t = scene_thumbnail(a)
    assert t.dtype == np.float32 and max(t.shape) <= 64 and min(t.shape) >= 30 and 0 <= t.min() <= t.max() <= 1
    assert scene_change(t, None) == 1.0 and scene_change(t, t[:-1]) == 1.0  # nothing comparable: changed
    assert scene_change(t, t) == 0.0
    assert scene_change(scene_thumbnail(_static_clip(3)), t) < 0.1  # the walking person: a small part
    assert scene_change(scene_thumbnail(_background(99)), t) > 0.5  # a cut
    assert scene_change(scene_thumbnail(_pan_clip(1)), scene_thumbnail(_pan_clip(0))) > DEFAULT_SCENE_THRESHOLD
    big = np.zeros((1080, 1920, 3), np.uint8)
    assert max(scene_thumbnail(big).shape) <= 64


def test_camera_shift_sees_a_pan_but_not_people_moving():
    t0 = scene_thumbnail(_static_clip(0))
    assert camera_shift(t0, None) == (0, 0) and camera_shift(t0, t0) == (0, 0)
    assert all(camera_shift(scene_thumbnail(_static_clip(i)), t0) == (0, 0) for i in range(1, 12))
    # the pan moves 12 px per frame on a 320 px frame = 2.4 thumbnail pixels (64 px thumbnail): leftwards
    shifts = [camera_shift(scene_thumbnail(_pan_clip(i)), scene_thumbnail(_pan_clip(i - 1))) for i in range(1, 6)]
    assert all(dx in (-2, -3) and dy == 0 for dx, dy in shifts), shifts


def test_slow_pan_over_a_plain_scene_still_encodes():
    """A pan over a weakly textured wall changes few pixels by much; the camera shift still triggers encodes."""
    rng = np.random.default_rng(0)
    wall = np.clip(128 + np.kron(rng.integers(-12, 13, (20, 80)), np.ones((10, 10))), 0, 255).astype(np.uint8)
    frames = [np.repeat(np.ascontiguousarray(wall[:H, 6 * i:6 * i + W])[..., None], 3, axis=2) for i in range(10)]
    assert all(scene_change(scene_thumbnail(f), scene_thumbnail(frames[0])) < DEFAULT_SCENE_THRESHOLD
               for f in frames[:3])
    m = CountingModel()
    st = GazeStage(model=m, smooth=False, stride="auto", max_stride=100)
    fresh = _run(st, frames, [_head(0, walking=False)] * 10)
    assert sum(fresh) >= 5  # 6 px/frame = 1.2 thumbnail px: at least every second frame


def test_static_scene_skips_the_encoder_and_redecodes_the_moving_head():
    m = CountingModel()
    st = GazeStage(model=m, smooth=False, stride="auto", max_stride=100)
    fresh = _run(st, [_static_clip(i) for i in range(12)], [_head(i) for i in range(12)])
    assert fresh[0] and not any(fresh[1:]) and m.encode_calls == st.encodes == 1
    # the head moves 6 px = 1.9% of the width per frame: re-decoded every second frame (> 2% since its decode)
    assert len(m.decoded) > 3 and all(n == 1 for n in m.decoded)
    m2 = CountingModel()
    still = GazeStage(model=m2, smooth=False, stride="auto", max_stride=100)
    _run(still, [_static_clip(i) for i in range(12)], [_head(i, walking=False) for i in range(12)])
    assert m2.encode_calls == 1 and m2.decoded == [1]  # a head that stays: carried over, nothing re-run


def test_scene_cut_encodes_at_the_cut():
    m = CountingModel()
    st = GazeStage(model=m, smooth=False, stride="auto", max_stride=100)
    frames = [_static_clip(i, seed=1) for i in range(6)] + [_static_clip(i, seed=2) for i in range(6, 12)]
    fresh = _run(st, frames, [_head(i, walking=False) for i in range(12)])
    assert [i for i, f in enumerate(fresh) if f] == [0, 6]
    assert st.last_scene_change < DEFAULT_SCENE_THRESHOLD  # the frames after the cut match the new scene


def test_pan_encodes_every_frame():
    m = CountingModel()
    st = GazeStage(model=m, smooth=False, stride="auto", max_stride=100)
    fresh = _run(st, [_pan_clip(i) for i in range(10)], [_head(i, walking=False) for i in range(10)])
    assert all(fresh) and m.encode_calls == 10


@pytest.mark.parametrize("max_stride", [1, 3, 4])
def test_never_exceeds_max_stride(max_stride):
    m = CountingModel()
    st = GazeStage(model=m, smooth=False, stride="auto", max_stride=max_stride)
    fresh = _run(st, [_static_clip(0, noise=0)] * 13, [_head(0, walking=False)] * 13)
    encoded = [i for i, f in enumerate(fresh) if f]
    assert encoded[0] == 0 and max(np.diff(encoded + [13])) <= max_stride
    assert encoded == list(range(0, 13, max_stride))  # a static scene encodes exactly at the bound


def test_threshold_is_settable_and_validated():
    m = CountingModel()
    st = GazeStage(model=m, smooth=False, stride="auto", max_stride=100, scene_threshold=0.0)
    _run(st, [_static_clip(i) for i in range(4)], [_head(i) for i in range(4)])
    assert m.encode_calls == 4  # threshold 0: the walking person's few changed pixels are enough
    st.scene_threshold = 1.0  # live change: only max_stride forces an encode now
    _run(st, [_background(5)] * 3, [_head(0, walking=False)] * 3)
    assert m.encode_calls == 4
    for bad in ({"stride": "fast"}, {"stride": 0}, {"max_stride": 0}, {"scene_threshold": 1.5},
                {"redecode_motion": -0.1}):
        with pytest.raises(ValueError):
            GazeStage(model=m, **bad)


def test_reset_forgets_the_reference_thumbnail():
    m = CountingModel()
    st = GazeStage(model=m, stride="auto", max_stride=100)
    _run(st, [_static_clip(0)] * 2, [_head(0)] * 2)
    st.reset()
    assert st.process(_frame(_static_clip(0), 0), _head(0)).fresh and m.encode_calls == 2


# -- through process_source and the CLI: records say which frames were encoded, the summary counts encodes -----
def _write_clip(path, frames, fps=10):
    from fractions import Fraction

    import av

    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.time_base = Fraction(1, fps)
        s.options = {"crf": "18"}
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def _write_heads(path, n):
    import json

    path.write_text("".join(json.dumps({"frame": i, "xyxy": [40, 60, 70, 80]}) + "\n" for i in range(n)))
    return path


def test_process_source_stride_auto_records_fresh_frames(tmp_path):
    import json

    from fakes import CountingModel

    from gazecam.gaze import GazeOptions
    from gazecam.jobs import ProcessOptions, process_source

    frames = [_static_clip(i, seed=1) for i in range(10)] + [_static_clip(i, seed=2) for i in range(10, 14)]
    video = _write_clip(tmp_path / "cut.mp4", frames)
    model = CountingModel()
    options = ProcessOptions(heads_path=_write_heads(tmp_path / "h.jsonl", 14), gaze=GazeOptions(stride="auto", max_stride=6))
    assert options.result_key()["max_stride"] == 6 and options.result_key()["stride"] == "auto"
    report = process_source(video, model=model, options=options, records_path=tmp_path / "r.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    encoded = [r["frame"] for r in rows if r["fresh"]]
    assert encoded == [0, 6, 10]  # first frame, max_stride, the cut
    assert report.encodes == model.encodes == 3


def test_cli_stride_auto(tmp_path, capsys, monkeypatch):
    from fakes import CountingModel

    import gazecam.commands.process as process_cmd
    from gazecam.cli import main

    video = _write_clip(tmp_path / "static.mp4", [_static_clip(0, noise=0)] * 9)
    monkeypatch.setattr(process_cmd, "load_model", lambda args: CountingModel())
    rec = tmp_path / "r.csv"
    code = main(["process", str(video), "--records", str(rec), "--heads", str(_write_heads(tmp_path / "h.jsonl", 9)),
                 "--stride", "auto", "--max-stride", "4", "--scene-threshold", "0.3"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "encoder ran 3 time(s)" in err  # frames 0, 4, 8
    lines = rec.read_text().splitlines()
    header = lines[0].split(",")
    fresh = header.index("fresh")
    assert header[-3:] == ["mutual", "fresh", "aoi"] and [ln.split(",")[fresh] == "true" for ln in lines[1:]] == [
        True, False, False, False, True, False, False, False, True]
    with pytest.raises(SystemExit):
        main(["process", str(video), "--records", str(rec), "--stride", "sometimes"])
    assert "--stride: expected a whole number >= 1 or auto" in capsys.readouterr().err
