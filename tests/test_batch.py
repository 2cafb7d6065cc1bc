"""gazecam.batch with a model-free job (tests/fakes.py): inputs, mirrored outputs, manifest, resume, failures,
stop, local worker processes.  The real model and the CLI are in test_batch_cli.py, Ray in test_batch_ray.py."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import av
import pytest
from fakes import FakeJobFactory, make_video

from gazecam.batch import (
    InlineExecutor,
    Manifest,
    ModelIdentity,
    ProcessExecutor,
    WorkerError,
    collect_inputs,
    plan_tasks,
    run_batch,
)
from gazecam.batch.manifest import MANIFEST_NAME
from gazecam.batch.plan import TEMP_MARK
from gazecam.batch.runner import BatchListener
from gazecam.errors import InputError

IDENTITY = ModelIdentity(name="fake", weights_sha256={"decoder": "0" * 64})
KEY = {"stride": 1}


def clip(path: Path, n: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_video(path, n=n, audio=False)


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """in/a.mp4 (3 frames), in/sub/a.mp4 (4 frames), in/bad.mp4 (not a video)."""
    root = tmp_path / "in"
    clip(root / "a.mp4", 3)
    clip(root / "sub" / "a.mp4", 4)
    (root / "bad.mp4").write_bytes(b"this is not a video\n" * 10)
    return root


def batch(inputs, outdir: Path, factory=None, **kw):
    factory = factory or FakeJobFactory()
    ex = kw.pop("executor", None) or InlineExecutor(factory)
    return run_batch(collect_inputs(inputs).inputs if not hasattr(inputs[0], "kind") else inputs, outdir=outdir,
                     executor=ex, identity=kw.pop("identity", IDENTITY), result_key=kw.pop("result_key", KEY), **kw)


# -- inputs --------------------------------------------------------------------------------------------
def test_collect_folders_globs_lists_and_exclusions(tmp_path: Path, tree: Path) -> None:
    (tree / ".hidden.mp4").write_bytes(b"x")
    (tree / "notes.txt").write_text("x")
    (tree / "frames").mkdir()
    from PIL import Image
    Image.new("RGB", (8, 8)).save(tree / "frames" / "0.png")
    out = tree / "out"  # the output folder inside the input folder is never searched
    clip(out / "old.mp4")
    found = collect_inputs([tree], exclude=[out])
    assert [p.path.relative_to(tree).as_posix() for p in found.inputs] == ["a.mp4", "bad.mp4", "sub/a.mp4"]
    assert found.ignored_image_folders == (tree / "frames",) and found.excluded == (out,)
    with_images = collect_inputs([tree], image_folders=True, exclude=[out])
    assert [(i.path.relative_to(tree).as_posix(), i.kind) for i in with_images.inputs] == [
        ("a.mp4", "video"), ("bad.mp4", "video"), ("frames", "images"), ("sub/a.mp4", "video")]
    assert plan_tasks(with_images.inputs, outdir=out)[2].video_path == out / "frames.mp4"

    by_glob = collect_inputs([str(tree / "**" / "a.mp4")])
    assert [i.path for i in by_glob.inputs] == [tree / "a.mp4", tree / "sub" / "a.mp4"]
    assert {i.base for i in by_glob.inputs} == {tree}

    listing = tmp_path / "list.txt"
    listing.write_text("# two clips\nin/sub/a.mp4\n\nin/a.mp4\nin/a.mp4\n")
    assert [i.path for i in collect_inputs([f"@{listing}"]).inputs] == [tree / "sub" / "a.mp4", tree / "a.mp4"]

    with pytest.raises(InputError, match="input not found"):
        collect_inputs([tmp_path / "nope.mp4"])
    with pytest.raises(InputError, match="no video found.*folder"):
        collect_inputs([tree / "frames"])
    with pytest.raises(InputError, match="is the output folder"):
        collect_inputs([tree], exclude=[tree])
    with pytest.raises(InputError, match="list file not found"):
        collect_inputs([f"@{tmp_path / 'missing.txt'}"])


def test_outputs_mirror_relative_paths_without_collisions(tmp_path: Path, tree: Path) -> None:
    clip(tree / "sub" / "a.avi")
    out = tmp_path / "out"
    tasks = plan_tasks(collect_inputs([tree]).inputs, outdir=out, records_format="csv")
    got = {t.input.path.relative_to(tree).as_posix(): (t.video_path.relative_to(out).as_posix(),
                                                       t.records_path.relative_to(out).as_posix()) for t in tasks}
    assert got == {"a.mp4": ("a.mp4", "a.csv"), "bad.mp4": ("bad.mp4", "bad.csv"),
                   "sub/a.mp4": ("sub/a.mp4", "sub/a.csv"), "sub/a.avi": ("sub/a.avi.mp4", "sub/a.avi.csv")}
    # two folders: their common parent is the root, so the folder names are kept
    other = clip(tmp_path / "in2" / "a.mp4")
    tasks = plan_tasks(collect_inputs([tree / "a.mp4", other]).inputs, outdir=out, video=False)
    assert [t.records_path.relative_to(out).as_posix() for t in tasks] == ["in/a.jsonl", "in2/a.jsonl"]
    assert all(t.video_path is None for t in tasks)
    with pytest.raises(InputError, match="nothing to write"):
        plan_tasks(collect_inputs([tree]).inputs, outdir=out, video=False, records_format=None)


# -- the batch -----------------------------------------------------------------------------------------
def test_two_done_one_failed_then_resume_skips_untouched(tmp_path: Path, tree: Path) -> None:
    out = tmp_path / "out"
    factory = FakeJobFactory()
    s = batch([tree], out, factory)
    assert sorted(Path(k).relative_to(tree).as_posix() for k in s.done) == ["a.mp4", "sub/a.mp4"]
    assert [Path(k).name for k, _ in s.failed] == ["bad.mp4"] and not s.ok
    assert factory.loads == 1  # one model for the whole batch
    assert count_frames(out / "a.mp4") == 3 and count_frames(out / "sub" / "a.mp4") == 4
    assert len(lines(out / "sub" / "a.jsonl")) == 4
    assert json.loads((out / "sub" / "a.jsonl.meta.json").read_text())["source"] == str(tree / "sub" / "a.mp4")
    assert not list(out.rglob(f"*{TEMP_MARK}*"))
    entries = lines(out / MANIFEST_NAME)
    assert len(entries) == 3
    bad = next(e for e in entries if e["input"].endswith("bad.mp4"))
    assert bad["status"] == "failed" and "bad.mp4" in bad["error"] and "\n" not in bad["error"]
    assert not (out / "bad.mp4").exists() and not (out / "bad.jsonl").exists()
    good = next(e for e in entries if e["input"] == str(tree / "sub" / "a.mp4"))
    st = (tree / "sub" / "a.mp4").stat()
    assert good | {"seconds": 0, "finished": "", "node": "", "worker": ""} == {
        "input": str(tree / "sub" / "a.mp4"), "status": "done", "video": "sub/a.mp4",
        "records": "sub/a.jsonl", "frames": 4, "people_frames": 4, "seconds": 0, "error": None,
        "input_size": st.st_size, "input_mtime_ns": st.st_mtime_ns, "model": "fake",
        "weights_sha256": {"decoder": "0" * 64}, "options": KEY, "node": "", "worker": "", "warnings": [],
        "finished": ""}

    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != MANIFEST_NAME}
    factory2 = FakeJobFactory()
    s2 = batch([tree], out, factory2)
    assert len(s2.skipped) == 2 and [Path(k).name for k, _ in s2.failed] == ["bad.mp4"] and not s2.done
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # finished outputs untouched
    assert len(lines(out / MANIFEST_NAME)) == 4  # one new line: the failed input's new attempt

    # the same command with nothing left to do loads no model
    (tree / "bad.mp4").unlink()
    factory3 = FakeJobFactory()
    s3 = batch([tree], out, factory3)
    assert len(s3.skipped) == 2 and s3.ok and factory3.loads == 0


def test_progress_bars_and_lines(tmp_path: Path, tree: Path) -> None:
    import io

    from gazecam.batch.progress import TqdmProgress

    buf = io.StringIO()
    progress = TqdmProgress(file=buf, reword=lambda m: m.replace("detector='pose'", "--detector pose"))
    progress.warn("try detector='pose'")
    progress.warn("try detector='pose'")
    batch([tree], tmp_path / "out", listener=progress)
    text = buf.getvalue().replace("\r", "\n")
    assert text.count("warning: try --detector pose") == 1
    assert "gazecam batch: 3 to do" in text and "models loaded: 1 process" in text
    assert f"failed: {tree / 'bad.mp4'}: " in text
    assert "videos 3/3 (1 failed)" in text and "7/7" in text  # the batch bar counts the clips' frames
    assert "sub/a.mp4" in text  # a per-video bar


def test_resume_redoes_what_changed(tmp_path: Path) -> None:
    src = tmp_path / "in"
    a = clip(src / "a.mp4")
    clip(src / "b.mp4")
    out = tmp_path / "out"
    batch([src], out)
    os.utime(a, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns + 10**9))  # a changed
    (out / "b.jsonl").unlink()  # b's records lost
    s = batch([src], out)
    assert sorted(Path(k).name for k in s.done) == ["a.mp4", "b.mp4"]
    s = batch([src], out, result_key={"stride": 2})  # other options: everything again
    assert len(s.done) == 2
    s = batch([src], out, result_key={"stride": 2}, identity=ModelIdentity(name="fake", weights_sha256={
        "decoder": "1" * 64}))  # other weights
    assert len(s.done) == 2
    s = batch([src], out, result_key={"stride": 2}, identity=ModelIdentity(name="fake", weights_sha256={
        "decoder": "1" * 64}), force=True)
    assert len(s.done) == 2 and not s.skipped
    last = Manifest.open(out)
    try:
        assert {Path(k).name: e.options for k, e in last.last_states().items()} == {
            "a.mp4": {"stride": 2}, "b.mp4": {"stride": 2}}
        assert len(last.entries) == 2 + 2 + 2 + 2 + 2
    finally:
        last.close()


def test_image_folder_clips(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    frames = tmp_path / "in" / "session1"
    frames.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((48, 64, 3), 40 * i, np.uint8)).save(frames / f"{i}.png")
    clip(tmp_path / "in" / "b.mp4")
    out = tmp_path / "out"
    s = batch(collect_inputs([tmp_path / "in"], image_folders=True).inputs, out)
    assert s.ok and len(s.done) == 2
    assert count_frames(out / "session1.mp4") == 3 and len(lines(out / "session1.jsonl")) == 3
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(frames / "3.png")  # a frame added: redone
    s = batch(collect_inputs([tmp_path / "in"], image_folders=True).inputs, out)
    assert [Path(k).name for k in s.done] == ["session1"] and count_frames(out / "session1.mp4") == 4


def test_each_output_has_one_temporary_name_until_the_clip_is_done(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The sinks write straight under batch's hidden names (no NAME.partial.SUFFIX in between); nothing has
    a final name before the commit marker is on disk, and then all of the clip's outputs are renamed."""
    import gazecam.batch.task as task_module

    src = tmp_path / "in"
    clip(src / "a.mp4", 4)
    out = tmp_path / "out"
    seen: list[list[str]] = []

    def listing() -> list[str]:
        return sorted(p.name for p in out.iterdir() if p.name != MANIFEST_NAME and not p.name.startswith(".gazecam-"))

    class Watching(FakeJobFactory):
        def __call__(self):
            job = super().__call__()

            def watched(source, *, on_frame, **kw):
                return job(source, on_frame=lambda: (seen.append(listing()), on_frame()), **kw)
            return watched

    real_marker = task_module._write_marker

    def marker(path: Path, finals: list[Path]) -> None:
        seen.append(listing())
        real_marker(path, finals)

    monkeypatch.setattr(task_module, "_write_marker", marker)
    s = batch([src], out, Watching())
    assert s.ok and count_frames(out / "a.mp4") == 4 and len(lines(out / "a.jsonl")) == 4
    assert len(seen) == 5
    assert all(names == [".a.gazecam-tmp.jsonl", ".a.gazecam-tmp.mp4"] for names in seen[:4]), seen
    assert seen[4] == [".a.gazecam-tmp.jsonl", ".a.gazecam-tmp.jsonl.meta.json", ".a.gazecam-tmp.mp4"]
    assert listing() == ["a.jsonl", "a.jsonl.meta.json", "a.mp4"]


