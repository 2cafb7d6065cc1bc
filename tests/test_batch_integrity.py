"""gazecam.batch under concurrency, moves and crashes (issue 18, batch cases 2-7, 14, 15): nested output folders,
symlink loops in globs, foreign and torn manifest lines, moved/copied/symlinked output folders, SIGTERM with
Ray's handler, a full disk while appending the manifest, a manifest that is a symlink.  Model-free job
(tests/fakes.py); the real-Ray SIGTERM run is in test_batch_ray_signals.py."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from fakes import FakeJobFactory, make_video

from gazecam.batch import InlineExecutor, Manifest, ModelIdentity, collect_inputs, run_batch
from gazecam.batch.manifest import MANIFEST_NAME
from gazecam.batch.runner import BatchListener
from gazecam.errors import InputError

IDENTITY = ModelIdentity(name="fake", weights_sha256={"decoder": "0" * 64})
KEY = {"stride": 1}
REPO = Path(__file__).resolve().parents[1]


def clip(path: Path, n: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_video(path, n=n, audio=False)


def batch(specs, outdir: Path, **kw):
    return run_batch(collect_inputs(specs).inputs, outdir=outdir, executor=InlineExecutor(FakeJobFactory()),
                     identity=IDENTITY, result_key=KEY, **kw)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def names(keys) -> list[str]:
    return sorted(Path(k).name for k in keys)


# -- case 2: nested output folders ------------------------------------------------------------------------
def test_nested_output_folders_refuse_each_other(tmp_path: Path) -> None:
    src = tmp_path / "in"
    clip(src / "x.mp4")
    out, sub = tmp_path / "out", tmp_path / "out" / "sub"
    sub.mkdir(parents=True)
    with Manifest.open(out):  # a batch is writing out/ (and may write out/sub/x.mp4)
        with pytest.raises(InputError, match=r"another gazecam batch is writing .*out, which contains the output "
                                             r"folder .*out/sub") as e:
            batch([src], sub)
        assert "\n" not in str(e.value)
    assert not (sub / MANIFEST_NAME).exists() and not (sub / "x.mp4").exists()
    with Manifest.open(sub):  # the other way round: the outer batch names the inner one
        with pytest.raises(InputError, match=rf"another gazecam batch is writing {sub}, inside the output folder "):
            batch([src], out)
        link = tmp_path / "link"
        link.symlink_to(sub)  # the same folder through a symlink: the same lock
        with pytest.raises(InputError, match="another gazecam batch is writing"):
            batch([src], link)
    side = tmp_path / "side"  # side-by-side folders run together
    (out / "a").mkdir()
    with Manifest.open(out / "a"):
        assert batch([src], out / "b").ok and batch([src], side).ok


def test_two_nested_batches_at_once_never_mix_inputs(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    clip(one / "x.mp4", 6)
    clip(two / "sub" / "x.mp4", 3)  # both write out/sub/x.mp4
    out = tmp_path / "out"
    started = threading.Event()

    class Slow(FakeJobFactory):
        def __call__(self):
            started.set()
            return super().__call__()

    result: dict[str, object] = {}

    def outer() -> None:
        result["outer"] = run_batch(collect_inputs([two]).inputs, outdir=out,
                                    executor=InlineExecutor(Slow(delay_s=0.2)), identity=IDENTITY, result_key=KEY)

    t = threading.Thread(target=outer, daemon=True)
    t.start()
    try:
        assert started.wait(60)
        with pytest.raises(InputError, match="another gazecam batch"):
            batch([one], out / "sub")
    finally:
        t.join(120)
    assert not t.is_alive() and result["outer"].ok  # type: ignore[union-attr]
    assert [r["frame"] for r in lines(out / "sub" / "x.jsonl")] == [0, 1, 2]  # its own input's records


# -- case 3: globs, symlink loops, one file reached twice ---------------------------------------------------
def test_glob_with_one_symlink_loop_yields_each_file_once(tmp_path: Path) -> None:
    d = tmp_path / "d"
    clip(d / "a.mp4")
    clip(d / "sub" / "b.mp4")
    (d / "l1").symlink_to(".")
    found = collect_inputs([str(d / "**" / "*.mp4")]).inputs
    assert [i.path.relative_to(d).as_posix() for i in found] == ["a.mp4", "sub/b.mp4"]


def test_glob_with_two_symlink_loops_ends(tmp_path: Path) -> None:
    """On main this collection never ends: it runs in a child killed after 60 s (stacks dumped first)."""
    d = tmp_path / "d"
    clip(d / "a.mp4")
    (d / "l1").symlink_to(".")
    (d / "l2").symlink_to(".")
    code = textwrap.dedent(f"""
        import faulthandler, signal, sys
        signal.signal(signal.SIGINT, signal.default_int_handler)
        faulthandler.dump_traceback_later(50, exit=True)
        from gazecam.batch import collect_inputs
        print([str(i.path) for i in collect_inputs([{str(d / '**' / '*.mp4')!r}]).inputs])
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == repr([str(d / "a.mp4")])


