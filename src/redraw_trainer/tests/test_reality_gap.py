"""The reality-gap meter end to end: the exported file's reading equals the torch world model's one-step KL on the
same frames and commands, old files still load, the threshold and the adapted dynamics reach the file, and
`redraw replay` / `bag info --meter` read it per episode over a recorded bag."""

from pathlib import Path

import numpy as np
import pytest
import torch

from redraw_logger.recorder import EpisodeRecorder
from redraw_perception import ContractError, PreprocessConfig, Preprocessor
from redraw_policy.runtime import OnnxPolicy, PolicyRunner
from redraw_testing.scenes import jpeg, road_frame
from redraw_trainer.core.config import PolicyConfig, load_config
from redraw_trainer.data.reading import BagReading
from redraw_trainer.data.sequences import command_history
from redraw_trainer.learn.adapt import build_dynamics, save_adapter, AdaptResult
from redraw_trainer.learn.export import export_onnx, set_gap_threshold
from redraw_trainer.measure.reality_gap import episode_gaps
from redraw_trainer.measure.replay import replay_bag
from redraw_trainer.model.actor import Actor
from redraw_trainer.model.distributions import categorical_kl, mode_one_hot
from redraw_trainer.model.frame_policy import save_policy
from redraw_trainer.model.world_model import WorldModel, scan_prior
from redraw_trainer.workflows import export_run
from redraw_trainer.workflows.bags import bag_info

KINEMATICS = {"v_max": 0.5, "omega_max": 4.0}
MS = 1_000_000


@pytest.fixture
def tiny():
    """A tiny world model, an actor and a ReDRAW residual whose output is not zero (so it changes the prior)."""
    torch.manual_seed(0)
    cfg = load_config(["tiny"], ["model.image_size=64", "model.command_history=4"])
    model = WorldModel(cfg.model).eval()
    actor = Actor(cfg.model.groups * cfg.model.classes, 2, PolicyConfig(hidden=32))
    dynamics = build_dynamics(model, "residual", cfg.adapt)[0].eval()
    torch.nn.init.normal_(dynamics.residual.net[-1].weight, std=0.5)
    return cfg, model, actor, dynamics


def frames(count: int) -> np.ndarray:
    return np.stack([Preprocessor(PreprocessConfig()).from_rgb(road_frame(shift=0.03 * np.sin(i / 2))) for i in range(count)])


def test_the_files_reading_equals_the_torch_one_step_kl(tmp_path, tiny):
    cfg, model, actor, dynamics = tiny
    path = tmp_path / "meter.onnx"
    assert export_onnx(model, actor, path, PreprocessConfig().to_dict(), KINEMATICS, dynamics=dynamics) < 1e-4
    steps, restart = 14, 7
    images = frames(steps)
    sent = np.random.default_rng(1).uniform(-1, 1, (steps, 2)).astype(np.float32)
    runner = PolicyRunner(OnnxPolicy(path))
    assert runner.policy.metadata["redraw.reality_gap"]["dynamics"] == "residual"
    readings = []
    for t in range(steps):
        if t == restart:  # a new episode (as replay starts one): standing, the meter afresh
            runner.reset()
        readings.append(runner.step_image(images[t], now=0.1 * t + (5.0 if t >= restart else 0.0), sent=sent[t]).reality_gap)
    # the same in torch: teacher-forced prior on the posterior's mode, as the world model's loss scans it
    is_first = torch.zeros(1, steps, dtype=torch.bool)
    is_first[0, [0, restart]] = True
    action = torch.zeros(1, steps, 2)
    action[0, 1:] = torch.from_numpy(sent[:-1])
    action[is_first] = 0.0
    history = torch.from_numpy(command_history(action[0].numpy(), is_first[0].numpy(), cfg.model.command_history))
    with torch.no_grad():
        post = model.posterior(torch.from_numpy(images), history)[None]
        commands = model.commands(action, history[None])
        prior = scan_prior(dynamics, mode_one_hot(post), commands, is_first, post[:, 0].exp(), cfg.model.unimix)
        expected = categorical_kl(post, prior)[0].numpy()
    for t in range(steps):
        if is_first[0, t]:
            assert readings[t] is None, t
        else:
            assert readings[t] == pytest.approx(float(expected[t]), rel=1e-4, abs=1e-4), t
    assert readings[1] != pytest.approx(readings[2])  # not a constant: the frames and commands matter


