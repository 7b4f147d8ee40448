"""Collect the reality-gap figures of `run.sh`'s replays into results.json (run from the run's folder).

    python docs/reality-gap-meter/collate.py RUN_DIR OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

# (model, its file, the bag it is replayed on); the same bag for the zero-shot and the adapted model
REPLAYS = [(m, b) for m in ("zero_shot", "redraw_rev", "redraw_gain") for b in ("rev_eval", "gain_eval", "source_eval")]
GAPS = {"rev_eval": "steering_reversed,trim=0.1", "gain_eval": "gain=0.6,latency_steps=2", "source_eval": "none"}


def main(run: Path, out: Path) -> None:
    import onnx

    replays = {}
    for model, bag in REPLAYS:
        summary = run / "replays" / f"{model}_{bag}" / "summary.json"
        if summary.is_file():
            replays[f"{model} on {bag}"] = {"model": model, "bag": bag, "gap": GAPS[bag],
                                            **json.loads(summary.read_text())["reality_gap"]}
    paired = {}
    for adapted, bag in (("redraw_rev", "rev_eval"), ("redraw_gain", "gain_eval")):
        a, b = replays.get(f"zero_shot on {bag}"), replays.get(f"{adapted} on {bag}")
        if not (a and b):
            continue
        za = np.array([e["gap_mean"] for e in a["per_episode"] if e["gap_mean"] is not None])
        zb = np.array([e["gap_mean"] for e in b["per_episode"] if e["gap_mean"] is not None])
        diff = za - zb
        paired[bag] = {"gap": GAPS[bag], "episodes": int(len(diff)),
                       "zero_shot_mean": a["gap_mean"], "redraw_mean": b["gap_mean"],
                       "per_episode_difference_mean": round(float(diff.mean()), 4),
                       "per_episode_difference_ci95": round(float(1.96 * diff.std(ddof=1) / np.sqrt(len(diff))), 4),
                       "episodes_where_zero_shot_reads_higher": int((diff > 0).sum())}
    meta = {p.key: p.value for p in onnx.load(str(run / "models" / "zero_shot.onnx")).metadata_props}
    contract = json.loads(meta["redraw.reality_gap"])
    result = {"threshold": contract["threshold"], "calibration": contract.get("calibration"),
              "paired": paired, "replays": replays}
    spread = run / "spread.json"
    if spread.is_file():
        result["zero_shot_spread"] = {k: {"pooled": v["pooled"],
                                          "episode_means": [e["gap_mean"] for e in v["episodes"]],
                                          "behaviours": [e["behaviour"] for e in v["episodes"]]}
                                      for k, v in json.loads(spread.read_text()).items()}
    latency = run / "latency.txt"
    if latency.is_file():
        result["latency_benchmark_output"] = latency.read_text().splitlines()
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({"threshold": result["threshold"], "paired": paired}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