def test_a_rename_that_fails_midway_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import gazecam.outputs as outputs_module

    src = tmp_path / "in"
    clip(src / "a.mp4")
    out = tmp_path / "out"
    real_replace = os.replace

    def replace(a, b):  # the records and their sidecar are renamed, then the video fails
        if str(b).endswith(".mp4"):
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(a, b)

    monkeypatch.setattr(outputs_module.os, "replace", replace)
    s = batch([src], out)
    assert [e for _, e in s.failed] == ["cannot finish the outputs: Input/output error"]
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME]  # all or nothing, marker included
    monkeypatch.undo()
    assert batch([src], out).ok and count_frames(out / "a.mp4") == 3


def test_outputs_never_replace_foreign_files_or_inputs(tmp_path: Path) -> None:
    src = tmp_path / "in"
    clip(src / "a.mp4")
    b = clip(src / "b.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jsonl").write_text("my own notes\n")  # not written by this batch
    os.link(b, out / "b.mp4")  # the output would be the input itself (a hard link)
    s = batch([src], out)
    errors = dict((Path(k).name, e) for k, e in s.failed)
    assert "not written by this batch" in errors["a.mp4"] and "same file" in errors["b.mp4"]
    assert (out / "a.jsonl").read_text() == "my own notes\n"
    assert count_frames(b) == 3 and b.stat().st_nlink == 2
    s = batch([src], out, force=True)  # force replaces the foreign file, never the input
    assert [Path(k).name for k in s.done] == ["a.mp4"] and "same file" in s.failed[0][1]


