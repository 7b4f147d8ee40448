"""Every benchmark runs in its smoke mode and prints its figures, so a change that breaks one fails CI.

Smoke mode checks that a benchmark runs, not how fast: tiny sizes, a few iterations, no time asserted.
The full runs, their figures and the machine they were taken on are in benchmarks/README.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
NUMBER = r"[\d,]+(?:\.\d+)?"

# script (relative to benchmarks/) -> lines its output must contain (regular expressions)
EXPECTED = {
    "preprocess.py": [rf"full decode \+ resize\s+{NUMBER}\s+{NUMBER}", rf"reduced decode \(1/\d\)\s+{NUMBER}\s+{NUMBER}",
                      rf"speed-up \(p50 full / p50 reduced\): {NUMBER}x"],
    "bag_read.py": [rf"plain cv2\.imdecode .*\s+{NUMBER}", rf"bag -> model-ready arrays\s+{NUMBER}",
                    rf"ratio bag / imdecode: {NUMBER}x"],
    "imagination.py": [rf"eager:\s+{NUMBER} imagined states/s in training"],
    "train_step.py": [rf"world model\s+{NUMBER}\s+{NUMBER}", rf"residual, posteriors cached\s+{NUMBER}\s+{NUMBER}"],
    "sim_rate.py": [rf"raw Simulator\.step\s+{NUMBER}", rf"ratio wrapped / raw: {NUMBER}"],
    "policy_latency.py": [r"\b([1-9]\d*)/30 frames answered", r"reality-gap meter: on",
                          rf"reality-gap meter \(node\)\s+{NUMBER}\s+{NUMBER}", rf"decode \+ preprocess \(node\)\s+{NUMBER}\s+{NUMBER}",
                          rf"onnxruntime inference \(node\)\s+{NUMBER}\s+{NUMBER}",
                          rf"end to end \(stamp->command\)\s+{NUMBER}\s+{NUMBER}", r"target p99 <= 2\.5 ms: (met|NOT met)"],
    "seg_latency.py": [rf"SegNet onnxruntime \+ argmax\s+{NUMBER}\s+{NUMBER}", rf"HSV lane masks \(lane_masks\)\s+{NUMBER}\s+{NUMBER}",
                       r"onnxruntime vs torch max \|logit diff\| "],
    "fleet_adapt.py": [rf"(?m)^\s+2\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}x\s+", r"one at a time robots/min"],
    "anchor/run.py": [rf"redraw \(DRAW\)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}", r"world_model: \d+ frames per update",
                      r"imagination: \d+ imagined states per update"],
}


def test_every_benchmark_has_a_smoke_test() -> None:
    scripts = {p.relative_to(BENCHMARKS).as_posix() for p in BENCHMARKS.glob("*.py")} | {"anchor/run.py"}
    assert scripts == set(EXPECTED), "add new benchmarks to EXPECTED (and give them --smoke)"


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_smoke(script: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*(str(p) for p in sorted((ROOT / "src").glob("redraw_*"))),
                                                         os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"  # smoke runs check output, not speed; 2 threads on a busy CI box crawl
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), "--smoke"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{script} --smoke failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    for pattern in EXPECTED[script]:
        assert re.search(pattern, result.stdout), f"{script}: no line matching {pattern!r} in\n{result.stdout}"
