"""The visual-gap yardstick with the labels aligned, on duckietown-ethz/proj-i-ml's labelled lap (autobot04_r2):
every figure of `redraw visual-gap` and the supervised bound, at the label lag the frames give, beside the
classical lane filter, over all frames and straight tiles; plus how much each choice (lag, label source,
what "straight" means, the homography's scale) moves them.

    .venv/bin/python experiments/visual-gap/aligned/aligned_study.py --lap <proj-i-ml>/training/cnn/testdata/test_dataset/autobot04_r2 \
        --map <duckietown_world>/data/gd1/maps/robotarium2.yaml --intrinsics <dt-core>/.../camera_intrinsic/default.yaml \
        --homography <dt-core>/.../camera_extrinsic/default.yaml --json experiments/visual-gap/aligned/results.json

The lap's frames and labels are read from where the repository was extracted (not committed: no licence).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from redraw_perception import PreprocessConfig
from redraw_trainer.measure import visual_gap as vg
from redraw_trainer.measure.lane_filter import GroundCamera, LaneFilter
from redraw_trainer.measure.lane_labels import (TileMap, Trajectory, TrajectoryLabels, label_turn_rate, lag_sweep,
                                        paint_features, read_label_table, rotation_lag_sweep, trajectory_reference,
                                        turn_rate_of_frames, usable_labels)
from redraw_trainer.model.checkpoint import checkpoint_preprocess, load_world_model

HERE = Path(__file__).resolve().parent
for scripts in (HERE.parent, HERE.parents[2] / "docs" / "visual-gap"):  # supervised_probe.py, before and after the move
    if (scripts / "supervised_probe.py").exists():
        sys.path.insert(0, str(scripts))
        break
from supervised_probe import train_probe  # noqa: E402

OUTPUT_POSE_TO_METRES = 2 * 0.585  # output_pose.csv's d is half of output_labeled.csv's, which is in tiles


def figures(est: np.ndarray, pose: np.ndarray, usable: np.ndarray, straight: np.ndarray) -> dict:
    return vg.aligned_figures({"x": est}, pose, usable, straight)["x"]


def supervised_bound(sim, held: np.ndarray, epochs: int, real_images: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    """supervised_probe.py's CNN trained on simulator frames with lane-pose labels; its predictions on the lap."""
    x = lambda images: torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    scale = sim.pose[~held].std(0)
    torch.manual_seed(seed)
    net = train_probe(x(sim.images[~held]), torch.as_tensor(sim.pose[~held] / scale, dtype=torch.float32), epochs)
    with torch.no_grad():
        sim_pred = net(x(sim.images[held])).numpy() * scale
        real_pred = net(x(real_images)).numpy() * scale
    return real_pred, {k: round(vg.correlation(sim_pred[:, i], sim.pose[held][:, i]), 3) for i, k in enumerate(("d", "phi"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lap", required=True, help="proj-i-ml's autobot04_r2 folder (images/, *.yaml, output_pose.csv)")
    parser.add_argument("--map", required=True)
    parser.add_argument("--intrinsics", required=True)
    parser.add_argument("--homography", required=True)
    parser.add_argument("--model", default=str(HERE.parents[2] / "models" / "source_small.pt"))
    parser.add_argument("--sim-frames", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--bound-seeds", default="0,1", help="seeds of the supervised bound's CNN ('' : skip it)")
    parser.add_argument("--lookaheads", default=None, help="instead of the table: the figures at the best lag for "
                        "these 'straight' look-aheads (m, comma-separated), trajectory labels only")
    parser.add_argument("--cache", default="/tmp/aligned_study_cache.npz")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    lap = Path(args.lap)
    start = time.time()
    model, _, ckpt = load_world_model(args.model)
    preprocess = checkpoint_preprocess(ckpt, source=args.model)
    real = vg.read_real_frames(lap / "images", preprocess)
    frame_t = vg.frame_times(real.names)
    order = np.argsort(frame_t, kind="stable")
    real = vg.Frames(real.images[order], real.rgb[order], None, [real.names[i] for i in order])
    frame_t = frame_t[order]
    masks = np.stack([vg.lane_masks(f) for f in real.rgb])
    cache = Path(args.cache)
    if cache.exists():
        c = np.load(cache)
        shifts, lf = c["shifts"], {1.0: c["lf1"], 1.16: c["lf116"]}
    else:
        paths = [lap / "images" / n for n in real.names]
        shifts, lf1 = vg.frame_measures(paths, LaneFilter(GroundCamera.from_yaml(args.intrinsics, args.homography)))
        _, lf116 = vg.frame_measures(paths, LaneFilter(GroundCamera.from_yaml(args.intrinsics, args.homography, 1.16)))
        lf = {1.0: lf1, 1.16: lf116}
        np.savez(cache, shifts=shifts, lf1=lf1, lf116=lf116)
    print(f"frames read, turns and lane filter: {time.time() - start:.0f} s", flush=True)

    trajectory = Trajectory.from_folder(lap)
    sources = {
        "trajectory+map (m)": TrajectoryLabels(trajectory, TileMap.from_yaml(args.map)),
        "output_pose.csv x1.17 (m)": read_label_table(lap / "output_pose.csv", d_scale=OUTPUT_POSE_TO_METRES)[0],
    }
    lags = np.array(vg.LAG_GRID)
    pair_t, rate = turn_rate_of_frames(frame_t, shifts)
    feats = paint_features(masks)
    sweeps = {
        "rotation vs trajectory yaw rate": rotation_lag_sweep(pair_t, rate, trajectory_reference(trajectory), lags),
        "rotation vs output_pose heading rate (straight)": rotation_lag_sweep(
            pair_t, rate, lambda t: label_turn_rate(sources["output_pose.csv x1.17 (m)"], t), lags),
        "paint features vs trajectory d (straight)": lag_sweep(feats, frame_t, sources["trajectory+map (m)"], lags),
        "paint features vs output_pose d (straight)": lag_sweep(feats, frame_t, sources["output_pose.csv x1.17 (m)"], lags),
    }
    for name, s in sweeps.items():
        key = "r" if "r" in s else "r_d"
        print(f"{name}: best {s['best_lag']:+.2f}; " + " ".join(f"{l:+.2f}:{r:+.2f}" for l, r in zip(s["lags"], s[key])), flush=True)
    best = sweeps["rotation vs trajectory yaw rate"]["best_lag"]

    # the encoder probe (as redraw visual-gap), fitted once on simulator frames
    predictions: dict[str, np.ndarray] = {}
    real.pose = None
    gap, _ = vg.visual_gap(model, preprocess, real, args.sim_frames, 0, predictions)
    estimators = {"encoder probe": np.stack([predictions["d"], predictions["phi"]], 1),
                  "lane filter": lf[1.0], "lane filter, homography x1.16": lf[1.16]}
    print(f"probe fitted: {time.time() - start:.0f} s", flush=True)
    for observation in ("rgb", "lane_masks") if args.bound_seeds else ():
        # as supervised_probe.py reads them: the lap through that observation's own preprocessing
        images = vg.read_real_frames(lap / "images", PreprocessConfig(observation=observation)).images[order]
        sim, episode = vg.simulator_frames(observation, 64, args.sim_frames, seed=0)
        held = vg.heldout_episodes(episode)
        for seed in (int(s) for s in args.bound_seeds.split(",") if s):
            pred, sim_r = supervised_bound(sim, held, args.epochs, images, seed)
            estimators[f"supervised bound {observation} seed {seed}"] = pred
            print(f"supervised {observation} seed {seed}: sim held-out {sim_r} ({time.time() - start:.0f} s)", flush=True)

    if args.lookaheads:
        source, rows = sources["trajectory+map (m)"], []
        for lookahead in (float(v) for v in args.lookaheads.split(",")):
            source.lookahead = lookahead
            pose, straight = source.pose_at(frame_t + best)
            usable = usable_labels(pose, straight)
            row = {"lookahead_m": lookahead, "lag": best, "straight_frames": int((usable & straight).sum()),
                   "figures": {n: figures(e, pose, usable, straight)["straight"] for n, e in estimators.items()}}
            rows.append(row)
            print(f"look-ahead {lookahead:.2f} m ({row['straight_frames']} straight frames): " + "; ".join(
                f"{n} d {f['d']:+.2f} phi {f['phi']:+.2f}" for n, f in row["figures"].items()), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"lag": best, "rows": rows}, indent=1, default=float) + "\n")
        return
    table = []
    for source_name, source in sources.items():
        for lag in sorted({best, 0.0, sweeps["paint features vs output_pose d (straight)"]["best_lag"]}):
            for lookahead in ((0.3, 0.0) if isinstance(source, TrajectoryLabels) else (None,)):
                if lookahead is not None:
                    source.lookahead = lookahead
                pose, straight = source.pose_at(frame_t + lag)
                usable = usable_labels(pose, straight)
                row = {"labels": source_name, "lag": lag,
                       "straight": ("robot's tile and 0.3 m ahead" if lookahead else "robot's tile")
                       if lookahead is not None else "file's Tile column",
                       "counts": vg.label_counts(pose, straight),
                       "figures": {n: figures(e, pose, usable, straight) for n, e in estimators.items()}}
                table.append(row)
                print(f"\n{source_name}, lag {lag:+.2f}, straight = {row['straight']}: {row['counts']}")
                for n, f in row["figures"].items():
                    print(f"  {n:<40} all d {f['all']['d']:+.2f} phi {f['all']['phi']:+.2f} | straight d "
                          f"{f['straight']['d']:+.2f} phi {f['straight']['phi']:+.2f} ({f['straight']['frames']})", flush=True)
    sources["trajectory+map (m)"].lookahead = 0.3
    out = {"lap": "duckietown-ethz/proj-i-ml training/cnn/testdata/test_dataset/autobot04_r2", "frames": len(frame_t),
           "model": Path(args.model).name, "sim_probe": gap["probe"], "best_lag": best,
           "sweeps": sweeps, "table": table, "seconds": round(time.time() - start)}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
