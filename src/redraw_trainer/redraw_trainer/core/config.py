"""Typed configuration: dataclasses, YAML presets layered by name, `section.field=value` CLI overrides.

    cfg = load_config(["small"], ["model.cnn_depth=32", "adapt.lr=0.003"])

The dataclasses below are the one source of defaults, each field with a comment that is also its `--help`
text; `configs/presets.yaml` holds named presets (tiny, small, paper, masks) that say only what differs,
applied in order, then the overrides. Unknown keys are errors, so a typo never silently does nothing.
One tree (`Config`) holds every section: the model, its training and adaptation, the actor-critic,
pretraining, the simulator (`sim`), the reward refit (`refit`) and the demo (`demo`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from redraw_policy.kinematics import KinematicsConfig

PRESETS_FILE = Path(__file__).with_name("configs") / "presets.yaml"


class ConfigError(ValueError):
    """A preset name, key or value is not what the config expects."""


@dataclass
class ModelConfig:
    """DRAW world model sizes and loss scales (DreamerV3 losses without recurrence)."""

    image_size: int = 64
    # What the encoder sees (redraw_perception.PreprocessConfig.observation): "rgb" frames or "lane_masks",
    # yellow/white/red marking masks that look alike in the simulator and on the robot (experiments/visual-gap/)
    observation: str = "rgb"
    action_dim: int = 2
    # Commands the model reads: the last k sent (the one that led into the frame first). The prior, the residual
    # and the reward head read them beside z (a latency of up to k-1 steps is in their input), the posterior
    # beside the frame (z carries speed); 0 = the last command alone, the posterior the frame alone (models
    # written before this option). The robot knows what it sent; a bag has it in its command topic.
    command_history: int = 4
    cnn_depth: int = 16
    groups: int = 32  # number of categoricals in z
    classes: int = 16  # classes per categorical
    hidden: int = 256  # MLP width
    prior_layers: int = 2
    head_layers: int = 1
    unimix: float = 0.01
    reward_bins: int = 255
    # What the reward head reads: "z_action" = the latent and the commands that led into the frame (one frame
    # cannot show speed, and progress along the lane is most of the reward); "z" = the latent alone (models
    # written before this option).
    reward_inputs: str = "z_action"
    # Auxiliary head: z must predict the simulator's privileged lane pose (lateral offset, heading) where the
    # data has it, so the latent encodes where the robot is on the road (the reward and continue heads read it).
    # Robot data has no lane pose and trains nothing here. 0 = no lane head (models written before it).
    lane_scale: float = 1.0
    recon_scale: float = 1.0
    reward_scale: float = 1.0
    cont_scale: float = 1.0
    dyn_scale: float = 1.5
    rep_scale: float = 0.5
    free_bits: float = 1.0
    lr: float = 3e-4
    grad_clip: float = 1000.0


@dataclass
class TrainConfig:
    """World-model pretraining loop."""

    batch_size: int = 16  # sequences per optimizer step over all ranks: N ranks train on batch_size / N each
    seq_len: int = 16
    steps: int = 5000
    log_every: int = 50
    checkpoint_every: int = 250
    # Share of each batch's windows that end on a terminal frame (leaving the road), so the reward and continue
    # heads see failure in every batch rather than in ~1% of rows; 0 = uniform windows.
    terminal_fraction: float = 0.25


@dataclass
class AdaptConfig:
    """Dynamics adaptation on target data (ReDRAW residual and the baselines)."""

    method: str = "residual"  # residual | finetune | new_dynamics | none
    steps: int = 2000
    batch_size: int = 16
    seq_len: int = 16
    lr: float = 1e-2  # residual: the authors' high rate
    finetune_lr: float = 3e-4  # finetune / new dynamics
    residual_hidden: int = 256
    grad_clip: float = 100.0
    eval_horizon: int = 10
    eval_context: int = 5
    holdout_fraction: float = 0.2
    validation_fraction: float = 0.15  # training episodes set aside to pick the step kept (early stopping); 0: off
    log_every: int = 50


@dataclass
class PolicyConfig:
    """Actor-critic in imagination (imagination.py); DreamerV3's values unless a comment says why not."""

    updates: int = 1000
    batch_size: int = 256
    horizon: int = 15  # imagined steps per update
    gamma: float = 0.97  # DreamerV3 0.997 at its frame rates; 0.97 at 10 Hz looks ~3 s ahead, then the critic
    lam: float = 0.95
    hidden: int = 256
    layers: int = 2
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    entropy: float = 3e-4  # entropy bonus on the Normal policy
    executed_log_prob: bool = True  # REINFORCE on the likelihood of the clipped action run (censored Normal);
    # False: of the raw sample, as DreamerV3 (whose world model sees the raw sample; ours sees the clipped one)
    actor_outscale: float = 0.01  # the actor's output layer starts at this scale: mean ~0, std 0.89 of max
    min_std: float = 0.1
    max_std: float = 1.0
    slow_critic_decay: float = 0.98
    slow_target: bool = False  # lambda-return bootstraps from the slow critic (True) or the critic (DreamerV3)
    slow_reg: float = 1.0  # the critic is also pulled toward the slow critic's predictions
    return_norm_decay: float = 0.99  # EMA of the 5th-95th percentile range of the returns
    return_norm_limit: float = 1.0  # advantages are divided by max(limit, range)
    grad_clip: float = 100.0
    value_bins: int = 255