def test_export_without_dynamics_writes_the_old_contract(tmp_path, tiny):
    _, model, actor, _ = tiny
    export_onnx(model, actor, tmp_path / "old.onnx", PreprocessConfig().to_dict(), KINEMATICS)
    policy = OnnxPolicy(tmp_path / "old.onnx")
    assert policy.meter is None and [i.name for i in policy.session.get_inputs()] == ["image", "history"]
    with pytest.raises(ContractError, match="exported without the reality-gap meter"):
        episode_gaps(tmp_path, tmp_path / "old.onnx")


def test_export_run_rebuilds_the_adapted_dynamics_and_stores_the_threshold(tmp_path, tiny):
    cfg, model, actor, dynamics = tiny
    adapter = save_adapter(tmp_path / "residual.pt", AdaptResult("residual", dynamics), "base.pt", cfg)
    record = torch.load(adapter, weights_only=False)
    save_policy(tmp_path / "policy.pt", model, cfg, actor, PolicyConfig(hidden=32),
                extra={"preprocess": PreprocessConfig().to_dict(), "adapter": {k: record[k] for k in ("method", "weights", "config")}})
    lines = export_run(str(tmp_path / "policy.pt"), str(tmp_path / "policy.onnx"), gap_threshold=2.5)
    assert "threshold 2.500 (given)" in lines[-1]
    policy = OnnxPolicy(tmp_path / "policy.onnx")
    assert policy.meter.threshold == 2.5 and policy.metadata["redraw.reality_gap"]["dynamics"] == "residual"
    # the file's prior is the adapted one: same reading as a direct export with the residual
    export_onnx(model, actor, tmp_path / "direct.onnx", PreprocessConfig().to_dict(), KINEMATICS, dynamics=dynamics)
    image = frames(2)
    a, b = PolicyRunner(policy), PolicyRunner(OnnxPolicy(tmp_path / "direct.onnx"))
    for t in range(2):
        ra, rb = a.step_image(image[t], 0.1 * t, sent=np.array([0.5, 0.5])), b.step_image(image[t], 0.1 * t, sent=np.array([0.5, 0.5]))
    assert ra.reality_gap == pytest.approx(rb.reality_gap, rel=1e-5)
    set_gap_threshold(tmp_path / "policy.onnx", 1.25, {"rule": "test"})
    assert OnnxPolicy(tmp_path / "policy.onnx").meter.calibration == {"rule": "test"}


def logger_bag(out: Path, steps: int = 24, gap_at: int = 12) -> Path:
    """Our logger's bag: 10 Hz frames with a command each, a one-second gap (two episodes)."""
    recorder = EpisodeRecorder(out)
    t = 5_000 * MS
    for i in range(steps):
        if i == gap_at:
            t += 1_000 * MS
        recorder.on_frame(t, jpeg(road_frame(shift=0.004 * i)))
        recorder.on_command(t + 3 * MS, 0.25, 0.4 * (i % 3 - 1))
        t += 100 * MS
    recorder.close()
    return out


def test_replay_and_bag_info_read_the_meter_per_episode(tmp_path, tiny):
    _, model, actor, dynamics = tiny
    path = tmp_path / "meter.onnx"
    export_onnx(model, actor, path, PreprocessConfig().to_dict(), KINEMATICS, dynamics=dynamics, gap_threshold=0.5)
    bag = logger_bag(tmp_path / "bag")
    rows = episode_gaps(bag, path)
    assert [r["frames"] for r in rows] == [12, 12] and [r["metered_frames"] for r in rows] == [11, 11]
    assert all(np.isfinite(r["gap_mean"]) and r["gap_mean"] > 0 for r in rows)
    result = replay_bag(bag, path, tmp_path / "replay", video_frames=5)
    assert [e["gap_mean"] for e in result.reality_gap["per_episode"]] == [r["gap_mean"] for r in rows]  # one meter
    assert result.reality_gap["threshold"] == 0.5 and "reality gap (KL posterior || prior" in result.summary
    lines: list[str] = []
    bag_info(bag, BagReading(workers=1, cache_dir=str(tmp_path / "cache")).read_options(PreprocessConfig(), (0.5, 4.0)),
             None, lines.append, meter=path)
    text = "\n".join(lines)
    assert "reality-gap meter of" in text and f"mean {result.reality_gap['gap_mean']}" in text

