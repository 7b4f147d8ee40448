"""ONNX export: torch and onnxruntime agree; the runtime reads the contract back and checks it."""

import numpy as np
import pytest
import torch

from redraw_perception import ContractError, PreprocessConfig
from redraw_policy.runtime import OnnxPolicy, PolicyRunner
from redraw_trainer.core.config import load_config
from redraw_trainer.learn.export import FrameToAction, export_onnx
from redraw_trainer.core.config import PolicyConfig
from redraw_trainer.model.actor import Actor
from redraw_trainer.model.frame_policy import FramePolicy
from redraw_trainer.model.world_model import WorldModel


@pytest.fixture
def model_and_actor():
    torch.manual_seed(0)
    cfg = load_config(["tiny"], ["model.image_size=64"])
    model = WorldModel(cfg.model).eval()
    actor = Actor(cfg.model.groups * cfg.model.classes, 2, PolicyConfig(hidden=32))
    return model, actor


def test_onnx_matches_torch_and_carries_its_contract(tmp_path, model_and_actor):
    model, actor = model_and_actor
    preprocess = PreprocessConfig()
    frames = np.random.default_rng(1).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    diff = export_onnx(model, actor, tmp_path / "policy.onnx", preprocess.to_dict(), {"v_max": 0.5, "omega_max": 4.0},
                       sample_images=frames)
    assert diff < 1e-4
    policy = OnnxPolicy(tmp_path / "policy.onnx", preprocess=preprocess)
    assert policy.history_steps == model.cfg.command_history == 4
    history = np.linspace(-1, 1, 8, dtype=np.float32)
    with torch.no_grad():
        expected = FrameToAction(model, actor)(torch.from_numpy(frames[:1]), torch.from_numpy(history[None]))[0].numpy()
    np.testing.assert_allclose(policy.act_preprocessed(frames[0], history), expected, atol=1e-4)
    assert policy.kinematics == {"v_max": 0.5, "omega_max": 4.0}
    assert "torch" in policy.metadata["redraw.versions"]


def test_the_robot_runtime_keeps_the_same_command_history_as_the_trainer(tmp_path, model_and_actor):
    """Train and deploy must not drift: frame by frame, the ONNX runner (which remembers what it sent) acts as
    the torch policy the simulator runs, and the history matters (the same frame gets another action)."""
    model, actor = model_and_actor
    actor = Actor(model.cfg.groups * model.cfg.classes, 2, PolicyConfig(hidden=32, actor_outscale=1.0))  # decisive
    with torch.no_grad():
        model.posterior_head[0].weight[:, -model.history_dim:].mul_(30.0)  # commands move z as a trained model's do
    export_onnx(model, actor, tmp_path / "policy.onnx", PreprocessConfig().to_dict())
    runner = PolicyRunner(OnnxPolicy(tmp_path / "policy.onnx"))
    torch_policy = FramePolicy(model, actor)
    frames = np.random.default_rng(2).integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    frames[3] = frames[2]
    deployed = [runner.step_image(frame).action for frame in frames]
    trained = [torch_policy(frame, {}) for frame in frames]
    np.testing.assert_allclose(deployed, trained, atol=1e-4)
    runner.reset(), torch_policy.reset()
    np.testing.assert_allclose(runner.step_image(frames[0]).action, deployed[0], atol=1e-6)
    assert not np.allclose(deployed[3], deployed[2], atol=1e-3)  # same frame, another history


def test_runtime_refuses_an_export_with_other_preprocessing(tmp_path, model_and_actor):
    model, actor = model_and_actor
    export_onnx(model, actor, tmp_path / "policy.onnx", PreprocessConfig(crop_top=0.5).to_dict())
    with pytest.raises(ContractError, match="policy.onnx: preprocessing field 'crop_top' is 0.5"):
        OnnxPolicy(tmp_path / "policy.onnx", preprocess=PreprocessConfig())