def test_symlink_and_hard_link_to_one_file_are_one_input(tmp_path: Path) -> None:
    d = tmp_path / "d"
    a = clip(d / "a.mp4")
    (d / "b.mp4").symlink_to("a.mp4")
    os.link(a, d / "c.mp4")
    for specs in ([d], [str(d / "*.mp4")], [a, d / "b.mp4", d / "c.mp4"]):
        assert [i.path.name for i in collect_inputs(specs).inputs] == ["a.mp4"], specs


# -- case 4 and 5: foreign and torn manifest lines ----------------------------------------------------------
@pytest.mark.parametrize("foreign", ["[]", "1", "null", '"text"', '{"input": "/x"}', "WRONG_TYPES"])
def test_foreign_manifest_line_is_reported_with_its_number(tmp_path: Path, foreign: str) -> None:
    src = tmp_path / "in"
    clip(src / "a.mp4")
    out = tmp_path / "out"
    assert batch([src], out).ok
    manifest = out / MANIFEST_NAME
    if foreign == "WRONG_TYPES":  # a whole entry whose paths and counts are not what they must be
        foreign = json.dumps({**lines(manifest)[0], "video": 5, "frames": "many", "input": "/x"})
    manifest.write_text(manifest.read_text() + foreign + "\n")
    messages: list[str] = []

    class Listen(BatchListener):
        def manifest_problem(self, *, message: str) -> None:
            messages.append(message)

    s = run_batch(collect_inputs([src]).inputs, outdir=out, executor=InlineExecutor(FakeJobFactory()),
                  identity=IDENTITY, result_key=KEY, listener=Listen())
    assert s.ok
    assert len(s.manifest_problems) == 1 and s.manifest_problems == tuple(messages)
    assert s.manifest_problems[0].startswith(f"{manifest} line 2: ") and "\n" not in s.manifest_problems[0]
    if foreign.startswith("{"):  # an object naming an input: that input is redone
        assert "/x is redone" in s.manifest_problems[0]


@pytest.mark.parametrize("cut, keep", [('"status":"', 2), ('"video":"', 3), (',"frames"', 4)])
def test_torn_last_line_after_the_outputs_were_renamed_is_redone(tmp_path: Path, cut: str, keep: int) -> None:
    src = tmp_path / "in"
    clip(src / "a.mp4")
    clip(src / "b.mp4")
    out = tmp_path / "out"
    assert batch([src], out).ok
    manifest = out / MANIFEST_NAME
    first, last = manifest.read_text().splitlines()
    assert json.loads(last)["input"] == str(src / "b.mp4")
    manifest.write_text(first + "\n" + last[: last.index(cut) + keep])  # a crash while writing b's line
    for attempt in range(2):  # the next run redoes b; and the one after that finds it done
        s = batch([src], out)
        assert s.ok and not s.failed, s.failed
        if attempt == 0:
            assert names(s.done) == ["b.mp4"] and names(s.skipped) == ["a.mp4"]
            assert s.manifest_problems == (f"{manifest} line 2: torn (cut short by a crash) or not JSON; ignored, "
                                           f"{src / 'b.mp4'} is redone",)
        else:
            assert names(s.skipped) == ["a.mp4", "b.mp4"] and not s.done
    text = manifest.read_text().splitlines()
    assert len(text) == 3 and json.loads(text[-1])["status"] == "done"  # the torn line stays; the new one follows


