"""Learning: `redraw pretrain`, `refit-reward`, `train-world-model`, `adapt`, `train-policy`, `export`."""

from __future__ import annotations

import argparse

from redraw_trainer import workflows
from redraw_trainer.workflows import fleet
from redraw_trainer.cli.options import add_fields, bag_options, bag_reading, config_from, config_options, override_options
from redraw_trainer.core.config import AdaptConfig, DemoConfig, RefitConfig
from redraw_trainer.core.paths import SMALL_MODEL

DEMO = DemoConfig()  # the budgets every results table used, the defaults on real data too


def pretrain(args: argparse.Namespace) -> list[str]:
    presets = args.preset or ["small"]
    run_dir = args.run_dir or f"runs/pretrain-{presets[-1]}"
    return workflows.pretrain_run(config_from(args), run_dir, args.out, f"redraw pretrain ({', '.join(presets)})",
                                  not args.quiet, args.nproc)


def refit_reward(args: argparse.Namespace) -> list[str]:
    return workflows.refit_reward_run(args.model, args.run_dir, args.out, args.transitions, RefitConfig(steps=args.steps),
                                      args.policy_updates, args.eval_episodes, args.set, args.preset, not args.quiet)


def train_world(args: argparse.Namespace) -> list[str]:
    return workflows.train_world_model_run(args.data, config_from(args), args.run_dir, not args.quiet, args.nproc)


def adapt(args: argparse.Namespace) -> list[str]:
    bags = args.bag or []
    if args.fleet or len(bags) != 1:  # a class of robots: one residual each, in one batched run
        return fleet.adapt_fleet_run(args.model, bags, args.fleet, args.method, args.out, bag_reading(args), args.steps,
                                     args.set, not args.quiet, args.one_at_a_time)
    return workflows.adapt_run(args.model, bags[0], args.method, args.out, bag_reading(args), args.steps, args.set,
                               not args.quiet)


def train_policy(args: argparse.Namespace) -> list[str]:
    if args.fleet:
        return fleet.train_policy_fleet_run(args.fleet, bag_reading(args), args.preset, args.updates, args.set,
                                            not args.quiet)
    if not (args.model and args.bag and args.out):
        raise ValueError("give --model, --bag and --out (one robot), or --fleet DIR (the robots of `redraw adapt`)")
    return workflows.train_policy_run(args.model, args.residual, args.bag, args.out, bag_reading(args), args.preset,
                                      args.updates, args.set, not args.quiet, args.robot)


def export(args: argparse.Namespace) -> list[str]:
    return workflows.export_run(args.policy, args.out, args.gap_threshold, args.gap_reference, args.gap_transitions)


def _bag_or_dataset(p: argparse.ArgumentParser, what: str, required: bool = True, repeat: str = "") -> None:
    p.add_argument("--bag", "--data", dest="bag", required=required, action="append" if repeat else "store",
                   help=f"{what}: a bag (folder or file, any format `redraw bag info` reads) or a dataset .npz "
                        f"from `redraw bag convert` (--data: old name){repeat}")
    bag_options(p)


def nproc_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nproc", type=int, default=1, help="training processes (ranks) to start on this machine, "
                   "gradients averaged between them (gloo on CPU, NCCL on CUDA: one GPU each); train.batch_size is "
                   "the global batch. Or leave it out and run the command under `torchrun --nproc_per_node N -m "
                   "redraw_trainer.cli` (default 1)")


def register(sub: argparse._SubParsersAction) -> None:
    register_pretraining(sub)
    register_adaptation(sub)


def register_pretraining(sub: argparse._SubParsersAction) -> None:
    """The simulator side: pretrain a world model, refit its reward head, train one on a dataset file."""
    p = sub.add_parser("pretrain", help="collect source-sim data (with Plan2Explore) and train the world model")
    p.add_argument("--run-dir", default=None, help="run folder: data, checkpoints, logs; resumes from it "
                   "(default runs/pretrain-<last preset>)")
    p.add_argument("--out", default=None, help="copy the final world model here (float16, no optimizer state)")
    nproc_option(p)
    config_options(p)
    p.set_defaults(func=pretrain)

    p = sub.add_parser("refit-reward", help="refit a world model's reward head to the current task reward")
    p.add_argument("--model", default=SMALL_MODEL, help="world model (default: the shipped one)")
    p.add_argument("--run-dir", default="runs/refit-small", help="run folder: labelled data, refitted model, task "
                   "policy; resumes (default runs/refit-small)")
    p.add_argument("--out", required=True, help="the world model with the refitted head (float16, like the shipped one)")
    p.add_argument("--transitions", type=int, default=12_000, help="labelled source transitions to collect (default 12000)")
    add_fields(p, RefitConfig, ["steps"])
    p.add_argument("--policy-updates", type=int, default=None, help="task-policy updates (default: the preset's)")
    p.add_argument("--preset", default="small", help="task-policy (actor-critic) settings from this preset (default small)")
    p.add_argument("--eval-episodes", type=int, default=None, help="source evaluation episodes of 30 s (default: the preset's)")
    override_options(p)
    p.set_defaults(func=refit_reward, steps=RefitConfig.steps)

    p = sub.add_parser("train-world-model", help="train a world model on a dataset file (resumes in --run-dir)")
    p.add_argument("--data", required=True, help="dataset .npz (from `redraw bag convert`)")
    p.add_argument("--run-dir", required=True, help="run folder: checkpoints and logs; resumes from it")
    nproc_option(p)
    config_options(p)
    p.set_defaults(func=train_world)


