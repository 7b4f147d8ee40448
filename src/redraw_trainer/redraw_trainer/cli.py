"""The `redraw` command line: every step of the sim-to-real pipeline is one sub-command.

    redraw pretrain --preset small --run-dir runs/pretrain-small --out models/source_small.pt
    redraw train-world-model --data DATA.npz --run-dir DIR
    redraw adapt --model MODEL.pt --data DATA.npz --method residual --out ADAPTER.pt

Presets and overrides: `--preset tiny|small|paper` (repeatable) and `--set section.key=value`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from redraw_trainer.config import ConfigError, apply_overrides, load_config


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", action="append", default=None, help="config preset(s), in order (default: small)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.steps=100")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _config(args: argparse.Namespace):
    cfg = load_config(args.preset or ["small"], args.set)
    if args.seed is not None:
        cfg.seed = args.seed
    return cfg


def cmd_pretrain(args: argparse.Namespace) -> int:
    from redraw_trainer.pretrain import export_world_model, pretrain

    cfg = _config(args)
    summary = pretrain(cfg, args.run_dir, progress=not args.quiet)
    from redraw_trainer.plots import learning_curves

    learning_curves(Path(args.run_dir) / "metrics.jsonl", ["train/loss/recon", "train/kl/dynamics", "train/loss/reward"],
                    Path(args.run_dir) / "curve.png", title=f"redraw pretrain ({', '.join(args.preset or ['small'])})")
    print(json.dumps({k: {"mean": v["mean"], "ci95": v["ci95"]} for k, v in summary["source_returns"].items()}, indent=2))
    if args.out:
        print(f"world model written to {export_world_model(args.run_dir, args.out)}")
    return 0


def cmd_train_world_model(args: argparse.Namespace) -> int:
    from redraw_trainer.data.sequences import SequenceData
    from redraw_trainer.train import train_world_model

    cfg = _config(args)
    _, steps = train_world_model(SequenceData.load(args.data), cfg, args.run_dir, progress=not args.quiet)
    print(f"world model trained to step {steps} in {args.run_dir}")
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    from redraw_trainer.adapt import adapt
    from redraw_trainer.adapters import save_adapter
    from redraw_trainer.data.sequences import SequenceData
    from redraw_trainer.evaluation import open_loop
    from redraw_trainer.train import load_world_model

    model, cfg, _ = load_world_model(args.model)
    apply_overrides(cfg, args.set)
    data = SequenceData.load(args.data)
    train, holdout = data.split(cfg.adapt.holdout_fraction)
    result = adapt(model, train, cfg.adapt, args.method, seed=cfg.seed, progress=not args.quiet)
    scores = open_loop(model, result.dynamics, holdout, cfg.adapt.eval_context, cfg.adapt.eval_horizon)
    print(f"{args.method}: held-out open-loop KL per horizon {scores['kl'].round(2).tolist()}")
    if args.out:
        save_adapter(args.out, result, args.model, cfg)
        print(f"adapter written to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redraw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="collect source-sim data (with Plan2Explore) and train the world model")
    p.add_argument("--run-dir", default="runs/pretrain-small")
    p.add_argument("--out", default=None, help="copy the final world model here (no optimizer state)")
    _config_args(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("train-world-model", help="train a world model on a dataset file (resumes in --run-dir)")
    p.add_argument("--data", required=True)
    p.add_argument("--run-dir", required=True)
    _config_args(p)
    p.set_defaults(func=cmd_train_world_model)

    p = sub.add_parser("adapt", help="adapt a world model's dynamics to target data")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="dataset .npz")
    p.add_argument("--method", default="residual", choices=["residual", "finetune", "new_dynamics", "none"])
    p.add_argument("--out", default=None)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_adapt)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ValueError, FileNotFoundError) as err:
        print(f"redraw {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
