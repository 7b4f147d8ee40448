"""Masks the authors' way (issue 24): a small U-Net trained only on simulator (frame, ground-truth mask) pairs
under strong randomisation, scored on simulator held-out episodes and on the aligned real lap beside RGB and
the hand-set HSV lane masks.

    .venv/bin/python experiments/visual-gap/segmentation/seg_study.py --pairs 3000 --epochs 15 --width 8 \
        --lap <proj-i-ml>/training/cnn/testdata/test_dataset/autobot04_r2 \
        --map <duckietown_world>/data/gd1/maps/robotarium2.yaml --json experiments/visual-gap/segmentation/results.json

Steps: (1) `data.seg_pairs.simulator_pairs` (cached in --pairs-cache); the last ~15% of episodes held out;
(2) `learn.segmentation.train_segmentation`, weights to --weights; (3) ONNX export and onnxruntime parity;
(4) on the lap's frames (the project's preprocessing, 64x64): per-class pixel shares of the net and of the HSV
masks, their agreement, an image strip (RGB | HSV masks | net); (5) unless --bound-seeds '': the aligned
study's supervised bound (its CNN, 40 epochs on 3000 simulator frames under a noisy lane PD, seed 0 as there)
with the net's masks as the observation, at the aligned study's lag (-0.10 s) and "straight" (robot's tile and
0.3 m ahead); RGB and HSV-mask rows are read from ../aligned/results.json (same simulator frames and probe).
The lap is not committed (no licence).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from redraw_perception import PreprocessConfig
from redraw_trainer.data.seg_pairs import class_image, simulator_pairs
from redraw_trainer.learn.segmentation import export_onnx, pixel_scores, save_net, train_segmentation
from redraw_trainer.measure import segmentation as ms
from redraw_trainer.measure import visual_gap as vg
from redraw_trainer.measure.lane_labels import TileMap, Trajectory, TrajectoryLabels, usable_labels

HERE = Path(__file__).resolve().parent
ALIGNED = HERE.parent / "aligned"
sys.path.insert(0, str(ALIGNED))
sys.path.insert(0, str(HERE.parent))
LAG, LOOKAHEAD = -0.10, 0.3  # the aligned study's best lag and "straight" look-ahead


def rnd(d):
    return {k: (round(v, 4) if isinstance(v, float) else rnd(v) if isinstance(v, dict) else v) for k, v in d.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--pairs-seed", type=int, default=0)
    parser.add_argument("--pairs-cache", default="/tmp/seg_pairs_{pairs}_s{seed}.npz")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weight-power", type=float, default=0.5, help="class weights = frequency ** -this")
    parser.add_argument("--weights", default=str(HERE / "seg_net.pt"))
    parser.add_argument("--lap", required=True)
    parser.add_argument("--map", required=True)
    parser.add_argument("--bound-seeds", default="0", help="seeds of the supervised bound on the net's masks ('': skip)")
    parser.add_argument("--bound-epochs", type=int, default=40)
    parser.add_argument("--strip", default="/tmp/seg_real_strip.png",
                        help="real frames with masks; kept out of the repository (the lap has no licence)")
    parser.add_argument("--sim-strip", default=str(HERE / "sim_strip.png"), help="held-out pairs with predictions")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    start = time.time()
    out: dict = {"args": vars(args)}

    # (1) simulator pairs
    cache = Path(args.pairs_cache.format(pairs=args.pairs, seed=args.pairs_seed))
    if cache.exists():
        c = np.load(cache)
        images, labels, episodes = c["images"], c["labels"], c["episodes"]
        gen_seconds = float(c["seconds"])
    else:
        t = time.time()
        images, labels, episodes = simulator_pairs(args.pairs, seed=args.pairs_seed, progress=lambda n, total: print(
            f"pairs {n}/{total} ({time.time() - t:.0f} s)", flush=True))
        gen_seconds = time.time() - t
        np.savez_compressed(cache, images=images, labels=labels, episodes=episodes, seconds=gen_seconds)
    held = episodes >= episodes[int(0.85 * len(episodes))]
    out["pairs"] = {"count": len(images), "episodes": int(episodes.max() + 1), "train": int((~held).sum()),
                    "heldout": int(held.sum()), "seconds": round(gen_seconds), "class_shares": ms.class_shares(labels)}
    print(f"pairs: {out['pairs']}", flush=True)

    # (2) training
    def log(epoch, run):
        h = run.heldout[-1]
        print(f"epoch {epoch + 1}: loss {run.loss[-1]:.4f} held-out acc {h['pixel_accuracy']:.4f} (all background "
              f"{h['all_background_accuracy']:.4f}) IoU " + " ".join(f"{ms.CLASS_NAMES[k]} {v:.3f}" for k, v in h["iou"].items())
              + f" ({time.time() - start:.0f} s)", flush=True)

    run = train_segmentation(images[~held], labels[~held], epochs=args.epochs, width=args.width, seed=args.seed,
                             weight_power=args.weight_power,
                             held_images=images[held], held_labels=labels[held], log=log)
    net = run.net
    final = pixel_scores(net.classes(images[held]).numpy(), labels[held])
    out["training"] = {"width": args.width, "parameters": sum(p.numel() for p in net.parameters()), "epochs": args.epochs,
                       "seconds": round(run.seconds), "loss": [round(v, 4) for v in run.loss],
                       "heldout": rnd({"pixel_accuracy": final["pixel_accuracy"],
                                       "all_background_accuracy": final["all_background_accuracy"],
                                       "iou": {ms.CLASS_NAMES[k]: v for k, v in final["iou"].items()}})}
    hsv_sim = ms.masks_to_classes(np.stack([vg.lane_masks(x) for x in images[held]]))
    out["training"]["heldout_hsv_masks_iou"] = ms.agreement(hsv_sim, labels[held])
    save_net(net, args.weights, {"pairs": args.pairs, "pairs_seed": args.pairs_seed, "epochs": args.epochs,
                                 "seed": args.seed, "weight_power": args.weight_power, "preprocess": PreprocessConfig().to_dict(),
                                 "classes": list(ms.CLASS_NAMES), "command": " ".join(sys.argv)})
    out["training"]["weights_bytes"] = Path(args.weights).stat().st_size

    # (3) ONNX parity
    import onnxruntime as ort

    onnx_path = Path("/tmp") / "seg_net_study.onnx"
    export_onnx(net, onnx_path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    batch = images[held][:32]
    with torch.no_grad():
        ref = net(torch.as_tensor(batch)).numpy()
    got = session.run(None, {"image": batch})[0]
    out["onnx"] = {"max_abs_logit_diff": float(np.abs(got - ref).max()),
                   "argmax_agreement": float(np.mean(got.argmax(1) == ref.argmax(1))), "bytes": onnx_path.stat().st_size}
    print(f"training: {out['training']}\nonnx: {out['onnx']}", flush=True)

    # (4) the real lap
    lap = Path(args.lap)
    real = vg.read_real_frames(lap / "images", PreprocessConfig())
    frame_t = vg.frame_times(real.names)
    order = np.argsort(frame_t, kind="stable")
    rgb, frame_t = real.images[order], frame_t[order]
    net_real = net.classes(rgb).numpy()
    hsv_real = ms.masks_to_classes(np.stack([vg.lane_masks(x) for x in rgb]))
    out["real"] = {"frames": len(rgb), "net_class_shares": ms.class_shares(net_real),
                   "hsv_class_shares": ms.class_shares(hsv_real), "net_frames_with": ms.frames_with(net_real),
                   "hsv_frames_with": ms.frames_with(hsv_real), "net_vs_hsv_iou": ms.agreement(net_real, hsv_real)}
    print(f"real: {out['real']}", flush=True)
    picks = np.linspace(0, len(rgb) - 1, 10).astype(int)
    cv2.imwrite(args.strip, cv2.cvtColor(ms.strip([(rgb[i], hsv_real[i], net_real[i]) for i in picks]), cv2.COLOR_RGB2BGR))
    sim_picks = np.flatnonzero(held)[np.linspace(0, held.sum() - 1, 6).astype(int)]
    sim_pred = net.classes(images[sim_picks]).numpy()
    cv2.imwrite(args.sim_strip, cv2.cvtColor(ms.strip(
        [(images[i], labels[i], sim_pred[j]) for j, i in enumerate(sim_picks)]), cv2.COLOR_RGB2BGR))

    # (5) the supervised bound with the net's masks as the observation
    seeds = [int(s) for s in args.bound_seeds.split(",") if s]
    if seeds:
        from aligned_study import supervised_bound

        source = TrajectoryLabels(Trajectory.from_folder(lap), TileMap.from_yaml(args.map))
        source.lookahead = LOOKAHEAD
        pose, straight = source.pose_at(frame_t + LAG)
        usable = usable_labels(pose, straight)
        sim, sim_episode = vg.simulator_frames("rgb", 64, 3000, seed=0)
        sim.images = class_image(net.classes(sim.images).numpy())
        sim_held = vg.heldout_episodes(sim_episode)
        real_masks = class_image(net_real)
        bound = {}
        for seed in seeds:
            pred, sim_r = supervised_bound(sim, sim_held, args.bound_epochs, real_masks, seed)
            fig = vg.aligned_figures({"x": pred}, pose, usable, straight)["x"]
            bound[f"seg net masks seed {seed}"] = {"sim_heldout": sim_r, **fig}
            print(f"bound seed {seed}: sim {sim_r} real {fig} ({time.time() - start:.0f} s)", flush=True)
        aligned = json.loads((ALIGNED / "results.json").read_text())
        row = next(r for r in aligned["table"] if r["labels"].startswith("trajectory") and abs(r["lag"] - LAG) < 1e-6
                   and r["straight"].endswith("0.3 m ahead"))
        for name, fig in row["figures"].items():
            if name.startswith("supervised bound") or name in ("encoder probe", "lane filter"):
                bound[f"{name} (aligned/results.json)"] = fig
        out["bound"] = {"lag": LAG, "lookahead_m": LOOKAHEAD, "rows": bound}
    out["seconds"] = round(time.time() - start)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
