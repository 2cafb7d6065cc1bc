"""`gazecam batch` end to end with the golden random weights (ViT-S) on tiny generated clips: failures recorded,
mirrored outputs, resume, SIGTERM / SIGKILL midway, and --workers 2 / --ray giving the default run's records.

A clip is a 224x224 crop of the golden astronaut image moving by a few pixels per frame: the offline face
detector finds her face, so the records are not empty and their comparison across modes means something.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from fakes import Child
from PIL import Image

from gazecam.batch.manifest import MANIFEST_NAME
from gazecam.batch.plan import TEMP_MARK
from gazecam.cli import main

REPO = Path(__file__).resolve().parents[1]
SIZE = 224


def astronaut_clip(path: Path, golden_dir: Path, n: int = 3) -> Path:
    """n frames of the astronaut, shifted right/down by (2, 1) px per frame."""
    image = Image.open(golden_dir / "images" / "astronaut.png").convert("RGB").resize((SIZE + 2 * n, SIZE + 2 * n))
    pixels = np.asarray(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width = v.height = SIZE
        v.pix_fmt = "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels[i:i + SIZE, 2 * i:2 * i + SIZE]),
                                               format="rgb24")
            frame.pts = i
            for packet in v.encode(frame):
                c.mux(packet)
        for packet in v.encode(None):
            c.mux(packet)
    return path


def model_args(golden_dir: Path) -> list[str]:
    return ["--backbone", "dinov2_vits14", "--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"),
            "--gaze-weights", str(golden_dir / "gazelle_vits14_inout_random.pt"), "--backend", "torch",
            "--detector", "face"]


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def manifest(out: Path) -> list[dict]:
    path = out / MANIFEST_NAME
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def same_records(a: Path, b: Path) -> None:
    """Equal records up to float noise between processes/thread counts (exact ints, bools and ids)."""
    ra = [json.loads(x) for x in a.read_text().splitlines()]
    rb = [json.loads(x) for x in b.read_text().splitlines()]
    assert len(ra) == len(rb) and ra, (a, b)
    for x, y in zip(ra, rb):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], list):
                np.testing.assert_allclose(x[k], y[k], atol=0.05, err_msg=k)
            elif isinstance(x[k], float):
                assert abs(x[k] - y[k]) <= 2e-3, (k, x[k], y[k])
            else:
                assert x[k] == y[k], k


@pytest.fixture(scope="module")
def tree(tmp_path_factory, golden_dir: Path) -> Path:
    """in/a.mp4 (3 frames), in/sub/a.mp4 (4 frames), in/bad.mp4 (text)."""
    root = tmp_path_factory.mktemp("batch") / "in"
    astronaut_clip(root / "a.mp4", golden_dir, 3)
    astronaut_clip(root / "sub" / "a.mp4", golden_dir, 4)
    (root / "bad.mp4").write_text("not a video\n" * 20)
    return root


@pytest.fixture(scope="module")
def default_run(tree: Path, golden_dir: Path) -> Path:
    out = tree.parent / "out-default"
    assert main(["batch", str(tree), "-o", str(out), "--quiet", *model_args(golden_dir)]) == 1
    return out


@pytest.mark.slow
def test_failed_input_recorded_outputs_mirrored_then_resume(default_run: Path, tree: Path, golden_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = default_run
    states = {Path(e["input"]).relative_to(tree).as_posix(): e for e in manifest(out)}
    assert {k: e["status"] for k, e in states.items()} == {"a.mp4": "done", "sub/a.mp4": "done", "bad.mp4": "failed"}
    assert "not a video" in states["bad.mp4"]["error"] and str(tree / "bad.mp4") in states["bad.mp4"]["error"]
    assert count_frames(out / "a.mp4") == 3 and count_frames(out / "sub" / "a.mp4") == 4
    assert states["sub/a.mp4"]["frames"] == 4 and states["sub/a.mp4"]["people_frames"] > 0
    assert (out / "sub" / "a.jsonl").read_text().count("\n") == states["sub/a.mp4"]["people_frames"]
    assert not (out / "bad.mp4").exists() and not list(out.rglob(f"*{TEMP_MARK}*"))
    meta = json.loads((out / "sub" / "a.jsonl.meta.json").read_text())  # the records' sidecar came along
    assert meta["source"] == str(tree / "sub" / "a.mp4") and meta["model"] == "gazelle_vits14_inout_random"
    assert states["a.mp4"]["model"] == "gazelle_vits14_inout_random"
    assert set(states["a.mp4"]["weights_sha256"]) == {"backbone", "decoder"}
    assert states["a.mp4"]["options"]["detector"] == "face"

    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != MANIFEST_NAME}
    assert main(["batch", str(tree), "-o", str(out), *model_args(golden_dir)]) == 1
    err = capsys.readouterr().err
    assert "0 done, 1 failed, 2 skipped" in err and f"{tree / 'bad.mp4'}: " in err
    assert {p: p.stat().st_mtime_ns for p in before} == before  # finished outputs untouched
    assert len(manifest(out)) == 4  # one more attempt: bad.mp4


@pytest.mark.slow
def test_workers_give_the_default_records(default_run: Path, tree: Path, golden_dir: Path) -> None:
    out = tree.parent / "out-workers"
    assert main(["batch", str(tree), "-o", str(out), "--quiet", "--workers", "2", *model_args(golden_dir)]) == 1
    for rel in ("a.jsonl", "sub/a.jsonl"):
        same_records(default_run / rel, out / rel)
    assert count_frames(out / "sub" / "a.mp4") == 4


@pytest.mark.slow
def test_ray_gives_the_default_records(default_run: Path, tree: Path, golden_dir: Path) -> None:
    pytest.importorskip("ray", reason='Ray is the optional extra gazecam[ray] (scripts/test.sh installs it)')
    out = tree.parent / "out-ray"
    code = main(["batch", str(tree), "-o", str(out), "--quiet", "--ray", "--workers", "1", "--cpus-per-worker", "1",
                 *model_args(golden_dir)])
    assert code == 1
    for rel in ("a.jsonl", "sub/a.jsonl"):
        same_records(default_run / rel, out / rel)
    entries = manifest(out)
    assert {e["status"] for e in entries} == {"done", "failed"}
    assert all(len(e["node"]) == 56 for e in entries if e["status"] == "done")  # Ray node ids
    assert not list(out.glob(".gazecam-probe-*"))


def _run_until(out: Path, args: list[str], *, done: int, sig: int) -> int:
    """Start `gazecam batch` in its own process group; send `sig` once `done` inputs are done; its exit code."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # SIGINT set explicitly in the child; it and its workers are killed when anything fails (fakes.Child)
    with Child([sys.executable, "-m", "gazecam", "batch", *args, "-o", str(out), "--quiet"], cwd=REPO, env=env,
               timeout_s=1000) as child:
        deadline = time.monotonic() + 600
        while sum(e["status"] == "done" for e in manifest(out)) < done:
            assert child.proc.poll() is None, child.stderr
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.1)
        os.killpg(child.pid, sig)
        return child.finish(timeout_s=300)[0]


