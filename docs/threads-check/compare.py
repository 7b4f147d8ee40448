"""Compare the one-thread run's figures with the two-thread run of docs/restructure-check (same command, same code).

    .venv/bin/python docs/threads-check/compare.py
"""
import json
from pathlib import Path

import numpy as np

here = Path(__file__).parent
two = json.loads((here.parent / "restructure-check" / "results.json").read_text())["after"]
one = json.loads((here / "results.json").read_text())["methods"]
for name in one:
    for key in ("heldout_kl", "latent_accuracy", "returns", "distance"):
        a, b = np.asarray(two[name][key], float), np.asarray(one[name][key], float)
        diff = float(np.abs(a - b).max())
        print(f"{name:<13} {key:<16} identical: {bool(diff == 0)!s:<5}  max |difference| {diff:.2e}")
