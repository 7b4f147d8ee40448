"""One process vs two ranks, and a second seed for scale (docs/ddp/measure.sh): the world model's loss curves in loss.png, figures in results.json.

Usage: python docs/ddp/plot.py RUNS_DIR OUT_DIR   (RUNS_DIR holds one/, two/, one_seed1/ and their .time.json)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import median

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from redraw_trainer.core.metrics_log import read_metrics  # noqa: E402
from redraw_trainer.model.checkpoint import load_checkpoint  # noqa: E402

KEYS = ("train/loss/total", "train/loss/recon", "train/kl/dynamics", "train/loss/reward")
RUNS = {"one": "1 process, batch 16", "two": "2 gloo ranks x 8 (global batch 16)",
        "one_seed1": "1 process, seed 1 (chance's spread)"}
STYLE = {"one": dict(color="C0", ls="-"), "two": dict(color="C1", ls="--"), "one_seed1": dict(color="0.6", ls=":")}


def curves(run_dir: Path) -> dict[str, dict[int, float]]:
    rows = read_metrics(run_dir / "metrics.jsonl")
    return {key: {int(r["step"]): r[key] for r in rows} for key in (*KEYS, "train/updates_per_s")}


def main(runs: Path, out: Path) -> None:
    data = {name: curves(runs / name) for name in RUNS}

    def relative(a: str, b: str) -> dict[int, float]:
        x, y = data[a]["train/loss/total"], data[b]["train/loss/total"]
        return {s: abs(y[s] - x[s]) / abs(x[s]) for s in sorted(set(x) & set(y))}

    steps = sorted(data["one"]["train/loss/total"])
    ranks, chance = relative("one", "two"), relative("one", "one_seed1")
    fig, axes = plt.subplots(1, len(KEYS) + 1, figsize=(4 * (len(KEYS) + 1), 3.4))
    for ax, key in zip(axes, KEYS):
        for name, label in RUNS.items():
            ax.plot(steps, [data[name][key][s] for s in steps], label=label, lw=1.2, **STYLE[name])
        ax.set_title(key)
    axes[0].legend(fontsize=8)
    for name, values in (("two", ranks), ("one_seed1", chance)):
        axes[-1].semilogy(steps, [max(values[s], 1e-9) for s in steps], lw=1.2, **STYLE[name])
    axes[-1].set_title("loss/total: |run - 1 process| / 1 process")
    for ax in axes:
        ax.set_xlabel("world-model step")
        ax.grid(alpha=0.3)
    fig.suptitle("redraw pretrain --preset tiny (point task): one process vs two ranks, same global batch")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "loss.png", dpi=100)

    weights = {name: load_checkpoint(runs / name / "world_model.pt", "world_model")["model"] for name in RUNS}
    results = {
        "steps_logged": steps,
        "loss_total": {name: [data[name]["train/loss/total"][s] for s in steps] for name in RUNS},
        "two_vs_one_relative_difference": {
            "identical_to_1e-6_up_to_step": max(s for s in steps if all(ranks[t] < 1e-6 for t in steps if t <= s)),
            "max_up_to_step_100": max(v for s, v in ranks.items() if s <= 100),
            "median_after_step_200": median([v for s, v in ranks.items() if s > 200]),
            "max": max(ranks.values())},
        "seed1_vs_one_relative_difference": {"median_after_step_200": median([v for s, v in chance.items() if s > 200]),
                                             "max": max(chance.values())},
        "final_loss_mean_last_5_logs": {name: sum(data[name]["train/loss/total"][s] for s in steps[-5:]) / 5
                                        for name in RUNS},
        "final_weights_max_abs_difference_two_vs_one": max(
            float((weights["one"][k].float() - weights["two"][k].float()).abs().max()) for k in weights["one"]),
        "updates_per_s_median": {name: median(list(data[name]["train/updates_per_s"].values())) for name in RUNS},
        "time": {name: json.loads((runs / f"{name}.time.json").read_text()) for name in RUNS},
        "task_policy_return": {name: json.loads((runs / name / "eval.json").read_text())["source_returns"]
                               ["task_policy"]["mean"] for name in RUNS},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k not in ("loss_total", "steps_logged")}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