@dataclass
class PretrainConfig:
    """Source-simulator data and Plan2Explore rounds for `redraw pretrain`."""

    domain: str = "duckietown"
    seed_transitions: int = 24000
    seed_behaviours: str = "pid:noise=0.2;pid:noise=0.5;smooth;random"  # split evenly
    chunk_transitions: int = 2000
    workers: int = 2
    explore_rounds: int = 2
    explore_transitions: int = 3000
    explore_updates: int = 300
    ensemble_updates: int = 300
    ensemble_members: int = 5
    steps_per_round: int = 1000
    eval_episodes: int = 10


@dataclass
class DuckietownConfig:
    """The source simulator (gym-duckietown) as the world model learned it: camera, control rate, the action
    scale (forward / turn action 1 = v_max m/s / omega_max rad/s) and the reward."""

    map_name: str = "loop_empty"
    domain_rand: bool = True
    render_width: int = 160  # 4:3 like the robot's 640x480 camera; preprocessing crops and resizes
    render_height: int = 120
    control_hz: float = 10.0
    physics_hz: float = 30.0
    episode_steps: int = 300
    v_max: float = 0.5  # m/s at forward action 1
    omega_max: float = 4.0  # rad/s at turn action 1
    alive_bonus: float = 1.0  # per step on the road
    progress_scale: float = 20.0  # reward per metre driven along the lane
    lateral_scale: float = 3.0  # penalty per metre off the lane centre, per step
    heading_scale: float = 0.5  # penalty per radian off the lane direction, per step
    offroad_penalty: float = 10.0

    def reward_spec(self) -> dict[str, float]:
        """The reward's parameters, stored with every model whose reward head learned them."""
        return {"alive_bonus": self.alive_bonus, "progress_scale": self.progress_scale,
                "lateral_scale": self.lateral_scale, "heading_scale": self.heading_scale,
                "offroad_penalty": self.offroad_penalty}

    @property
    def kinematics(self) -> KinematicsConfig:
        return KinematicsConfig(v_max=self.v_max, omega_max=self.omega_max)


@dataclass
class RefitConfig:
    """`redraw refit-reward`: refit a world model's reward head to the current task reward."""

    steps: int = 3000  # reward-head optimizer steps
    batch_size: int = 512
    lr: float = 1e-3
    holdout_fraction: float = 0.1
    log_every: int = 100
    inputs: str = "z_action"  # what the refitted head reads (model.reward_inputs); a change builds a new head