@pytest.mark.slow
def test_sigterm_then_sigkill_midway_then_resume(tmp_path: Path, golden_dir: Path) -> None:
    src = tmp_path / "in"
    clips = [astronaut_clip(src / f"{name}.mp4", golden_dir, 3) for name in ("a", "b", "c")]
    out = tmp_path / "out"
    args = [str(src), *model_args(golden_dir)]

    def finished_outputs() -> set[str]:
        return {p.name for p in out.iterdir() if p.suffix in (".mp4", ".jsonl") and TEMP_MARK not in p.name
                and p.name != MANIFEST_NAME}

    def done_inputs() -> list[str]:
        return [Path(e["input"]).stem for e in manifest(out) if e["status"] == "done"]

    assert _run_until(out, args, done=1, sig=signal.SIGTERM) == 143  # stops cleanly after the current frame
    assert finished_outputs() == {f"{n}.{ext}" for n in done_inputs() for ext in ("mp4", "jsonl")}
    assert not list(out.glob(f"*{TEMP_MARK}*"))  # the video in progress was discarded

    _run_until(out, args, done=len(done_inputs()) + 1, sig=signal.SIGKILL)  # no chance to clean up
    killed_done = done_inputs()
    assert finished_outputs() == {f"{n}.{ext}" for n in killed_done for ext in ("mp4", "jsonl")}  # no half file

    assert main(["batch", *args, "-o", str(out), "--quiet"]) == 0
    assert sorted(done_inputs()) == ["a", "b", "c"]  # each input done exactly once over the three runs
    assert [e["status"] for e in manifest(out)] == ["done"] * 3
    assert not list(out.glob(f"*{TEMP_MARK}*"))
    assert [count_frames(out / f"{c.stem}.mp4") for c in clips] == [3, 3, 3]
