"""One process vs two ranks (docs/ddp/measure.sh): the world model's loss curves in loss.png, figures in results.json.

Usage: python docs/ddp/plot.py RUNS_DIR OUT_DIR   (RUNS_DIR holds one/ and two/ with their .time.json)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from redraw_trainer.core.metrics_log import read_metrics  # noqa: E402
from redraw_trainer.model.checkpoint import load_checkpoint  # noqa: E402

KEYS = ("train/loss/total", "train/loss/recon", "train/kl/dynamics", "train/loss/reward")
RUNS = {"one": "1 process, batch 16", "two": "2 gloo ranks x 8 (global batch 16)"}


def curves(run_dir: Path) -> dict[str, dict[int, float]]:
    rows = read_metrics(run_dir / "metrics.jsonl")
    return {key: {int(r["step"]): r[key] for r in rows} for key in (*KEYS, "train/updates_per_s")}


def main(runs: Path, out: Path) -> None:
    data = {name: curves(runs / name) for name in RUNS}
    fig, axes = plt.subplots(1, len(KEYS), figsize=(4 * len(KEYS), 3.4))
    for ax, key in zip(axes, KEYS):
        for name, label in RUNS.items():
            steps = sorted(data[name][key])
            ax.plot(steps, [data[name][key][s] for s in steps], label=label, lw=1.2,
                    ls="-" if name == "one" else "--")
        ax.set_title(key)
        ax.set_xlabel("world-model step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("redraw pretrain --preset tiny (point task): one process vs two ranks, same global batch")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "loss.png", dpi=100)

    one, two = data["one"]["train/loss/total"], data["two"]["train/loss/total"]
    steps = sorted(set(one) & set(two))
    relative = {s: abs(two[s] - one[s]) / abs(one[s]) for s in steps}
    weights = {name: load_checkpoint(runs / name / "world_model.pt", "world_model")["model"] for name in RUNS}
    results = {
        "steps_logged": steps,
        "loss_total": {name: [data[name]["train/loss/total"][s] for s in steps] for name in RUNS},
        "loss_total_relative_difference": {"max": max(relative.values()),
                                           "first_round_max": max(v for s, v in relative.items() if s <= 400),
                                           "last": relative[steps[-1]]},
        "final_loss_mean_last_5_logs": {name: sum(data[name]["train/loss/total"][s] for s in steps[-5:]) / 5
                                        for name in RUNS},
        "final_weights_max_abs_difference": max(float((weights["one"][k].float() - weights["two"][k].float())
                                                      .abs().max()) for k in weights["one"]),
        "updates_per_s_median": {name: sorted(data[name]["train/updates_per_s"].values())[
            len(data[name]["train/updates_per_s"]) // 2] for name in RUNS},
        "time": {name: json.loads((runs / f"{name}.time.json").read_text()) for name in RUNS},
        "eval": {name: json.loads((runs / name / "eval.json").read_text())["source_returns"]["task_policy"]["mean"]
                 for name in RUNS},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k not in ("loss_total", "steps_logged")}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
