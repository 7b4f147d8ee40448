"""The demo's results table and report folder: markdown, learning curves, return bars, image strip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from redraw_trainer.measure.plots import bars_with_ci, horizon_curves, image_strip
from redraw_trainer.envs.rollout import ci95

LABELS = {"zero_shot": "zero-shot (sim model)", "residual": "ReDRAW (residual)", "finetune": "finetune",
          "finetune_paper": "finetune, no early stopping (paper)", "new_dynamics": "new dynamics",
          "oracle": "oracle (frozen encoder, labelled target)", "expert": "expert (privileged lane PD, reference)"}


def paired_differences(results: dict[str, Any], method: str = "residual") -> dict[str, dict[str, float]]:
    """`method` minus each other method, paired by (seed, episode): every policy meets the same starts, so
    the per-episode difference removes the start's own difficulty. Mean and 95% half-width, distance and return."""
    base = results["methods"].get(method, {})
    out = {}
    for name, entry in results["methods"].items():
        if name == method or not entry.get("distance") or len(entry["distance"]) != len(base.get("distance", [])):
            continue
        row = {"n": len(entry["distance"])}
        for key in ("distance", "returns"):
            diff = np.asarray(base[key], float) - np.asarray(entry[key], float)
            row[key], row[f"{key}_ci95"] = float(diff.mean()), ci95(diff)
        out[name] = row
    return out


def comparisons_text(results: dict[str, Any], method: str = "residual") -> str:
    rows = paired_differences(results, method)
    if not rows:
        return ""
    seeds = results["config"]["demo"]["seeds"] if "config" in results else "?"
    lines = [f"{LABELS.get(method, method)} minus each method, paired by seed and start ({seeds} seed(s)); "
             "mean ± 95% interval; an interval that excludes 0 is a difference these runs show:", "",
             "| compared with | pairs | distance (m) | return |", "|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {LABELS.get(name, name)} | {r['n']} | {r['distance']:+.2f} ± {r['distance_ci95']:.2f} | "
                     f"{r['returns']:+.1f} ± {r['returns_ci95']:.1f} |")
    return "\n".join(lines)


def summarise(entry: dict[str, Any]) -> dict[str, float]:
    returns = np.array(entry.get("returns", []), float)
    n = len(returns)
    kl = np.mean(np.array(entry["open_loop_kl"]), 0) if entry.get("open_loop_kl") else np.full(1, np.nan)
    return {
        "n": n,
        "mean": float(returns.mean()) if n else float("nan"),
        "ci95": ci95(returns),
        "lane_time": float(np.mean(entry.get("lane_time", [np.nan]))),
        "distance": float(np.mean(entry.get("distance", [np.nan]))),
        "distance_ci95": ci95(entry.get("distance", [])),
        "kl_h1": float(kl[0]),
        "kl_mean": float(kl.mean()),
        "heldout_kl": float(np.mean(entry.get("heldout_kl", [np.nan]))),
        "accuracy_h1": float(np.mean(np.array(entry.get("latent_accuracy", [[np.nan]])), 0)[0]),
    }


