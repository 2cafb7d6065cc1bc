"""gazecam.weights: safe checkpoint loading, and its errors never pass on torch's advice to load unsafely."""

from __future__ import annotations

import pytest
import torch
from test_ultra import code_running_file

from gazecam.weights import WeightsError, describe_load_error, load_state_dict_file


def test_code_running_checkpoint_is_refused_without_torchs_advice(tmp_path):
    marker = tmp_path / "marker"
    path = code_running_file(tmp_path / "decoder.pt", marker, tensors=True)
    with pytest.raises(WeightsError) as e:
        load_state_dict_file(path, what="gaze decoder")
    msg = str(e.value)
    assert "could run code" in msg and "delete it or replace it" in msg and str(path) in msg
    assert "weights_only" not in msg and "trust" not in msg and "\n" not in msg
    assert not marker.exists()


def test_load_errors_are_described_in_one_line_without_advice(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    zipped = tmp_path / "zip.pt"
    zipped.write_bytes(b"PK\x03\x04 broken")
    described = []
    for p in (junk, zipped):
        with pytest.raises(Exception) as e:
            torch.load(p, map_location="cpu", weights_only=True)
        described.append(describe_load_error(e.value))
    assert described[0] == "its data is not a checkpoint torch can read safely (unreadable pickle data)"
    assert described[1].startswith("RuntimeError: PytorchStreamReader failed reading zip archive")
    assert all("\n" not in d and "weights_only" not in d for d in described)
    assert describe_load_error(OSError("disk gone")) == "OSError: disk gone"
