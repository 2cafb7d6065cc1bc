"""gazecam.outputs: temporary file + rename, never removing what gazecam did not create, outputs vs inputs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gazecam.errors import InputError, SinkError
from gazecam.outputs import (Inputs, Named, PendingOutput, atomic_output, begin_output, check_before_writing,
                             check_output_path, check_outputs, is_special_file, partial_path)


def char_device(folder: Path, name: str, major: int, minor: int) -> Path:
    """A character device node like /dev/full (1, 7) or /dev/null (1, 3) in a temp folder (root only)."""
    if os.geteuid() != 0:
        pytest.skip("making a device node (mknod) needs root; the fifo tests cover non-regular outputs here")
    path = folder / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError as e:  # e.g. a container without CAP_MKNOD
        pytest.skip(f"mknod is not permitted here ({e})")
    return path


def test_partial_names():
    assert partial_path("out.mp4") == Path("out.partial.mp4")
    assert partial_path("a/b.records.jsonl", 3) == Path("a/b.records.partial-3.jsonl")
    assert partial_path("noext") == Path("noext.partial")


def test_commit_renames_and_discard_removes_only_the_temporary_file(tmp_path):
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"previous run")
    pending = PendingOutput(dest)
    assert pending.write_path == tmp_path / "out.partial.mp4" and pending.write_path.exists()
    pending.write_path.write_bytes(b"new")
    assert dest.read_bytes() == b"previous run"  # untouched while writing
    pending.commit()
    assert dest.read_bytes() == b"new" and not pending.write_path.exists()
    pending.discard()  # after commit: nothing happens
    assert dest.read_bytes() == b"new"

    failed = PendingOutput(dest)
    failed.write_path.write_bytes(b"half")
    failed.discard()
    assert dest.read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["out.mp4"]


def test_a_leftover_partial_file_is_never_reused_or_removed(tmp_path):
    dest = tmp_path / "out.mp4"
    leftover = partial_path(dest)
    leftover.write_bytes(b"what a killed run left")
    pending = PendingOutput(dest)
    assert pending.write_path == tmp_path / "out.partial-2.mp4"
    pending.discard()
    assert leftover.read_bytes() == b"what a killed run left"


def test_new_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "r.json") as tmp:
            tmp.write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_atomic_output_keeps_the_destination_on_failure(tmp_path):
    dest = tmp_path / "report.html"
    dest.write_text("old report")
    with pytest.raises(RuntimeError):
        with atomic_output(dest) as tmp:
            assert tmp.suffix == ".html"
            tmp.write_text("half a report")
            raise RuntimeError("boom")
    assert dest.read_text() == "old report" and sorted(os.listdir(tmp_path)) == ["report.html"]
    with atomic_output(dest) as tmp:
        tmp.write_text("new report")
    assert dest.read_text() == "new report"


def test_a_symlink_to_a_file_stays_a_symlink(tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("old")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with atomic_output(link) as tmp:
        assert tmp.parent == tmp_path and tmp.name == "real.partial.jsonl"
        tmp.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_fifo_is_written_directly_and_never_removed(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert is_special_file(fifo)
    check_output_path(fifo, parameter="video_path")  # returns at once: no reader is waiting on the fifo
    pending = PendingOutput(fifo)
    assert pending.direct and pending.write_path == fifo
    pending.discard()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_device_node_is_never_removed(tmp_path):
    full = char_device(tmp_path, "full", 1, 7)
    for end in ("commit", "discard"):
        pending = PendingOutput(full)
        assert pending.direct and pending.write_path == full
        getattr(pending, end)()
        assert stat.S_ISCHR(os.stat(full).st_mode)
    check_output_path(full, parameter="video_path")  # opened for appending only
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_check_output_path(tmp_path):
    with pytest.raises(InputError, match=r"video_path=.*folder .* does not exist"):
        check_output_path(tmp_path / "missing" / "o.mp4", parameter="video_path")
    with pytest.raises(InputError, match="is a directory"):
        check_output_path(tmp_path, parameter="records_path")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        check_output_path(blocker / "o.mp4", parameter="video_path")
    keep = tmp_path / "keep.mp4"
    keep.write_bytes(b"old")
    check_output_path(keep, parameter="video_path")
    check_output_path(tmp_path / "new.mp4", parameter="video_path")
    assert keep.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["file", "keep.mp4"]


def test_an_output_hard_linked_to_the_input_is_refused(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"input")
    link = tmp_path / "link.mp4"
    os.link(video, link)
    with pytest.raises(InputError, match=r"video_path='.*link.mp4' is the input file source=.* \(by a link\)"):
        check_outputs([Named("video_path", link)], [Named("source", video)])
    symlink = tmp_path / "sym.mp4"
    symlink.symlink_to(video)
    with pytest.raises(InputError, match="is the input file"):
        check_outputs([Named("video_path", symlink)], [Named("source", video)])
    with pytest.raises(InputError, match="is the input file"):  # a path that is not normalised
        check_outputs([Named("video_path", tmp_path / "." / "in.mp4")], [Named("source", video)])
    assert video.read_bytes() == b"input"


def test_outputs_in_an_image_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "img001.png").write_bytes(b"png")
    elsewhere = tmp_path / "copy.png"
    os.link(folder / "img001.png", elsewhere)
    src = [Named("source", folder)]
    with pytest.raises(InputError, match="is one of the images of the input folder"):
        check_outputs([Named("video_path", folder / "img001.png")], src)
    with pytest.raises(InputError, match="is one of the images of the input folder"):
        check_outputs([Named("video_path", elsewhere)], src)  # a hard link to one of them
    with pytest.raises(InputError, match="would be read as one of its images"):
        check_outputs([Named("video_path", folder / "new.JPG")], src)
    check_outputs([Named("video_path", folder / "annotated.mp4"), Named("records_path", folder / "r.jsonl")], src)


def test_records_that_are_the_heads_file_and_outputs_that_are_one_file(tmp_path):
    heads = tmp_path / "h.jsonl"
    heads.write_text("{}\n")
    with pytest.raises(InputError, match=r"records_path=.* is the input file heads_path="):
        check_outputs([Named("records_path", heads)], [Named("heads_path", heads)])
    with pytest.raises(InputError, match=r"video_path=.* and records_path=.* name the same file"):
        check_outputs([Named("video_path", tmp_path / "o.mp4"), Named("records_path", tmp_path / "sub/../o.mp4")],
                      [])


def test_devices_are_not_compared(tmp_path):
    null = char_device(tmp_path, "null", 1, 3)
    check_outputs([Named("video_path", null), Named("records_path", null)], [Named("source", tmp_path)])


def test_a_link_to_a_pipe_like_dev_stdout_is_never_removed(tmp_path):
    """/dev/stdout is a symlink to /proc/self/fd/1; into a pipe it must be written directly, never unlinked
    (the old sink removed /dev/stdout itself when a write failed)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    stdout = tmp_path / "stdout"
    stdout.symlink_to(fifo)
    pending = PendingOutput(stdout)
    assert pending.direct and pending.write_path == stdout
    pending.discard()
    assert stdout.is_symlink() and stat.S_ISFIFO(os.stat(stdout).st_mode)