def results_table(results: dict[str, Any]) -> str:
    lines = ["| method | return (mean ± 95% CI) | episodes | distance along lane (m, ± 95% CI) | lane-keeping time (s) "
             "| held-out 1-step KL | open-loop KL h=1 | open-loop KL mean | latent accuracy h=1 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, entry in results["methods"].items():
        s = summarise(entry)
        own = " (own latents)" if entry.get("own_latent_space") else ""
        lines.append(f"| {LABELS.get(name, name)} | {s['mean']:.2f} ± {s['ci95']:.2f} | {s['n']} | {s['distance']:.2f} ± {s['distance_ci95']:.2f} "
                     f"| {s['lane_time']:.1f} | {s['heldout_kl']:.2f}{own} | "
                     f"{s['kl_h1']:.2f} | {s['kl_mean']:.2f} | {s['accuracy_h1']:.3f} |")
    return "\n".join(lines)


def write_report(results: dict[str, Any], curves: dict[str, list], strip: dict[str, np.ndarray], out: str | Path,
                 policy_curves: dict[str, list] | None = None) -> str:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = results_table(results)
    names = list(results["methods"])
    summaries = [summarise(results["methods"][n]) for n in names]
    bars_with_ci([LABELS.get(n, n) for n in names], [s["mean"] for s in summaries], [s["ci95"] for s in summaries],
                 out / "returns.png", "episode return (target sim)", "Return in the target domain, 95% CI")
    horizon_curves({LABELS.get(n, n): np.mean(np.array(results["methods"][n]["open_loop_kl"]), 0) for n in names
                    if results["methods"][n].get("open_loop_kl")},
                   out / "open_loop_kl.png", "KL(posterior || prior)", "Held-out open-loop dynamics error")
    _method_curves(curves, "adapt/kl", out / "adaptation_curves.png", "adaptation step", "training KL",
                   "Dynamics adaptation on target data", log_y=True)
    _method_curves(policy_curves or {}, "policy/imagined_return", out / "policy_curves.png", "actor-critic update",
                   "imagined return", "Policy training in imagination", marker=".")
    _method_curves(policy_curves or {}, "policy/entropy", out / "policy_entropy.png", "actor-critic update",
                   "policy entropy (nats, 2 action dims)", "Policy entropy during training", marker=".")
    _method_curves(policy_curves or {}, "policy/imagined_reward", out / "policy_reward.png", "actor-critic update",
                   "imagined reward per step", "Imagined reward along the policy's own rollouts", marker=".")
    image_strip(strip, out / "imagined_vs_real.png",
                "Held-out target frames vs open-loop imagination from the same start frame t and actions", first_step=1)
    demo = results["config"]["demo"]
    text = [
        "# redraw demo report", "",
        f"Target domain: source simulator + `{demo['gap']}`. Target data: {results['target_rows']} reward-free "
        f"transitions (behaviours `{demo['behaviour']}`, taken in turn episode by episode) recorded as rosbag2 and "
        f"read through the bag reader. {_split_text(results.get('split'))} Each policy: trained in imagination, "
        f"exported to ONNX, run through the robot runtime for {demo['episodes']} episodes of up to "
        f"{demo['episode_steps']} steps per seed ({demo['seeds']} seed(s)).", "",
        table, "",
        comparisons_text(results), "",
        "![returns](returns.png)", "",
        "Return bars: mean episode return in the target simulator with 95% confidence intervals.", "",
        clips_text(results), "",
        "![open-loop KL](open_loop_kl.png)", "",
        "Open-loop KL: how far each model's rolled-out prior drifts from the encoder posterior on held-out "
        "target frames, by horizon (lower is better; every method, the oracle too, reads the same frozen encoder).", "",
        "![adaptation](adaptation_curves.png)", "",
        "Adaptation curves: training KL on target data per method.", "",
        "![policy](policy_curves.png)", "",
        "Policy learning curves (first seed): mean imagined λ-return at the start states, per actor-critic update, "
        "inside each method's own model. The curve also rises while the critic warms up from zero, so it does "
        "not show that the actor improves; the returns in the target simulator (the table) do.", "",
        "![entropy](policy_entropy.png) ![imagined reward](policy_reward.png)", "",
        "Policy entropy (falls as the actor commits) and the mean imagined reward per step along the actor's own "
        "imagined rollouts (rises as it finds what the reward head pays for), per update.", "",
        reward_check_text(results), "",
        "![strip](imagined_vs_real.png)", "",
        "Top row: real held-out target frames 1 to 8 steps after a start frame t. Below: frames decoded from "
        "open-loop rollouts of the unadapted and the ReDRAW-rectified dynamics, from frame t and the recorded "
        "actions (no later frame is seen).", "",
        _camera_text(results.get("camera_path")), "",
        f"Total time {results['total_s']} s; stages: {results['timings_s']}.",
    ]
    (out / "report.md").write_text("\n".join(text) + "\n")
    return table


def clips_text(results: dict[str, Any]) -> str:
    """Per method, what a user would rather watch than read: one evaluation episode in the target (the first
    start, first seed) as the robot's camera saw it with the policy's commands drawn, and the path it drove."""
    clips = results.get("clips") or {}
    if not clips:
        return ""
    lines = ["What each policy did: the first evaluation episode in the target, per method (first seed, the same "
             "start for every policy): the robot's camera view with the policy's command drawn (arrow: length ~ v, "
             "angle ~ ω, ω > 0 turning left; the GIF shows every 2nd step, the MP4 every step) and a top-down "
             "trace of the path over the map's drivable tiles (o start, x end).", ""]
    for name, clip in clips.items():
        lines += [f"**{LABELS.get(name, name)}** — return {clip['return']:.1f}, {clip['distance']:.2f} m along the lane "
                  f"in {clip['steps']} steps ([MP4]({clip['mp4']}))", "",
                  f"![{name} camera]({clip['gif']}) ![{name} path]({clip['path']})", ""]
    return "\n".join(lines)


def reward_check_text(results: dict[str, Any]) -> str:
    """The reward check per method (first seed): can imagination tell driving from standing from leaving?"""
    rows = [(n, m["reward_check"][0]) for n, m in results["methods"].items() if m.get("reward_check")]
    if not rows:
        return ""
    first = rows[0][1]["scenarios"]
    lines = ["Reward check (first seed): fresh target episodes of 3 s per behaviour — *drive* (the lane PD, reversed "
             "steering undone), *stand* still, *leave* the road (a hard turn). True return, and the return each "
             "model imagines open-loop from the first frame under the same commands (reward head on imagined states, "
             "weighted by predicted continuation). A policy can only learn what this separates.", "",
             "| model | " + " | ".join(f"{k}: imagined (true {v['true_return']:.1f})" for k, v in first.items())
             + " | per-step reward correlation (real frames) |",
             "|---" * (len(first) + 2) + "|"]
    for name, check in rows:
        cells = " | ".join(f"{v['imagined_return']:.1f}" for v in check["scenarios"].values())
        lines.append(f"| {LABELS.get(name, name)} | {cells} | {check['step_correlation']:.2f} |")
    return "\n".join(lines)


def _camera_text(check: dict[str, Any] | None) -> str:
    if not check:
        return ""
    return (f"Camera path check ({check['frames']} source-simulator frames; pretraining saw renders preprocessed "
            f"directly, target and evaluation frames pass through 640x480 JPEG and the robot's decode): mean pixel "
            f"difference {check['pixel_mae']:.4f}, posterior KL between the two paths "
            f"{check['posterior_kl_direct_vs_jpeg']:.2f} (between consecutive frames: "
            f"{check['posterior_kl_consecutive_frames']:.2f}), argmax agreement {check['argmax_agreement']:.1%}.")


def _split_text(split: dict[str, Any] | None) -> str:
    if not split:
        return ""
    sides = []
    for side in ("train", "holdout"):
        by = ", ".join(f"{b}: {v['episodes']} episodes / {v['rows']} rows" for b, v in split[side]["by_behaviour"].items())
        sides.append(f"{side} {split[side]['episodes']} episodes / {split[side]['rows']} rows ({by})")
    return ("Whole episodes held out at random (seeded): " + "; ".join(sides) + ". Every model is scored on the "
            "same held-out episodes; the oracle, trained end to end, has its own encoder, so its KLs are in its "
            "own latent space.")


def _method_curves(curves: dict[str, list], key: str, path: Path, xlabel: str, ylabel: str, title: str,
                   log_y: bool = False, marker: str | None = None) -> None:
    """One line per method: `key` against step, from each method's logged history."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, history in curves.items():
        if history:
            ax.plot([h["step"] for h in history], [h[key] for h in history], marker=marker, label=LABELS.get(name, name))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
