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


def make_onnx_meter_policy(path: str | Path, groups: int = 4, classes: int = 3, preprocess: PreprocessConfig | None = None,
                           threshold: float | None = 0.1, drop_output: str | None = None,
                           contract: dict[str, Any] | None = None) -> Path:
    """A policy that also carries a reality-gap meter (the contract `redraw export` writes, see
    redraw_policy.gap_meter): action as `make_onnx_policy`; z and posterior fixed (the posterior puts 0.7 on
    class 0 of every categorical); prior = log(0.5 * prev_belief + 0.5 / K), so the meter's reading is finite
    and positive and depends on the carried belief. `drop_output` leaves one meter output out (a broken file);
    `contract` overrides fields of the `redraw.reality_gap` metadata."""
    preprocess = preprocess or PreprocessConfig()
    h, w, c = preprocess.out_shape
    latent = groups * classes
    probs = np.full((groups, classes), 0.3 / (classes - 1), np.float32)
    probs[:, 0] = 0.7
    z = np.zeros((groups, classes), np.float32)
    z[:, 0] = 1.0
    nodes = [
        helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["image_f"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["mean", "axis1"], ["mean_col"]),
        helper.make_node("Mul", ["mean_col", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["action"]),
        helper.make_node("Mul", ["mean_col", "zeros"], ["batch_zeros"]),  # (N, L): gives the constants a batch
        helper.make_node("Add", ["batch_zeros", "z_const"], ["z"]),
        helper.make_node("Add", ["batch_zeros", "posterior_const"], ["posterior"]),
        helper.make_node("Mul", ["prev_belief", "half"], ["half_belief"]),
        helper.make_node("Add", ["half_belief", "mix"], ["prior_probs"]),
        helper.make_node("Log", ["prior_probs"], ["prior"]),
    ]
    outputs = {"action": 2, "z": latent, "posterior": latent, "prior": latent}
    graph = helper.make_graph(
        nodes, "test_meter_policy",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", h, w, c]),
         helper.make_tensor_value_info("prev_z", TensorProto.FLOAT, ["N", latent]),
         helper.make_tensor_value_info("prev_action", TensorProto.FLOAT, ["N", 2]),
         helper.make_tensor_value_info("prev_belief", TensorProto.FLOAT, ["N", latent]),
         helper.make_tensor_value_info("is_first", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", width]) for name, width in outputs.items()
         if name != drop_output],
        initializer=[
            helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
            helper.make_tensor("scale", TensorProto.FLOAT, [1, 2], [0.0, 0.0]),
            helper.make_tensor("bias", TensorProto.FLOAT, [1, 2], [0.3, 0.1]),
            helper.make_tensor("zeros", TensorProto.FLOAT, [1, latent], [0.0] * latent),
            helper.make_tensor("z_const", TensorProto.FLOAT, [1, latent], z.ravel().tolist()),
            helper.make_tensor("posterior_const", TensorProto.FLOAT, [1, latent], np.log(probs).ravel().tolist()),
            helper.make_tensor("half", TensorProto.FLOAT, [1], [0.5]),
            helper.make_tensor("mix", TensorProto.FLOAT, [1], [0.5 / classes]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {
        "redraw.preprocess": preprocess.to_dict(),
        "redraw.action": {"dims": ["forward", "turn"], "low": -1.0, "high": 1.0},
        "redraw.kinematics": {"v_max": 0.5, "omega_max": 4.0},
        "redraw.reality_gap": {"version": 1, "inputs": ["image", "prev_z", "prev_action", "prev_belief", "is_first"],
                               "outputs": list(outputs), "latent": [groups, classes], "action_dim": 2,
                               "threshold": threshold, **(contract or {})},
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path
