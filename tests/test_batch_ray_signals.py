"""`gazecam batch --ray` (a local Ray instance, the golden random weights) stopped by SIGTERM to the driver: exit
143 like the other executors, a valid manifest, and the next run resumes (issue 18 case 7; before: exit 134
with Ray's native stack dump).  The child runs with SIGINT's default handler set explicitly, dumps its stacks
if it hangs, and is killed in ``finally``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_batch_cli import astronaut_clip, manifest, model_args

from gazecam.batch.manifest import MANIFEST_NAME
from gazecam.batch.plan import TEMP_MARK

REPO = Path(__file__).resolve().parents[1]
HANG_S = 400  # the child dumps its stacks and exits after this long


def _start(argv: list[str]) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import faulthandler, signal, sys
        signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever the disposition we inherited
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        faulthandler.dump_traceback_later({HANG_S}, exit=True)
        from gazecam.cli import main
        sys.exit(main({argv!r}))
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
def test_sigterm_to_the_ray_driver_stops_cleanly_and_resumes(tmp_path: Path, golden_dir: Path) -> None:
    pytest.importorskip("ray", reason='Ray is the optional extra gazecam[ray] (scripts/test.sh installs it)')
    src = tmp_path / "in"
    for name in "abcdef":
        astronaut_clip(src / f"{name}.mp4", golden_dir, 4)
    out = tmp_path / "out"
    args = ["batch", str(src), "-o", str(out), "--quiet", *model_args(golden_dir)]
    proc = _start([*args, "--ray", "--workers", "1", "--cpus-per-worker", "1"])
    try:
        deadline = time.monotonic() + HANG_S - 20
        while not any(e["status"] == "done" for e in manifest(out)):
            assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGTERM)  # the driver only, as `kill PID` does
        _, err = proc.communicate(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, err
    assert "Stack trace" not in err and "Aborted" not in err and "Traceback" not in err, err
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    entries = [json.loads(x) for x in lines]  # every line whole
    done = {Path(e["input"]).stem for e in entries if e["status"] == "done"}
    assert done and len(done) < 6 and all(e["status"] == "done" for e in entries)
    assert {p.name for p in out.glob("*.mp4")} == {f"{n}.mp4" for n in done}  # nothing half-written
    assert not list(out.glob(f"*{TEMP_MARK}*")) and not list(out.glob(".gazecam-probe-*"))

    again = _start(args)  # resumes (in this process's executor: the manifest does not depend on it)
    try:
        _, err = again.communicate(timeout=HANG_S)
    finally:
        if again.poll() is None:
            os.killpg(again.pid, signal.SIGKILL)
            again.wait()
    assert again.returncode == 0, err
    entries = manifest(out)
    assert sorted(Path(e["input"]).stem for e in entries if e["status"] == "done") == list("abcdef")
