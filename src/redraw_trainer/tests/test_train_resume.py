"""Training killed mid-run resumes from its checkpoint: same step count, the loss curve continues."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from redraw_trainer.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

from conftest import point_data

STEPS = 150


def train_cmd(data, run_dir):
    return [sys.executable, "-m", "redraw_trainer.cli", "train-world-model", "--data", str(data), "--run-dir", str(run_dir),
            "--preset", "tiny", "--quiet", "--set", f"train.steps={STEPS}", "--set", "train.checkpoint_every=40",
            "--set", "train.log_every=10"]


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_killed_training_resumes_and_matches_an_uninterrupted_run(tmp_path):
    data = tmp_path / "data.npz"
    point_data(2000, seed=0).save(data)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = tmp_path / "straight"
    subprocess.run(train_cmd(data, straight), check=True, env=env, timeout=300)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(train_cmd(data, killed), env=env)
    ckpt = killed / "world_model.pt"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if ckpt.exists() and load_checkpoint(ckpt, "world_model")["step"] >= 80:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    interrupted_at = load_checkpoint(ckpt, "world_model")["step"]
    assert 80 <= interrupted_at < STEPS
    subprocess.run(train_cmd(data, killed), check=True, env=env, timeout=300)

    assert load_checkpoint(ckpt, "world_model")["step"] == STEPS
    resumed, reference = metrics(killed), metrics(straight)
    assert [r["step"] for r in resumed] == list(range(10, STEPS + 1, 10))
    for a, b in zip(resumed, reference):
        assert a["train/loss/total"] == pytest.approx(b["train/loss/total"], rel=1e-3), a["step"]


def test_checkpoint_errors_name_the_file_and_field(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pt: no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt", "world_model")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="bad.pt: cannot read checkpoint"):
        load_checkpoint(bad, "world_model")
    other = save_checkpoint(tmp_path / "policy.pt", "policy", {"step": 1})
    with pytest.raises(CheckpointError, match="policy.pt: field 'kind' is 'policy', expected 'world_model'"):
        load_checkpoint(other, "world_model")
    with pytest.raises(CheckpointError, match="lacks field 'model'"):
        load_checkpoint(other, "policy", required=("model",))


def test_checkpoint_write_is_atomic(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", "world_model", {"step": 1, "w": torch.ones(3)})
    assert path.exists() and not list(tmp_path.glob(".*tmp"))
    assert load_checkpoint(path, "world_model")["step"] == 1
