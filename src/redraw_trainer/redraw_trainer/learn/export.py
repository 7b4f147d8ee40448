"""`redraw export`: encoder + actor -> one self-describing ONNX file the robot runs.

Graph: image uint8 (N, S, S, 3) [+ history float32 (N, k*2): the last k commands sent, newest first, when the
model reads them] -> posterior logits -> most likely class per categorical (one-hot) -> actor mean -> action
float32 (N, 2) in [-1, 1]. Metadata (`redraw.*` keys) carries the preprocessing
config, the action semantics and kinematics, the model config and versions; `redraw_policy.runtime`
refuses a file whose contract does not match. A parity check against torch runs at export.

With `dynamics` (the prior the policy imagined in: `model.dynamics`, or a `RectifiedDynamics` with its ReDRAW
residual), the same graph also carries the reality-gap meter, additively (the `action` output is unchanged):

    inputs   image (N, S, S, 3) uint8, prev_z (N, G*K), prev_action (N, 2), prev_belief (N, G*K),
             is_first (N, 1) float32 (1: no previous frame; the prior is the learned initial one)
    outputs  action (N, 2), z (N, G*K) one-hot mode of the posterior (what the actor reads),
             posterior (N, G*K) and prior (N, G*K) unimixed log-probabilities

so the robot (`redraw_policy.gap_meter`) carries z, the command it sent and exp(prior) from frame to frame and
reads KL(posterior || prior) per frame. `redraw.reality_gap` in the metadata names these and holds the warning
threshold (`set_gap_threshold`, measured in simulation by `measure.reality_gap.calibrate_threshold`).
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
from redraw_trainer.model.distributions import unimix_logits
from redraw_trainer.model.world_model import WorldModel, command_dim

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


HISTORY_INPUT = "history"  # the commands c_t (the last k sent, newest first) for models that read them
METER_INPUTS = ("image", "prev_z", "prev_action", "prev_belief", "is_first")
METER_OUTPUTS = ("action", "z", "posterior", "prior")
METER_VERSION = 1


class FrameToActionWithMeter(FrameToAction):
    """The deployed policy plus the prior it imagined in: one frame (with its command history), the previous z, the
    commands c_t that led into this frame (`prev_action`: the last command sent, or the last k for a model that
    reads k) and the previous belief in; the action, z and the posterior and prior log-probs (flattened (N, G*K))
    out."""

    def __init__(self, model: WorldModel, actor: Actor, dynamics: nn.Module) -> None:
        super().__init__(model, actor)
        self.dynamics, self.unimix = dynamics, model.cfg.unimix

    def forward(self, image: torch.Tensor, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        history = inputs[0] if self.model.history_dim else None
        prev_z, prev_action, prev_belief, is_first = inputs[1:] if self.model.history_dim else inputs
        shape, flat = (-1, self.groups, self.classes), (-1, self.groups * self.classes)  # static widths: checked
        embedding = self.model.encoder(image)
        logits = self.model.posterior_head(self.model.posterior_input(embedding, history)).reshape(shape)
        z = (logits == logits.max(-1, keepdim=True).values).float()  # as FrameToAction: the actor's input
        action = self.actor.act(z.reshape(flat))
        posterior = unimix_logits(logits, self.unimix)
        predicted = self.dynamics(prev_z.reshape(shape), prev_action, prev_belief.reshape(shape))
        initial = self.dynamics.initial_logits(1)  # broadcast over the batch
        prior = unimix_logits(torch.where(is_first.reshape(-1, 1, 1) > 0.5, initial, predicted), self.unimix)
        return action, z.reshape(flat), posterior.reshape(flat), prior.reshape(flat)


def meter_contract(model: WorldModel, dynamics: nn.Module, threshold: float | None) -> dict[str, Any]:
    """The `redraw.reality_gap` metadata: the graph's meter inputs and outputs, the latent, the threshold."""
    method = "residual" if hasattr(dynamics, "residual") else ("prior" if dynamics is model.dynamics else "adapted")
    return {"version": METER_VERSION, "inputs": list(METER_INPUTS), "outputs": list(METER_OUTPUTS),
            "latent": [model.cfg.groups, model.cfg.classes], "action_dim": command_dim(model.cfg),
            "dynamics": method, "kl": "KL(posterior || prior) summed over the categoricals, nats",
            "threshold": threshold}


