"""Are a lap's lane-pose labels consistent with the robot's own motion? Driving forward at speed v with
heading phi (Duckietown signs: d > 0 left, phi > 0 turned left), the lateral offset changes at v sin(phi);
labels from a sound localisation show that relation, noisy ones do not.

    .venv/bin/python experiments/visual-gap/label_check.py --labels <csv>
"""

from __future__ import annotations

import argparse
import csv

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", required=True, help="CSV with timeStamp, centerDistance, relativeHeading, Tile")
    parser.add_argument("--max-heading", type=float, default=0.8, help="drop |phi| above this (rad)")
    args = parser.parse_args()
    with open(args.labels, newline="") as f:
        rows = list(csv.DictReader(f, skipinitialspace=True))
    t, d, phi = (np.array([float(r[k]) for r in rows]) for k in ("timeStamp", "centerDistance", "relativeHeading"))
    straight = np.array([r.get("Tile", "").strip() == "straight" for r in rows])
    print(f"{len(rows)} labelled frames; |phi| > {args.max_heading}: {(np.abs(phi) > args.max_heading).sum()}; "
          f"largest step |dphi|: {np.abs(np.diff(phi)).max():.2f} rad")
    for lag in (1, 3, 5):
        rate = (d[lag:] - d[:-lag]) / (t[lag:] - t[:-lag])
        heading = phi[:-lag]
        ok = (np.abs(heading) < args.max_heading) & (t[lag:] - t[:-lag] < 0.5)
        for name, rows_ in (("all tiles", ok), ("straight tiles", ok & straight[:-lag])):
            r = np.corrcoef(rate[rows_], np.sin(heading[rows_]))[0, 1]
            v = np.polyfit(np.sin(heading[rows_]), rate[rows_], 1)[0]
            print(f"lag {lag}, {name:<14}: corr(dd/dt, sin phi) {r:+.2f}, implied speed {v:.2f} m/s ({rows_.sum()} pairs)")


if __name__ == "__main__":
    main()
