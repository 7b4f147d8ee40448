"""Small real ONNX policies for tests, built with onnx.helper (no torch needed on the robot side).

The graph maps image uint8 [N, H, W, 3] to action float32 [N, 2] = (mean(image) / 255 * scale + bias),
so a test can check that frame content reaches the output; `nan=True` makes every output NaN.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from redraw_perception import PreprocessConfig


def make_onnx_policy(path: str | Path, preprocess: PreprocessConfig | None = None, scale=(1.0, 0.0),
                     bias=(0.0, 0.25), nan: bool = False, metadata: dict[str, Any] | None = None,
                     drop_metadata: tuple[str, ...] = ()) -> Path:
    preprocess = preprocess or PreprocessConfig()
    h, w, c = preprocess.out_shape
    scale_v = np.array(scale, np.float32) / 255.0
    bias_v = np.array([np.nan, np.nan] if nan else bias, np.float32)
    nodes = [
        helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["image_f"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["mean", "axis1"], ["mean_col"]),
        helper.make_node("Mul", ["mean_col", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["action"]),
    ]
    graph = helper.make_graph(
        nodes, "test_policy",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", h, w, c])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["N", 2])],
        initializer=[
            helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
            helper.make_tensor("scale", TensorProto.FLOAT, [1, 2], scale_v.tolist()),
            helper.make_tensor("bias", TensorProto.FLOAT, [1, 2], bias_v.tolist()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {
        "redraw.preprocess": preprocess.to_dict(),
        "redraw.action": {"dims": ["forward", "turn"], "low": -1.0, "high": 1.0},
        "redraw.kinematics": {"v_max": 0.5, "omega_max": 4.0},
        **(metadata or {}),
    }
    for key, value in meta.items():
        if key not in drop_metadata:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path