def test_check_before_writing_is_both_checks_writability_first(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"input")
    src = [Named("source", video)]
    with pytest.raises(InputError, match=r"video_path=.*folder .* does not exist"):
        check_before_writing([Named("video_path", tmp_path / "missing" / "o.mp4")], src)
    with pytest.raises(InputError, match=r"video_path=.* is the input file source="):
        check_before_writing([Named("video_path", video)], src)
    with pytest.raises(InputError, match=r"video_path=.* and records_path=.* name the same file"):
        check_before_writing([Named("video_path", tmp_path / "o.mp4"), Named("records_path", tmp_path / "o.mp4")])
    check_before_writing([Named("video_path", tmp_path / "o.mp4")], src)
    assert video.read_bytes() == b"input" and sorted(os.listdir(tmp_path)) == ["in.mp4"]


def test_inputs_looked_at_once_serve_many_outputs(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "img001.png").write_bytes(b"png")
    files = [tmp_path / f"v{i}.mp4" for i in range(3)]
    for f in files:
        f.write_bytes(b"v")
    heads = tmp_path / "h.jsonl"
    heads.write_text("{}\n")
    inputs = Inputs([Named("input", f) for f in files] + [Named("input", folder), Named("heads_path", heads)])
    for f in files:
        check_before_writing([Named("output", f.with_suffix(".out.mp4"))], inputs)
    with pytest.raises(InputError, match=r"output=.*v1.mp4' is the input file input=.*v1.mp4'"):
        check_before_writing([Named("output", tmp_path / "x.mp4"), Named("output", files[1])], inputs)
    with pytest.raises(InputError, match=r"is the input file heads_path="):
        check_outputs([Named("records_path", heads)], inputs)
    with pytest.raises(InputError, match="is one of the images of the input folder"):
        check_outputs([Named("output", folder / "img001.png")], inputs)
    with pytest.raises(InputError, match="would be read as one of its images"):
        check_outputs([Named("output", folder / "new.png")], inputs)
    # outputs that hit two inputs: the first input (as given) is named
    with pytest.raises(InputError, match=r"output=.*v0.mp4' is the input file input=.*v0.mp4'"):
        check_outputs([Named("output", files[2]), Named("output", files[0])],
                      [Named("input", files[0]), Named("input", files[2])])


