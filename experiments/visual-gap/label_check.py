"""Are a lap's lane-pose labels consistent with the robot's own motion? Driving forward at speed v with
heading phi (Duckietown signs: d > 0 left, phi > 0 turned left), the lateral offset changes at v sin(phi);
labels from a sound localisation show that relation, noisy ones do not. (report.md here, "What limits it".)

Prints the count of implausible headings and the largest heading jump, then, for lags of 1, 3 and 5 frames,
the correlation of the rate of change of d with sin(phi) and the speed it implies, on all tiles and on the
straight ones. The committed label_check.log, from the repository root (<lap> = proj-i-ml's
training/cnn/testdata/test_dataset/autobot04_r2):

    .venv/bin/python experiments/visual-gap/label_check.py --labels <lap>/output_pose.csv
"""

from __future__ import annotations

import argparse
import csv

import numpy as np

LAGS = (1, 3, 5)
MAX_PAIR_SECONDS = 0.5  # pairs further apart in time span a gap in the recording


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", required=True, help="CSV with timeStamp, centerDistance, relativeHeading, Tile")
    parser.add_argument("--max-heading", type=float, default=0.8, help="drop |phi| above this (rad)")
    return parser.parse_args()


def read_lap(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(time s, d m, phi rad, on a straight tile) per labelled frame, in file order."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, skipinitialspace=True))
    t = np.array([float(r["timeStamp"]) for r in rows])
    d = np.array([float(r["centerDistance"]) for r in rows])
    phi = np.array([float(r["relativeHeading"]) for r in rows])
    straight = np.array([r.get("Tile", "").strip() == "straight" for r in rows])
    return t, d, phi, straight


def main() -> None:
    args = parse_args()
    t, d, phi, straight = read_lap(args.labels)
    implausible = (np.abs(phi) > args.max_heading).sum()
    largest_jump = np.abs(np.diff(phi)).max()
    print(f"{len(t)} labelled frames; |phi| > {args.max_heading}: {implausible}; "
          f"largest step |dphi|: {largest_jump:.2f} rad")
    for lag in LAGS:
        dt = t[lag:] - t[:-lag]
        rate = (d[lag:] - d[:-lag]) / dt
        heading = phi[:-lag]
        ok = (np.abs(heading) < args.max_heading) & (dt < MAX_PAIR_SECONDS)
        for name, pairs in (("all tiles", ok), ("straight tiles", ok & straight[:-lag])):
            r = np.corrcoef(rate[pairs], np.sin(heading[pairs]))[0, 1]
            speed = np.polyfit(np.sin(heading[pairs]), rate[pairs], 1)[0]
            print(f"lag {lag}, {name:<14}: corr(dd/dt, sin phi) {r:+.2f}, implied speed {speed:.2f} m/s "
                  f"({pairs.sum()} pairs)")


if __name__ == "__main__":
    main()