# -- case 6: moved, copied, symlinked output folders --------------------------------------------------------
def test_moved_copied_and_symlinked_output_folders_resume(tmp_path: Path) -> None:
    src = tmp_path / "in"
    clip(src / "a.mp4")
    clip(src / "sub" / "b.mp4")
    out = tmp_path / "out"
    assert batch([src], out).ok
    assert {e["video"] for e in lines(out / MANIFEST_NAME)} == {"a.mp4", "sub/b.mp4"}  # relative
    link = tmp_path / "link"
    link.symlink_to(out)
    moved = tmp_path / "elsewhere" / "out"
    moved.parent.mkdir()
    copied = tmp_path / "copy"
    shutil.copytree(out, copied)
    s = batch([src], link)
    assert names(s.skipped) == ["a.mp4", "b.mp4"] and not s.failed
    shutil.move(out, moved)
    for where in (moved, copied):
        s = batch([src], where)
        assert names(s.skipped) == ["a.mp4", "b.mp4"] and not s.failed and not s.done, where


def test_absolute_paths_of_older_manifests_still_read(tmp_path: Path) -> None:
    src = tmp_path / "in"
    clip(src / "a.mp4")
    out = tmp_path / "out"
    assert batch([src], out).ok
    entry = lines(out / MANIFEST_NAME)[0]
    entry.update(video=str(out / "a.mp4"), records=str(out / "a.jsonl"))  # as main wrote them
    (out / MANIFEST_NAME).write_text(json.dumps(entry) + "\n")
    link = tmp_path / "link"
    link.symlink_to(out)
    for where in (link, out):
        s = batch([src], where)
        assert names(s.skipped) == ["a.mp4"] and not s.failed and not s.manifest_problems


