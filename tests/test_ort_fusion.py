"""Fused attention for the decoder on ONNX Runtime: the rewritten graph computes what the exported one does."""

from __future__ import annotations

import numpy as np
import pytest

from gazecam.backends.ort_fusion import fuse_attention


@pytest.mark.slow
def test_fused_decoder_graph_equals_the_exported_one(tmp_path):
    import onnx
    import onnxruntime as ort

    from gazecam.backends.onnxruntime import OrtBackend
    from gazecam.export import export_onnx
    from gazecam.model import GazeModel
    from gazecam.models.gazelle import DIM, NUM_HEADS, NUM_LAYERS

    model = GazeModel.from_random(backbone="hgnetv2_atto", inout=True, seed=0)
    export_onnx(model, tmp_path, check=False)
    onnx_model = onnx.load(str(tmp_path / "decoder.onnx"))
    assert fuse_attention(onnx_model, num_heads=NUM_HEADS, dim=DIM) == NUM_LAYERS
    ops = [n.op_type for n in onnx_model.graph.node]
    assert ops.count("MultiHeadAttention") == NUM_LAYERS and "Softmax" not in ops
    assert fuse_attention(onnx_model, num_heads=NUM_HEADS, dim=DIM) == 0  # nothing left to fuse
    plain = ort.InferenceSession(str(tmp_path / "decoder.onnx"), providers=["CPUExecutionProvider"])
    fused = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    f = model.featmap
    scene = rng.standard_normal((1, 256, f, f)).astype(np.float32)
    head_maps = np.zeros((3, f, f), np.float32)
    head_maps[0, 2:6, 3:8] = head_maps[1, 10:14, 0:4] = 1  # the third: no head (an empty map)
    names = [o.name for o in plain.get_outputs()]
    a = plain.run(names, {"scene": scene, "head_maps": head_maps})
    b = fused.run(names, {"scene": scene, "head_maps": head_maps})
    for x, y in zip(a, b):
        assert np.abs(x - y).max() <= 1e-5
    backend = OrtBackend(export_dir=tmp_path)
    assert backend.fused_attention == NUM_LAYERS and "fused_attention=3" in repr(backend)