def test_manifest_lock_and_torn_line(tmp_path: Path) -> None:
    src = tmp_path / "in"
    clip(src / "a.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text('{"input": "/x", "status": "do')  # a crash mid-line
    with Manifest.open(out) as m:
        assert m.torn_lines == 1 and m.entries == []
        with pytest.raises(InputError, match="another gazecam batch"):
            batch([src], out)
    s = batch([src], out)
    assert len(s.done) == 1
    text = (out / MANIFEST_NAME).read_text().splitlines()
    assert len(text) == 2 and json.loads(text[1])["status"] == "done"


def test_stop_discards_the_video_in_progress_and_resumes(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for name in ("a", "b", "c"):
        clip(src / f"{name}.mp4", 4)
    out = tmp_path / "out"
    stop = threading.Event()

    class StopInSecondVideo(BatchListener):
        def video_progress(self, *, slot, task, frames):
            if task.input.path.name == "b.mp4" and frames >= 1:
                stop.set()

    s = batch([src], out, FakeJobFactory(delay_s=0.15), stop=stop, listener=StopInSecondVideo())
    assert [Path(k).name for k in s.done] == ["a.mp4"]
    assert [Path(k).name for k in s.interrupted] == ["b.mp4"] and [Path(k).name for k in s.not_started] == ["c.mp4"]
    assert sorted(p.name for p in out.iterdir()) == ["a.jsonl", "a.jsonl.meta.json", "a.mp4",
                                                     MANIFEST_NAME]  # nothing half-written
    assert [e["status"] for e in lines(out / MANIFEST_NAME)] == ["done"]
    s = batch([src], out)
    assert sorted(Path(k).name for k in s.done) == ["b.mp4", "c.mp4"] and len(s.skipped) == 1
    assert [count_frames(out / f"{n}.mp4") for n in "abc"] == [4, 4, 4]


def test_worker_that_cannot_see_an_input_says_shared_storage(tmp_path: Path) -> None:
    from gazecam.batch.task import run_task

    src = clip(tmp_path / "in" / "a.mp4")
    task = plan_tasks(collect_inputs([src]).inputs, outdir=tmp_path / "out")[0]
    src.unlink()  # as on a node where the input's folder is not mounted
    outcome = run_task(FakeJobFactory()(), task, stop=threading.Event(), on_frame=lambda: None, node="node-b",
                       shared_storage_hint=True)
    assert outcome.status == "failed" and "input not found on node-b" in outcome.error
    assert "storage every worker sees" in outcome.error and not (tmp_path / "out").exists()


def test_model_load_failure_is_one_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    clip(src / "a.mp4")
    with pytest.raises(WorkerError, match="weights are broken"):
        batch([src], tmp_path / "out", FakeJobFactory(fail_load="weights are broken"))


def test_worker_processes_same_records_and_lost_worker(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for name, n in (("a", 3), ("b", 5), ("c", 2), ("d", 4)):
        clip(src / f"{name}.mp4", n)
    one, two = tmp_path / "one", tmp_path / "two"
    assert batch([src], one).ok
    s = batch([src], two, executor=ProcessExecutor(FakeJobFactory(), workers=2))
    assert s.ok and len(s.done) == 4
    for name in "abcd":
        assert (two / f"{name}.jsonl").read_text() == (one / f"{name}.jsonl").read_text()
    assert len({e["worker"] for e in lines(two / MANIFEST_NAME)}) == 2  # both workers took inputs

    ex = ProcessExecutor(FakeJobFactory(), workers=2)
    assert batch([src / "a.mp4"], tmp_path / "single", executor=ex).ok and ex.slots == 1  # 1 input: 1 worker

    three = tmp_path / "three"  # a worker dies (OOM-killed, say) on c.mp4: that input fails, the rest go on
    s = batch([src], three, executor=ProcessExecutor(FakeJobFactory(exit_on="c.mp4"), workers=2))
    assert [Path(k).name for k, _ in s.failed] == ["c.mp4"] and "died" in s.failed[0][1]
    assert sorted(Path(k).name for k in s.done) == ["a.mp4", "b.mp4", "d.mp4"]


def test_ray_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from gazecam.batch.ray_executor import RAY_INSTALL_HINT, import_ray

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(InputError, match=r'pip install "gazecam\[ray\]"'):
        import_ray()
    assert "gazecam[ray]" in RAY_INSTALL_HINT


def test_ray_slots() -> None:
    from gazecam.batch.ray_executor import ray_slots

    assert ray_slots(node_cpus=[16, 16], node_gpus=[0, 0]).__dict__ == {
        "workers": 8, "cpus_per_worker": 4.0, "gpus_per_worker": 0.0}
    assert ray_slots(node_cpus=[1, 1], node_gpus=[0, 0]).workers == 2  # one per small node
    assert ray_slots(node_cpus=[8, 8], node_gpus=[2, 1]).__dict__ == {
        "workers": 3, "cpus_per_worker": 1.0, "gpus_per_worker": 1.0}
    assert ray_slots(node_cpus=[2], node_gpus=[0], workers=2).cpus_per_worker == 1.0
    with pytest.raises(InputError, match="room for 1 worker"):
        ray_slots(node_cpus=[2], node_gpus=[0], workers=3, cpus_per_worker=2)
    with pytest.raises(InputError, match="has 0 GPU"):
        ray_slots(node_cpus=[2], node_gpus=[0], gpus_per_worker=1)


# -- the command's checks (before any model is loaded) ---------------------------------------------------
def test_command_errors_before_any_model(tmp_path: Path, tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gazecam.cli import main
    from gazecam.commands.batch import _is_ray_address

    out = str(tmp_path / "out")
    cases = [
        (["-o", out], "no INPUT given"),
        ([str(tmp_path / "nope.mp4"), "-o", out], "input not found"),
        ([str(tree), "-o", out, "--no-video", "--records-format", "none"], "nothing to write"),
        ([str(tree), "-o", out, "--cpus-per-worker", "2"], "apply to --ray only"),
        ([str(tree), "-o", out, "--stride", "0"], "expected a whole number >= 1"),
        ([str(tree), "-o", str(tree)], "is the output folder"),
        ([str(tree), "-o", out, "--gaze-weights", str(tmp_path / "missing.pt")], "not found"),
    ]
    for argv, message in cases:
        if "--stride" in argv:  # argparse's own check: usage error
            with pytest.raises(SystemExit):
                main(["batch", *argv])
        else:
            assert main(["batch", *argv]) == 1
        assert message in capsys.readouterr().err, argv
    assert not (tmp_path / "out").exists()  # nothing was created
    assert all(_is_ray_address(a) for a in ("auto", "local", "10.0.0.5:6379", "ray://head:10001", "[::1]:6379"))
    assert not any(_is_ray_address(a) for a in (str(tree), "in/", "videos", "a.mp4"))
