"""World-model training across ranks (DistributedDataParallel, gloo on the CPU), in real processes.

Two ranks that each train on half of every global batch end with the same weights, and those weights and the
logged losses are one process's with the whole batch (up to float summation order: gradients are averaged
between the ranks in another order). Rank 0 alone writes the checkpoint and the log; a run resumes at another
number of ranks; torchrun runs the command line as it is. About 30 s of CPU, most of it starting processes.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from redraw_trainer.core import distributed
from redraw_trainer.core.config import Config, load_config
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.learn.train import rank_batch, train_world_model
from redraw_trainer.model.checkpoint import load_checkpoint
from redraw_trainer.model.world_model import dynamics_mask

from conftest import point_data

STEPS = 20
# Measured (this CPU, 20 steps, 2 ranks x 8 sequences vs 1 x 16): the ranks' weights are bit-identical; against one
# process the largest weight difference is 2.0e-6 and the logged losses agree to 2.1e-7 relative (float32
# summation order: the all-reduce, and convolutions over 8 rather than 16 sequences).
WEIGHT_TOL = 1e-4
LOSS_RTOL = 1e-4


def config(steps: int = STEPS) -> Config:
    return load_config(["tiny"], [f"train.steps={steps}", "train.batch_size=16", "train.log_every=5",
                                  "train.checkpoint_every=10", "device=cpu"])


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    """Point-task episodes of 50 steps (a fifth of the 12-step windows cross an episode start) with a lane pose
    known on the first 700 rows only (as simulator rows beside robot rows): the ranks' parts of a batch hold
    different numbers of predicted steps and of lane targets, and a part may have none of the latter."""
    data = point_data(1500, seed=0)
    data.lane[:700] = np.random.default_rng(0).normal(0.0, 0.1, (700, 2))
    path = tmp_path_factory.mktemp("data") / "point.npz"
    data.save(path)
    return path


@pytest.fixture(scope="module")
def one_process(data_file, tmp_path_factory) -> Path:
    """One process with the whole batch: `half.pt` its checkpoint at step STEPS/2, `world_model.pt` at STEPS."""
    run_dir = tmp_path_factory.mktemp("one")
    torch.set_num_threads(1)
    data = SequenceData.load(data_file)
    train_world_model(data, config(STEPS // 2), run_dir, progress=False)
    shutil.copy(run_dir / "world_model.pt", run_dir / "half.pt")
    train_world_model(data, config(), run_dir, progress=False)  # resumes: as uninterrupted (test_train_resume.py)
    return run_dir


def train_and_keep_weights(data_file: Path, cfg: Config, run_dir: Path) -> int:
    """One rank's work: train, then keep its own weights beside the run (the test compares them)."""
    model, step = train_world_model(SequenceData.load(data_file), cfg, run_dir, progress=False)
    torch.save(model.state_dict(), run_dir / f"rank{distributed.rank()}_weights.pt")
    return step


def losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {row["step"]: row["train/loss/total"] for row in rows}


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].numel())


def test_two_ranks_train_as_one_process_with_the_same_global_batch_and_resume_as_one(data_file, one_process,
                                                                                      tmp_path):
    """Two gloo ranks to step 10: identical weights on both, rank 0's checkpoint, one process's weights and losses;
    then one process resumes their run to step 20 and ends where one process from step 0 did."""
    assert distributed.launch(2, "cpu", train_and_keep_weights, data_file, config(STEPS // 2), tmp_path) == STEPS // 2
    rank0 = torch.load(tmp_path / "rank0_weights.pt")
    rank1 = torch.load(tmp_path / "rank1_weights.pt")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), "the ranks' weights differ"
    written = load_checkpoint(tmp_path / "world_model.pt", "world_model")
    assert written["step"] == STEPS // 2 and all(torch.equal(written["model"][k], rank0[k]) for k in rank0)
    assert max_difference(rank0, load_checkpoint(one_process / "half.pt", "world_model")["model"]) < WEIGHT_TOL

    train_world_model(SequenceData.load(data_file), config(), tmp_path, progress=False)
    resumed = load_checkpoint(tmp_path / "world_model.pt", "world_model")
    assert resumed["step"] == STEPS
    assert max_difference(resumed["model"], load_checkpoint(one_process / "world_model.pt", "world_model")["model"]) < WEIGHT_TOL
    two, one = losses(tmp_path), losses(one_process)
    assert list(two) == list(one) == [5, 10, 15, 20]
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=LOSS_RTOL), step


def test_each_rank_takes_its_part_of_the_global_batch(data_file, monkeypatch):
    """The ranks' parts of a step's batch, interleaved, are the batch one process draws (windows and uniforms)."""
    data, cfg = SequenceData.load(data_file), config()
    whole, whole_uniform, whole_counts = rank_batch(data, cfg, np.random.default_rng(3), torch.device("cpu"))
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    parts = []
    for rank in (0, 1):
        monkeypatch.setattr(distributed, "rank", lambda rank=rank: rank)
        parts.append(rank_batch(data, cfg, np.random.default_rng(3), torch.device("cpu")))
    assert whole_counts is None  # one process divides by its own counts
    half = {"predicted": float(dynamics_mask(whole["is_first"]).sum()) / 2,
            "lane": float(torch.isfinite(whole["lane"]).all(-1).sum()) / 2}
    assert 0 < half["lane"] < 16 * cfg.train.seq_len / 2
    for rank, (batch, uniform, counts) in enumerate(parts):
        for key in whole:
            torch.testing.assert_close(batch[key], whole[key][rank::2], rtol=0, atol=0, equal_nan=True, msg=key)
        assert torch.equal(uniform, whole_uniform[rank::2])
        assert counts == half
    assert whole_uniform.shape == (16, cfg.train.seq_len, cfg.model.groups, 1)
    cfg.train.batch_size = 15
    with pytest.raises(ValueError, match="train.batch_size=15 is the global batch; it must split evenly over 2"):
        rank_batch(data, cfg, np.random.default_rng(3), torch.device("cpu"))


def test_torchrun_runs_the_command_line_with_rank_0_writing(data_file, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    run = subprocess.run([str(torchrun), "--nproc_per_node", "2", "-m", "redraw_trainer.cli", "train-world-model",
                          "--data", str(data_file), "--run-dir", str(tmp_path), "--preset", "tiny", "--quiet",
                          "--set", "train.steps=4", "--set", "train.log_every=2", "--set", "device=cpu"],
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == [f"world model trained to step 4 in {tmp_path}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl", "tb", "world_model.pt"]
    assert load_checkpoint(tmp_path / "world_model.pt", "world_model")["step"] == 4
    assert list(losses(tmp_path)) == [2, 4]


def test_one_process_helpers_are_no_ops():
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    distributed.barrier()
    values = {"loss": torch.tensor(2.0)}
    assert distributed.mean(values) is values
    assert distributed.share([1, 2, 3]) == [1, 2, 3]
