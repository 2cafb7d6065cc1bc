"""The GUI says what precision="auto" chose (model label in the status bar)."""

from __future__ import annotations

from gazecam.gui.processing import _backend_label
from gazecam.loading import ModelSpec


class _Model:
    def __init__(self, precision: str | None) -> None:
        if precision is not None:
            self.precision = precision


def test_backend_label_names_the_precision_auto_chose():
    label = _backend_label(ModelSpec(backend="onnxruntime", precision="auto"), _Model("int8"))
    assert label == "onnxruntime auto→int8"
    assert _backend_label(ModelSpec(backend="auto", precision="auto"), _Model(None)) == "_Model auto→fp32"
    assert _backend_label(ModelSpec(backend="torch", precision="bf16"), _Model("bf16")) == "torch bf16"
    assert _backend_label(ModelSpec(backend="torch"), _Model(None)) == "torch"