@dataclass
class DemoConfig:
    """`redraw demo`: the target domain, what is recorded in it, and the budgets of every method."""

    model: str = ""  # source world model; "" = the shipped one (models/source_small.pt, or source_paper.pt with --preset paper)
    out: str = "runs/demo"  # run folder: target bag, models, policies, report
    gap: str = "steering_reversed,trim=0.1"  # the target's reality gap, e.g. "gain=0.6,latency_steps=2"; "none" = the source
    preset: str = "small"  # actor-critic settings (policy.*) come from this preset; the world model brings its own
    transitions: int = 10_000  # target transitions recorded at 10 Hz
    behaviour: str = "operator;operator;smooth"  # reward-free target driving, taken in turn episode by episode
    episodes: int = 20  # evaluation episodes per policy and seed
    episode_steps: int = 200  # steps per evaluation episode at 10 Hz (200 = 20 s)
    oracle_steps: int = 1000  # full world-model updates, at least the adaptation methods' steps
    camera_check_frames: int = 200  # source frames compared through both camera paths
    reward_check_episodes: int = 5  # target episodes per behaviour (drive / stand / leave) for the reward check
    policy_updates: int = 1000  # actor-critic updates per method and seed; the imagined return and entropy flatten by then (docs/demo-small)
    policy_batch: int = 256  # imagined trajectories per actor-critic update
    adapt_steps: int = 1000  # adaptation updates per method and seed
    workers: int = 2  # simulator processes
    seeds: int = 1  # seeds: adaptation + policy training per seed, on one target bag
    seed: int = 0  # first seed


@dataclass
class Config:
    seed: int = 0
    device: str = "auto"  # auto: CUDA when available, else CPU (see devices.py)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    sim: DuckietownConfig = field(default_factory=DuckietownConfig)
    refit: RefitConfig = field(default_factory=RefitConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "Config":
        """A config written to a checkpoint; keys a newer version added take the value older models had."""
        cfg = cls()
        model = data.get("model")
        if isinstance(model, dict):  # keys a model written before them lacks: the behaviour it had
            older = {"reward_inputs": "z", "command_history": 0, "lane_scale": 0.0}
            data = {**data, "model": {**{k: v for k, v in older.items() if k not in model}, **model}}
        _merge(cfg, data, source)
        return cfg


def _merge(cfg: Any, data: dict[str, Any], source: str, prefix: str = "") -> None:
    known = {f.name: f for f in dataclasses.fields(cfg)}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{source}: unknown config key '{prefix}{key}' (known: {sorted(known)})")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{prefix}{key}' is a section; expected a mapping, got {value!r}")
            _merge(current, value, source, f"{prefix}{key}.")
        else:
            setattr(cfg, key, _coerce(value, type(current), f"{source}: '{prefix}{key}'"))


def _coerce(value: Any, kind: type, where: str) -> Any:
    if kind is bool and isinstance(value, str):
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"{where}: expected a boolean, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from err


def load_presets() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(PRESETS_FILE.read_text())


def load_config(presets: list[str] | tuple[str, ...] = ("small",), overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """The dataclasses' defaults, then each named preset in order, then `section.key=value` overrides."""
    available = load_presets()
    cfg = Config()
    for name in presets:
        if name not in available:
            raise ConfigError(f"{PRESETS_FILE}: no preset '{name}' (available: {sorted(available)})")
        _merge(cfg, available[name] or {}, f"preset '{name}'")
    return apply_overrides(cfg, overrides)


def with_preset_policy(cfg: Config, preset: str) -> Config:
    """`cfg` (a trained world model's config) with `preset`'s actor-critic settings, in place: a policy trained
    anew takes today's preset, not the policy section stored with the world model it imagines in."""
    cfg.policy = load_config([preset]).policy
    return cfg


def apply_overrides(cfg: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    """Apply `section.key=value` items (values parsed as YAML) to `cfg` in place; returns it."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}': expected section.key=value")
        path, value = item.split("=", 1)
        nested: dict[str, Any] = {}
        node = nested
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
        _merge(cfg, nested, f"override '{item}'")
    return cfg