# -- case 14: a full disk while appending the manifest -----------------------------------------------------
def test_disk_full_while_appending_the_manifest_is_one_line_and_the_next_run_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gazecam.batch.manifest as manifest_module

    src = tmp_path / "in"
    clip(src / "a.mp4")
    out = tmp_path / "out"
    out.mkdir()
    real_write = os.write
    manifest_fds: set[int] = set()
    real_open = os.open

    def tracking_open(path, flags, *args, **kw):
        fd = real_open(path, flags, *args, **kw)
        if str(path).endswith(MANIFEST_NAME):
            manifest_fds.add(fd)
        return fd

    def full_write(fd, data):
        if fd in manifest_fds:  # half of the line reaches the disk, then it is full
            half = len(data) // 2
            if half > 1:
                return real_write(fd, bytes(data[:half]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(manifest_module.os, "open", tracking_open)
    monkeypatch.setattr(manifest_module.os, "write", full_write)
    with pytest.raises(InputError, match=r"cannot write the manifest .*manifest.jsonl: No space left on device") as e:
        batch([src], out)
    assert "\n" not in str(e.value)
    monkeypatch.undo()
    assert (out / MANIFEST_NAME).read_bytes() == b""  # no torn line left behind
    assert (out / ".a.gazecam-tmp.commit").exists()  # the outputs are known as this batch's
    s = batch([src], out)  # the next run redoes it
    assert s.ok and names(s.done) == ["a.mp4"] and not s.failed


def test_disk_full_through_the_command_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import gazecam.batch as batch_pkg
    import gazecam.batch.manifest as manifest_module
    from gazecam.cli import main

    src = tmp_path / "in"
    clip(src / "a.mp4")
    out = tmp_path / "out"

    def no_space(self, entry):
        raise OSError(errno.ENOSPC, "No space left on device")

    real_append = manifest_module.Manifest.append

    def append(self, entry):  # the real append, on a file system that is full
        monkeypatch.setattr(manifest_module.os, "fsync", lambda fd: no_space(self, entry))
        try:
            return real_append(self, entry)
        finally:
            monkeypatch.setattr(manifest_module.os, "fsync", os.fsync)

    monkeypatch.setattr(manifest_module.Manifest, "append", append)
    monkeypatch.setattr(batch_pkg, "model_identity", lambda spec: IDENTITY)
    monkeypatch.setattr("gazecam.commands.batch._executor",
                        lambda args, factory, outdir: InlineExecutor(FakeJobFactory()))
    code = main(["batch", str(src), "-o", str(out), "--quiet", "--gaze-weights", str(tmp_path / "w.pt")])
    err = capsys.readouterr().err
    assert code == 1 and "unexpected" not in err
    assert f"error: cannot write the manifest {out / MANIFEST_NAME}: No space left on device" in err
    assert len(err.strip().splitlines()) == 1, err


# -- case 15: a manifest that is a symlink -----------------------------------------------------------------
def test_manifest_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    clip(src / "a.mp4")
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("precious\n")
    (out / MANIFEST_NAME).symlink_to(target)
    with pytest.raises(InputError, match=r"the manifest .*manifest.jsonl is a symbolic link") as e:
        batch([src], out)
    assert "\n" not in str(e.value)
    assert target.read_text() == "precious\n" and not (out / "a.mp4").exists()
    (out / MANIFEST_NAME).unlink()
    os.link(target, out / MANIFEST_NAME)  # a hard link would write into the other name too
    with pytest.raises(InputError, match="hard links"):
        batch([src], out)
    assert target.read_text() == "precious\n"


# -- case 7: SIGTERM with Ray's handler installed by ray.init --------------------------------------------
def test_ray_init_does_not_take_the_sigterm_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ray.init installs a SIGTERM handler that exits at once (exit 134 with a native stack dump); the
    executor keeps the batch's handler, so SIGTERM sets the stop event (a fake Ray records what init does)."""
    import types

    from gazecam.batch.ray_executor import RayExecutor
    from gazecam.signals import stop_on_signals

    class Started(Exception):
        pass

    fake = types.ModuleType("ray")
    state = {"up": False}

    def init(**kwargs):
        state["up"] = True
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))  # what ray.init does

    def nodes():
        raise Started  # far enough: the handlers after init are what this test checks

    fake.is_initialized = lambda: state["up"]  # type: ignore[attr-defined]
    fake.init = init  # type: ignore[attr-defined]
    fake.nodes = nodes  # type: ignore[attr-defined]
    fake.shutdown = lambda: state.update(up=False)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", fake)
    with stop_on_signals() as stop:
        executor = RayExecutor(FakeJobFactory(), outdir=tmp_path / "out")
        with pytest.raises(Started):
            executor.start()
        try:
            assert signal.getsignal(signal.SIGTERM) == stop.handle
            os.kill(os.getpid(), signal.SIGTERM)  # handled by stop_on_signals: no SystemExit
            assert stop.wait(10) and stop.signum == signal.SIGTERM and stop.exit_code == 143
        finally:
            executor.close()
    assert not state["up"]


def test_crash_after_the_renames_before_any_byte_of_the_line_is_redone(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker renamed the outputs into place, then the driver died before writing the line (SIGKILL,
    power loss): the commit marker it leaves makes the next run redo the input instead of failing on it."""
    import gazecam.batch.manifest as manifest_module

    src = tmp_path / "in"
    clip(src / "a.mp4")
    out = tmp_path / "out"

    class Killed(BaseException):
        pass

    def die(self, entry):
        raise Killed

    monkeypatch.setattr(manifest_module.Manifest, "append", die)
    with pytest.raises(Killed):
        batch([src], out)
    monkeypatch.undo()
    assert (out / "a.mp4").is_file() and (out / MANIFEST_NAME).read_bytes() == b""
    s = batch([src], out)
    assert s.ok and names(s.done) == ["a.mp4"] and not s.failed
    assert sorted(p.name for p in out.iterdir()) == ["a.jsonl", "a.jsonl.meta.json", "a.mp4", MANIFEST_NAME]
    assert names(batch([src], out).skipped) == ["a.mp4"]
