"""Device placement: entry points place the model, everything downstream follows it, files stay CPU-loadable.

The chain test runs on every device this machine has: the CPU here and in CI, CUDA as well on a GPU
workstation (where `--scale paper` runs), so the same test covers the GPU path where one exists.
"""

import pytest
import torch

from redraw_trainer.learn.adapt import adapt, load_adapter, save_adapter
from redraw_trainer.core.config import load_config
from redraw_trainer.core.devices import module_device, resolve_device
from redraw_trainer.measure.evaluation import open_loop
from redraw_trainer.learn.export import export_onnx
from redraw_trainer.learn.imagination import train_actor_critic
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.model.checkpoint import load_world_model
from redraw_trainer.learn.train import train_world_model

from conftest import point_data

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_auto_picks_cuda_only_when_there_is_one():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_one_says_what_to_do():
    with pytest.raises(ValueError, match="device=cpu"):
        resolve_device("cuda")


def test_device_is_a_config_key():
    assert load_config(["tiny"]).device == "auto"
    assert load_config(["tiny"], ["device=cpu"]).device == "cpu"


@pytest.mark.parametrize("device", DEVICES)
def test_train_adapt_imagine_export_on_one_device(tmp_path, device):
    cfg = load_config(["tiny"], [f"device={device}", "train.steps=4", "train.checkpoint_every=2", "adapt.steps=3"])
    data = point_data(300, seed=0)
    model, _ = train_world_model(data, cfg, tmp_path / "wm", progress=False)
    assert module_device(model).type == device

    loaded, _, _ = load_world_model(tmp_path / "wm" / "world_model.pt")  # written on `device`, loads on the CPU
    assert module_device(loaded).type == "cpu"

    result = adapt(model, data, cfg.adapt, "residual", progress=False)
    assert {p.device.type for p in result.dynamics.parameters()} == {device}
    kl = open_loop(model, result.dynamics, data, cfg.adapt.eval_context, cfg.adapt.eval_horizon)["kl"]
    assert kl.shape == (cfg.adapt.eval_horizon,)
    save_adapter(tmp_path / "residual.pt", result, tmp_path / "wm" / "world_model.pt", cfg)
    dynamics, _ = load_adapter(tmp_path / "residual.pt", loaded)
    assert {p.device.type for p in dynamics.parameters()} == {"cpu"}

    agent = train_actor_critic(model, result.dynamics, encode_posteriors(model, data), 2, cfg=cfg.policy,
                               progress=False)
    assert module_device(agent).type == device
    diff = export_onnx(model, agent.actor, tmp_path / "policy.onnx", None)
    assert diff < 1e-4 and module_device(model).type == device  # exported from a CPU copy; the model stays put