def test_begin_output_says_why_in_one_line(tmp_path):
    with pytest.raises(SinkError, match=r"cannot write video .*o.mp4: directory .*missing does not exist; create"):
        begin_output(tmp_path / "missing" / "o.mp4", "video")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SinkError, match=r"cannot write records .*: .*file is not a directory"):
        begin_output(blocker / "o.jsonl", "records")
    with pytest.raises(SinkError, match="it is a directory; give a file name"):
        begin_output(tmp_path, "video")
    with pytest.raises(IsADirectoryError):
        PendingOutput(tmp_path)  # never renamed over a folder at the end of a run
    pending = begin_output(tmp_path / "o.mp4", "video")
    assert pending.write_path == tmp_path / "o.partial.mp4"
    pending.discard()
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_held_outputs_are_renamed_by_their_owner_together(tmp_path):
    """HeldOutputs (batch): writers commit under the owner's one temporary name; only rename() puts them in place."""
    from gazecam.outputs import HeldOutputs
    from gazecam.records import RecordsMeta, read_meta
    from gazecam.sinks import RecordsSink

    video, records, elsewhere = tmp_path / "a.mp4", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    side = tmp_path / "a.jsonl.meta.json"
    temps = {video: tmp_path / ".a.tmp.mp4", records: tmp_path / ".a.tmp.jsonl", side: tmp_path / ".a.tmp.meta.json"}
    video.write_bytes(b"previous run")
    held = HeldOutputs(temps)
    with held.writing():
        check_output_path(video, parameter="video_path")  # its probe claims the name and gives it back
        with atomic_output(video) as tmp:
            assert tmp == temps[video]
            tmp.write_bytes(b"new clip")
        with RecordsSink(records, meta=RecordsMeta(source="a.mp4", model="m", released=False)) as sink:
            assert sink.write_path == temps[records]
        with atomic_output(elsewhere) as tmp:  # not held: the usual NAME.partial.SUFFIX, renamed at once
            assert tmp == partial_path(elsewhere)
            tmp.write_text("x")
    assert elsewhere.read_text() == "x"
    assert held.ready(video) and held.ready(records) and held.ready(side)
    assert video.read_bytes() == b"previous run" and not records.exists() and not side.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.tmp.jsonl", ".a.tmp.meta.json", ".a.tmp.mp4",
                                                          "a.mp4", "b.jsonl"]
    assert held.rename([side, records, video]) == [side, records, video]
    assert video.read_bytes() == b"new clip" and records.read_bytes() == b"" and read_meta(records).model == "m"
    assert not any(t.exists() for t in temps.values())
    outside = PendingOutput(video)  # outside writing(): an ordinary pending output
    assert not outside.held and outside.write_path == partial_path(video)
    outside.discard()


def test_held_outputs_discard_removes_only_the_temporary_names(tmp_path):
    from gazecam.outputs import HeldOutputs

    out = tmp_path / "a.mp4"
    out.write_bytes(b"previous run")
    held = HeldOutputs({out: tmp_path / ".a.tmp.mp4"})
    (tmp_path / ".a.tmp.mp4").write_bytes(b"leftover")
    with held.writing(), pytest.raises(FileExistsError):  # a name the owner must clear first (O_EXCL)
        PendingOutput(out)
    held.discard()
    with held.writing():
        pending = begin_output(out, "video")
        assert pending.held and pending.write_path == tmp_path / ".a.tmp.mp4"
        pending.write_path.write_bytes(b"half a clip")
        pending.discard()  # a failing writer: its temporary name goes, the destination stays
        assert not held.ready(out) and not pending.write_path.exists()
        pending = begin_output(out, "video")
        pending.commit()
    assert held.ready(out)
    held.discard()
    assert not held.ready(out) and held.rename([out]) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"] and out.read_bytes() == b"previous run"
