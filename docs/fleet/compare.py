"""The fleet acceptance figures: the batched run's and the one-at-a-time run's `fleet.json` side by side, per robot.

    .venv/bin/python docs/fleet/compare.py runs/fleet/batched runs/fleet/one-at-a-time > docs/fleet/results.json

Per robot: the held-out one-step KL (`teacher_forced_kl`, each robot's own held-out episodes) unadapted, batched and
one at a time, their relative difference, the step early stopping kept on each side, and the largest difference
between the two sides' residual weights (loaded back with `load_adapter`, as every other command loads them).
"""

from __future__ import annotations

import json
import sys

from redraw_trainer.learn.adapt import load_adapter
from redraw_trainer.model.checkpoint import load_world_model


def main(batched_dir: str, single_dir: str) -> None:
    batched, single = (json.load(open(f"{d}/fleet.json")) for d in (batched_dir, single_dir))
    model, _, _ = load_world_model(batched["model"])
    out = {"model": batched["model"], "steps": batched["steps"], "seed": batched["seed"], "robots": {}}
    for name, b in batched["robots"].items():
        s = single["robots"][name]
        wb, ws = (load_adapter(r["adapter"], model)[0].residual.state_dict() for r in (b, s))
        kb, ks = b["holdout_one_step_kl"], s["holdout_one_step_kl"]
        out["robots"][name] = {
            "bag": b["bag"], "train_rows": b["train_rows"], "holdout_rows": b["holdout_rows"],
            "kept_step": {"batched": b["best_step"], "one_at_a_time": s["best_step"]},
            "holdout_one_step_kl": {"unadapted": kb["unadapted"], "batched": kb["residual"],
                                    "one_at_a_time": ks["residual"]},
            "kl_relative_difference": abs(kb["residual"] - ks["residual"]) / ks["residual"],
            "max_weight_difference": max(float((wb[k] - ws[k]).abs().max()) for k in wb),
        }
    out["adapt_seconds"] = {"batched": next(iter(batched["robots"].values()))["seconds"],
                            "one_at_a_time": sum(r["seconds"] for r in single["robots"].values())}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:3])