def register_adaptation(sub: argparse._SubParsersAction) -> None:
    """The robot side: adapt to target data, train the policy in imagination, export it."""
    _register_adapt(sub)
    _register_policy(sub)


def _register_adapt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapt", help="adapt a world model's dynamics to target data (ReDRAW: a residual)")
    p.add_argument("--model", required=True, help="the pretrained world model whose dynamics to adapt (e.g. models/source_small.pt)")
    _bag_or_dataset(p, "target data", required=False, repeat="; once per robot for a class of robots: one residual "
                    "each, in one batched run")
    p.add_argument("--fleet", default=None, metavar="DIR", help="a class of robots: a folder with one sub-folder of "
                   "bags per robot (named by the topics' vehicle namespace, else by the folder); with or without --bag")
    p.add_argument("--one-at-a-time", action="store_true", help="several robots: adapt them one after another "
                   "instead of batched (the reference the batched run matches; slower)")
    p.add_argument("--method", default="residual", choices=["residual", "finetune", "new_dynamics", "none"],
                   help="residual: ReDRAW (default); finetune the prior; train a new prior; none: unadapted")
    p.add_argument("--out", required=True, help="adapter file to write (+ <name>_adapt.jsonl and TensorBoard beside "
                   "it); several robots: a folder, DIR/<robot>/residual.pt and DIR/fleet.json")
    p.add_argument("--steps", type=int, default=DEMO.adapt_steps, help=f"adaptation updates (default {DEMO.adapt_steps}, "
                   f"as in every results table; the model's own config says {AdaptConfig.steps})")
    override_options(p)
    p.set_defaults(func=adapt)


def _register_policy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-policy", help="train a policy in a (rectified) model's imagination and export it to ONNX")
    p.add_argument("--model", default=None, help="the world model (the adapter's base model with --residual)")
    p.add_argument("--residual", default=None, help="adapter from `redraw adapt --out` (any method)")
    _bag_or_dataset(p, "start frames", required=False)
    p.add_argument("--out", default=None, help="policy .pt path; the .onnx is written beside it")
    p.add_argument("--robot", default=None, help="the robot's name, kept in the policy and its ONNX (redraw.robot)")
    p.add_argument("--fleet", default=None, metavar="DIR", help="instead of --model/--residual/--bag/--out: every "
                   "robot of `redraw adapt`'s folder DIR, each policy as DIR/<robot>/policy.pt and .onnx")
    p.add_argument("--updates", type=int, default=DEMO.policy_updates,
                   help=f"actor-critic updates (default {DEMO.policy_updates}, as in every results table)")
    p.add_argument("--preset", default="small", help="actor-critic settings (policy.*) from this preset (default small)")
    override_options(p)
    p.set_defaults(func=train_policy)

    p = sub.add_parser("export", help="export a policy checkpoint to ONNX (with a parity check)")
    p.add_argument("--policy", required=True, help="the policy's checkpoint .pt (from `redraw train-policy`)")
    p.add_argument("--out", required=True, help="ONNX file to write (parity-checked against torch)")
    p.add_argument("--gap-threshold", type=float, default=None,
                   help="reality-gap meter: WARN above this mean KL (nats/frame) instead of measuring one")
    p.add_argument("--gap-reference", default="steering_reversed,trim=0.1",
                   help="reality gap the threshold is measured with: halfway between the unadapted model's mean reading "
                        "in the source simulator and under this gap ('none': no threshold; default %(default)s)")
    p.add_argument("--gap-transitions", type=int, default=400,
                   help="simulated steps per domain for that measurement (default %(default)s)")
    p.set_defaults(func=export)