def meter_parity_inputs(groups: int, classes: int, commands: int, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random but well-formed meter inputs for `count` frames: one-hot z, commands in [-1, 1], normalised beliefs."""
    rng = np.random.default_rng(seed)
    z = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, (count, groups))].reshape(count, -1)
    belief = rng.dirichlet(np.ones(classes), (count, groups)).astype(np.float32).reshape(count, -1)
    return {"prev_z": z, "prev_action": rng.uniform(-1, 1, (count, commands)).astype(np.float32), "prev_belief": belief,
            "is_first": (np.arange(count) % 4 == 0).astype(np.float32)[:, None]}


def export_onnx(model: WorldModel, actor: Actor, path: str | Path, preprocess: dict[str, Any] | None,
                kinematics: dict[str, Any] | None = None, model_config: dict[str, Any] | None = None,
                sample_images: np.ndarray | None = None, extra: dict[str, Any] | None = None,
                dynamics: nn.Module | None = None, gap_threshold: float | None = None) -> float:
    """Write the ONNX file and return the max |torch - onnxruntime| over the parity inputs (every output).

    `dynamics`: also carry the reality-gap meter (see the module docstring); None writes the plain
    image -> action graph."""
    import onnx
    import onnxruntime as ort

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # export and parity run on a CPU copy: the robot runs the file on its CPU
    meter = dynamics is not None
    net = FrameToActionWithMeter(model, actor, dynamics) if meter else FrameToAction(model, actor)
    net = copy.deepcopy(net).cpu().eval().float()
    size, latent, history_dim = model.cfg.image_size, model.cfg.groups * model.cfg.classes, model.history_dim
    example: tuple[torch.Tensor, ...] = (torch.zeros(1, size, size, 3, dtype=torch.uint8),)
    names_in, names_out = ["image"], ["action"]
    if history_dim:
        example += (torch.zeros(1, history_dim),)
        names_in.append(HISTORY_INPUT)
    if meter:
        example += (torch.zeros(1, latent), torch.zeros(1, command_dim(model.cfg)), torch.zeros(1, latent),
                    torch.ones(1, 1))
        names_in, names_out = names_in + list(METER_INPUTS[1:]), list(METER_OUTPUTS)
    tmp = path.with_name(f".{path.name}.tmp")
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose (small static graph, opset 17, onnxruntime 1.32 on the
        # robot); its deprecation notice and the tracer's shape-check notice are expected. The parity check
        # below is what guards the exported graph.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed", module="torch.onnx")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(net, example, str(tmp), input_names=names_in, output_names=names_out,
                          dynamic_axes={name: {0: "batch"} for name in names_in + names_out}, dynamo=False,
                          opset_version=17)
    proto = onnx.load(str(tmp))
    metadata = {
        "redraw.preprocess": preprocess,
        "redraw.action": ACTION_SEMANTICS,
        "redraw.kinematics": kinematics,
        "redraw.model_config": model_config,
        "redraw.versions": versions(),
        **{f"redraw.{k}": v for k, v in (extra or {}).items()},
    }
    if meter:
        metadata["redraw.reality_gap"] = meter_contract(model, dynamics, gap_threshold)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    if sample_images is not None:
        images = np.concatenate([images, sample_images[:32]])
    feeds = {"image": images}
    if history_dim:
        feeds[HISTORY_INPUT] = rng.uniform(-1.0, 1.0, (len(images), history_dim)).astype(np.float32)
    if meter:
        feeds.update(meter_parity_inputs(model.cfg.groups, model.cfg.classes, command_dim(model.cfg), len(images)))
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    onnx_outputs = session.run(names_out, feeds)
    with torch.no_grad():
        torch_outputs = net(*(torch.from_numpy(feeds[name]) for name in names_in))
    torch_outputs = torch_outputs if meter else (torch_outputs,)
    diffs = {name: float(np.abs(o - t.numpy()).max()) for name, o, t in zip(names_out, onnx_outputs, torch_outputs)}
    diff = max(diffs.values())
    if not diff < PARITY_TOLERANCE:
        tmp.unlink(missing_ok=True)
        worst = max(diffs, key=diffs.get)
        raise ExportError(f"{path}: ONNX and torch output '{worst}' differ by {diff:.2e} (> {PARITY_TOLERANCE}); "
                          "not written")
    tmp.replace(path)
    return diff


def set_gap_threshold(path: str | Path, threshold: float, calibration: dict[str, Any]) -> None:
    """Write the reality-gap warning threshold (and how it was measured) into an exported file's metadata;
    the graph is untouched."""
    import onnx

    path = Path(path)
    proto = onnx.load(str(path))
    entry = next((e for e in proto.metadata_props if e.key == "redraw.reality_gap"), None)
    if entry is None:
        raise ExportError(f"{path}: no 'redraw.reality_gap' metadata (exported without the meter); no threshold to set")
    contract = json.loads(entry.value)
    contract.update(threshold=float(threshold), calibration=calibration)
    entry.value = json.dumps(contract)
    tmp = path.with_name(f".{path.name}.tmp")
    onnx.save(proto, str(tmp))
    tmp.replace(path)
