"""Fused attention for the decoder graph on ONNX Runtime (an in-memory rewrite; the export files stay as they are).

torch's ONNX export of ``scaled_dot_product_attention`` is a chain of plain ops per transformer layer::

    X (N, S, 3D) -> Reshape (N, S, 3, H, D/H) -> Transpose [2, 0, 3, 1, 4] -> Split -> Squeeze -> q, k, v
    MatMul(q * s, k^T * s) -> Softmax -> MatMul(., v) -> Transpose [0, 2, 1, 3] -> Reshape (N, S, D)

:func:`fuse_attention` replaces each chain by ``Split(X) -> com.microsoft.MultiHeadAttention(q, k, v)`` (one
kernel, default scale 1/sqrt(D/H) as SDPA's): about half the time of the chain on the CPU, same results up to
float rounding.  ONNX Runtime's own transformer optimizer does not recognise this chain.  TensorRT knows no
``com.microsoft`` op, so the files keep the plain chain and :class:`~gazecam.backends.onnxruntime.OrtBackend`
rewrites its copy in memory.  No I/O here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["fuse_attention"]


def _attr(node: Any, name: str) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return None


def fuse_attention(model: Any, *, num_heads: int, dim: int) -> int:
    """Rewrite the SDPA chains of ``model`` (an ``onnx.ModelProto``, changed in place); returns how many.

    Chains that do not match exactly are left alone.  Nodes left without consumers are removed.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def prod(name: str, op: str) -> Any:
        n = producer.get(name)
        return n if n is not None and n.op_type == op else None

    def only_consumer(name: str, op: str) -> Any:
        c = consumers.get(name, [])
        return c[0] if len(c) == 1 and c[0].op_type == op else None

    def split_source(name: str) -> tuple[Any, int] | None:
        """A Squeeze(Split(...)) output -> (the Split, its output index)."""
        sq = prod(name, "Squeeze")
        sp = prod(sq.input[0], "Split") if sq is not None else None
        if sp is None:
            return None
        return sp, list(sp.output).index(sq.input[0])

    fused, new_nodes = 0, []
    replaced: dict[str, list] = {}  # id of the final Reshape -> the nodes that replace it
    for sm in [n for n in g.node if n.op_type == "Softmax"]:
        mm1 = prod(sm.input[0], "MatMul")
        mm2 = only_consumer(sm.output[0], "MatMul")
        tr = only_consumer(mm2.output[0], "Transpose") if mm2 is not None else None
        rs = only_consumer(tr.output[0], "Reshape") if tr is not None else None
        if mm1 is None or rs is None or mm2.input[0] != sm.output[0] or list(_attr(tr, "perm") or []) != [0, 2, 1, 3]:
            continue
        q_mul, k_mul = prod(mm1.input[0], "Mul"), prod(mm1.input[1], "Mul")
        k_tr = prod(k_mul.input[0], "Transpose") if k_mul is not None else None
        if q_mul is None or k_tr is None or list(_attr(k_tr, "perm") or []) != [0, 1, 3, 2]:
            continue
        sources = [split_source(q_mul.input[0]), split_source(k_tr.input[0]), split_source(mm2.input[1])]
        if any(s is None for s in sources) or len({id(s[0]) for s in sources}) != 1:
            continue
        split = sources[0][0]
        if [s[1] for s in sources] != [0, 1, 2] or _attr(split, "axis") != 0:
            continue
        qkv_tr = prod(split.input[0], "Transpose")
        qkv_rs = prod(qkv_tr.input[0], "Reshape") if qkv_tr is not None else None
        if qkv_rs is None or list(_attr(qkv_tr, "perm") or []) != [2, 0, 3, 1, 4]:
            continue
        x = qkv_rs.input[0]  # (N, S, 3D): q | k | v, each head-major as MultiHeadAttention expects
        base = f"gazecam_mha_{fused}"
        sizes = numpy_helper.from_array(np.array([dim, dim, dim], dtype=np.int64), f"{base}_sizes")
        g.initializer.append(sizes)
        q, k, v = (f"{base}_{c}" for c in "qkv")
        replaced[id(rs)] = [
            helper.make_node("Split", [x, sizes.name], [q, k, v], name=f"{base}_split", axis=2),
            helper.make_node("MultiHeadAttention", [q, k, v], [rs.output[0]], name=base, domain="com.microsoft",
                             num_heads=num_heads),
        ]
        fused += 1
    if not fused:
        return 0
    for n in g.node:
        new_nodes.extend(replaced.get(id(n), [n]))
    # drop what no longer reaches a graph output
    needed = {o.name for o in g.output}
    keep = []
    for n in reversed(new_nodes):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    del g.node[:]
    g.node.extend(reversed(keep))
    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return fused
