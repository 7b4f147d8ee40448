"""`redraw export`: encoder + actor -> one self-describing ONNX file the robot runs.

Graph: image uint8 (N, S, S, 3) [+ history float32 (N, k*2): the last k commands sent, newest first, when the
model reads them] -> posterior logits -> most likely class per categorical (one-hot) -> actor mean -> action
float32 (N, 2) in [-1, 1]. Metadata (`redraw.*` keys) carries the preprocessing
config, the action semantics and kinematics, the model config and versions; `redraw_policy.runtime`
refuses a file whose contract does not match. A parity check against torch runs at export.
"""

from __future__ import annotations

import copy
import warnings
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from redraw_trainer.model.checkpoint import versions
from redraw_trainer.model.actor import Actor
from redraw_trainer.model.world_model import WorldModel

PARITY_TOLERANCE = 1e-4
ACTION_SEMANTICS = {"dims": ["forward", "turn"], "low": -1.0, "high": 1.0,
                    "note": "normalised (v, omega); redraw_policy.kinematics turns it into wheel commands"}


class ExportError(RuntimeError):
    """The exported graph disagrees with torch, or the export itself failed."""


class FrameToAction(nn.Module):
    """The deployed policy: deterministic, one frame (and the commands sent before it) in, one action out."""

    def __init__(self, model: WorldModel, actor: Actor) -> None:
        super().__init__()
        self.model, self.actor = model, actor
        self.groups, self.classes = model.cfg.groups, model.cfg.classes

    def forward(self, image: torch.Tensor, history: torch.Tensor | None = None) -> torch.Tensor:
        embedding = self.model.encoder(image)
        logits = self.model.posterior_head(self.model.posterior_input(embedding, history))
        logits = logits.reshape(-1, self.groups, self.classes)
        one_hot = (logits == logits.max(-1, keepdim=True).values).float()
        return self.actor.act(one_hot.reshape(-1, self.groups * self.classes))


def export_onnx(model: WorldModel, actor: Actor, path: str | Path, preprocess: dict[str, Any] | None,
                kinematics: dict[str, Any] | None = None, model_config: dict[str, Any] | None = None,
                sample_images: np.ndarray | None = None, extra: dict[str, Any] | None = None) -> float:
    """Write the ONNX file and return the max |torch - onnxruntime| over the parity inputs."""
    import onnx
    import onnxruntime as ort

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # export and parity run on a CPU copy: the robot runs the file on its CPU
    net = copy.deepcopy(FrameToAction(model, actor)).cpu().eval().float()
    size, history_dim = model.cfg.image_size, model.history_dim
    example = (torch.zeros(1, size, size, 3, dtype=torch.uint8),) + ((torch.zeros(1, history_dim),) if history_dim else ())
    names = ["image", "history"][:len(example)]
    tmp = path.with_name(f".{path.name}.tmp")
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose (small static graph, opset 17, onnxruntime 1.32 on the
        # robot); its deprecation notice and the tracer's shape-check notice are expected. The parity check
        # below is what guards the exported graph.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed", module="torch.onnx")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(net, example, str(tmp), input_names=names, output_names=["action"],
                          dynamic_axes={**{name: {0: "batch"} for name in names}, "action": {0: "batch"}},
                          dynamo=False, opset_version=17)
    proto = onnx.load(str(tmp))
    metadata = {
        "redraw.preprocess": preprocess,
        "redraw.action": ACTION_SEMANTICS,
        "redraw.kinematics": kinematics,
        "redraw.model_config": model_config,
        "redraw.versions": versions(),
        **{f"redraw.{k}": v for k, v in (extra or {}).items()},
    }
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    if sample_images is not None:
        images = np.concatenate([images, sample_images[:32]])
    inputs = {"image": images}
    if history_dim:
        inputs["history"] = rng.uniform(-1.0, 1.0, (len(images), history_dim)).astype(np.float32)
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    onnx_actions = session.run(["action"], inputs)[0]
    with torch.no_grad():
        torch_actions = net(*(torch.from_numpy(inputs[name]) for name in names)).numpy()
    diff = float(np.abs(onnx_actions - torch_actions).max())
    if not diff < PARITY_TOLERANCE:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"{path}: ONNX and torch actions differ by {diff:.2e} (> {PARITY_TOLERANCE}); not written")
    tmp.replace(path)
    return diff
