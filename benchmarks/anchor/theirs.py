"""The anchor's side: NM512/dreamerv3-torch's own WorldModel._train and ImagBehavior._train, timed.

Run by `run.py` with the anchor's venv and `--anchor-src` (a checked-out copy of their repository);
prints one JSON line. Their code is imported from that directory as it is, configured as their
`dreamer.py` configures it (configs.yaml `defaults` + `dmc_vision`, then the sizes given here), and
fed random data of their dataset's shapes. Nothing of theirs is copied into this repository.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import types

from anchor_timing import add_arguments, report, time_updates


def load_config(src: pathlib.Path, sizes: dict, threads: int) -> types.SimpleNamespace:
    from ruamel.yaml import YAML  # their YAML 1.2 reader (PyYAML would read 1e-4 as a string)

    configs = YAML(typ="safe", pure=True).load((src / "configs.yaml").read_text())

    def recursive_update(base, update):  # as their dreamer.py
        for key, value in update.items():
            if isinstance(value, dict) and key in base:
                recursive_update(base[key], value)
            else:
                base[key] = value

    config: dict = {}
    for name in ("defaults", "dmc_vision"):
        recursive_update(config, configs[name])
    depth, hidden = sizes["cnn_depth"], sizes["hidden"]
    recursive_update(config, {
        "device": "cpu", "compile": False, "precision": 32, "size": [sizes["image_size"]] * 2,
        "dyn_stoch": sizes["groups"], "dyn_discrete": sizes["classes"], "dyn_hidden": hidden,
        "dyn_deter": sizes["deter"], "units": hidden,
        "encoder": {"cnn_depth": depth}, "decoder": {"cnn_depth": depth},
        "reward_head": {"layers": sizes["head_layers"]}, "cont_head": {"layers": sizes["head_layers"]},
        "actor": {"layers": sizes["policy_layers"]}, "critic": {"layers": sizes["policy_layers"]},
        "batch_size": sizes["batch"], "batch_length": sizes["seq_len"], "imag_horizon": sizes["horizon"],
        "imag_gradient": sizes["imag_gradient"], "num_actions": sizes["action_dim"],
    })
    return types.SimpleNamespace(**config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--anchor-src", required=True, type=pathlib.Path)
    add_arguments(parser)
    args = parser.parse_args()
    sizes = json.loads(args.sizes)
    sys.path.insert(0, str(args.anchor_src.resolve()))
    try:
        import torch.utils.tensorboard  # noqa: F401  (their tools.py imports it; the anchor venv has it)
    except ImportError:  # e.g. the project's venv in CI smoke runs: the timed code never logs
        sys.modules["torch.utils.tensorboard"] = types.SimpleNamespace(SummaryWriter=None)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import models  # theirs
    import tools  # theirs

    config = load_config(args.anchor_src, sizes, args.threads)
    tools.set_seed_everywhere(0)
    box = lambda *shape: types.SimpleNamespace(shape=shape)  # noqa: E731  (a gym Box's shape is all they read)
    s = sizes["image_size"]
    obs_space = types.SimpleNamespace(spaces={"image": box(s, s, 3), "is_first": box(1), "is_last": box(1),
                                              "is_terminal": box(1)})
    act_space = box(sizes["action_dim"])
    wm = models.WorldModel(obs_space, act_space, 0, config)
    rng = np.random.default_rng(0)
    b, t = sizes["batch"], sizes["seq_len"]

    def batch() -> dict:
        is_first = np.zeros((b, t), bool)
        is_first[:, 0] = True
        return {"image": rng.integers(0, 255, (b, t, s, s, 3), dtype=np.uint8),
                "action": rng.uniform(-1, 1, (b, t, sizes["action_dim"])).astype(np.float32),
                "reward": rng.normal(size=(b, t)).astype(np.float32), "is_first": is_first,
                "is_terminal": np.zeros((b, t), bool), "discount": np.ones((b, t), np.float32)}

    batches = [batch() for _ in range(4)]
    counter = iter(range(10**9))
    for what in args.what:  # world_model first: imagination then runs on the trained model
        params = sum(p.numel() for p in wm.parameters())
        if what == "world_model":
            step = lambda: wm._train(batches[next(counter) % len(batches)])  # noqa: E731
            items = b * t
        else:
            behavior = models.ImagBehavior(config, wm)
            post, _, _ = wm._train(batches[0])
            start = {k: v.detach() for k, v in post.items()}  # b * t start states, as their Dreamer._train
            objective = lambda f, st, a: wm.heads["reward"](wm.dynamics.get_feat(st)).mode()  # noqa: E731  (theirs)
            step = lambda: behavior._train(start, objective)  # noqa: E731
            items = b * t * sizes["horizon"]
            params = sum(p.numel() for p in behavior.actor.parameters()) + sum(p.numel() for p in behavior.value.parameters())
        report("dreamerv3-torch", what, time_updates(step, args.warmup, args.updates), items, params)


if __name__ == "__main__":
    main()
