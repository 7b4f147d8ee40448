"""Simulator pairs for a lane-marking segmentation net, the ReDRAW authors' way (duckiebotssim's
`rcan_obs_preprocessor.py`: a small U-Net trained only on simulator (frame, ground-truth mask) pairs under strong
randomisation).

Each pair: the simulator's camera render under `domain_rand`, randomised further (a small camera shift / zoom /
roll, brightness, contrast, gamma, hue, saturation, white balance, blur, sensor noise, JPEG at the robot's
640x480), decoded and cropped / resized by the project's one preprocessing (`redraw_perception`) to the model's
64x64 input; and the same view rendered with `render_obs(segment=True)`, mapped to class ids (`CLASSES`),
moved by the same geometric shift and brought to 64x64 by the same crop and area resize (a pixel is a marking
where that marking covers at least `MARK_SHARE` of it, so thin far lines survive).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from redraw_perception import PreprocessConfig, Preprocessor

from redraw_trainer.envs.segment_render import CLASSES, render_segmented

MARK_SHARE = 0.35


def segment_classes(seg: np.ndarray) -> np.ndarray:
    """HxWx3 segmented render -> HxW uint8 class ids (0 background, 1 yellow, 2 white, 3 red).

    Sky / off-map magenta (R = B, G = 0), asphalt and grass (black) and object colours are background; a pixel
    is a marking when it is within the paint colour's hue and at least 60% as bright (anti-aliased edges)."""
    s = seg.astype(np.int16)
    r, g, b = s[..., 0], s[..., 1], s[..., 2]
    out = np.zeros(seg.shape[:2], np.uint8)
    out[(r >= 150) & (g >= 150) & (b <= 90) & (abs(r - g) <= 40)] = 1
    out[(r >= 150) & (g >= 150) & (b >= 150) & (abs(r - b) <= 30) & (abs(g - b) <= 30)] = 2
    out[(r >= 150) & (g <= 70) & (b <= 70)] = 3
    return out


def labels_to_input(classes: np.ndarray, preprocessor: Preprocessor) -> np.ndarray:
    """Full-size class ids -> the model input's size, through the one preprocessing's crop and area resize."""
    onehot = np.stack([(classes == k) for k in (1, 2, 3)], -1).astype(np.uint8) * 255
    share = preprocessor.from_rgb(onehot).astype(np.float32) / 255.0
    out = (np.argmax(share, -1) + 1).astype(np.uint8)
    out[share.max(-1) < MARK_SHARE] = 0
    return out


def class_image(classes: np.ndarray) -> np.ndarray:
    """Class ids (..., H, W) -> the lane-mask observation's layout (..., H, W, 3): channels yellow, white, red
    at 255 (as `redraw_perception.lane_masks`), so a world model or probe takes it unchanged."""
    return np.stack([(classes == k) for k in (1, 2, 3)], -1).astype(np.uint8) * 255


@dataclass(frozen=True)
class Randomisation:
    """Strength of the randomisation applied to the camera side of each pair (on top of `domain_rand`)."""

    shift: float = 0.06  # camera shift, fraction of the frame (x and y)
    zoom: tuple[float, float] = (0.92, 1.12)
    roll_deg: float = 4.0
    brightness: float = 0.35  # multiplicative, +-
    contrast: float = 0.4
    gamma: tuple[float, float] = (0.6, 1.6)
    hue_deg: float = 14.0
    saturation: tuple[float, float] = (0.4, 1.5)
    channel_gain: float = 0.2  # white balance, per channel +-
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.3, 1.6)  # at the render's size
    noise_sd: tuple[float, float] = (0.0, 12.0)
    jpeg_quality: tuple[int, int] = (25, 95)


def _geometry(rng: np.random.Generator, w: int, h: int, r: Randomisation) -> np.ndarray:
    zoom = rng.uniform(*r.zoom)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-r.roll_deg, r.roll_deg), zoom)
    m[:, 2] += rng.uniform(-r.shift, r.shift, 2) * (w, h)
    return m


def randomise(rgb: np.ndarray, classes: np.ndarray, rng: np.random.Generator, r: Randomisation = Randomisation(),
              preprocessor: Preprocessor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One randomised (64x64 RGB, 64x64 class ids) pair from a full-size render and its class ids."""
    preprocessor = preprocessor or Preprocessor(PreprocessConfig())
    h, w = rgb.shape[:2]
    m = _geometry(rng, w, h, r)
    rgb = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    classes = cv2.warpAffine(classes, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    x = rgb.astype(np.float32) / 255.0
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)  # float: H in degrees
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-r.hue_deg, r.hue_deg)) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(*r.saturation), 0, 1)
    x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    x = x * (1 + rng.uniform(-r.channel_gain, r.channel_gain, 3)).astype(np.float32)
    x = (x - x.mean()) * (1 + rng.uniform(-r.contrast, r.contrast)) + x.mean()
    x = np.clip(x * (1 + rng.uniform(-r.brightness, r.brightness)), 0, 1) ** rng.uniform(*r.gamma)
    if rng.random() < r.blur_p:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(*r.blur_sigma))
    x = x * 255.0 + rng.normal(0, rng.uniform(*r.noise_sd), x.shape)
    rgb = np.clip(x, 0, 255).astype(np.uint8)
    c = preprocessor.config
    frame = cv2.resize(rgb, (c.frame_width, c.frame_height), interpolation=cv2.INTER_LINEAR)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(*r.jpeg_quality))])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return preprocessor.from_jpeg(jpeg.tobytes()), labels_to_input(classes, preprocessor)


DEFAULT_MAPS = ("loop_empty", "small_loop", "4way", "zigzag_dists")


def simulator_pairs(count: int, seed: int = 0, maps: tuple[str, ...] = DEFAULT_MAPS,
                    randomisation: Randomisation = Randomisation(), episode_steps: int = 60,
                    random_action_p: float = 0.25, preprocess: PreprocessConfig = PreprocessConfig(),
                    progress=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` pairs: (N, 64, 64, 3) uint8 frames, (N, 64, 64) uint8 class ids, (N,) episode index.

    Driven by a noisy lane PD with random actions mixed in (probability `random_action_p` per step), episodes
    of `episode_steps`, `domain_rand` on, cycling through `maps`; one pair per step."""
    from redraw_trainer.core.config import DuckietownConfig
    from redraw_trainer.envs.duckietown import DuckietownLaneEnv, lane_pid_policy

    rng = np.random.default_rng(seed)
    preprocessor = Preprocessor(preprocess)
    envs: dict[str, DuckietownLaneEnv] = {}
    images, labels, episodes = [], [], []
    ep = 0
    try:
        while len(images) < count:
            name = maps[ep % len(maps)]
            if name not in envs:
                envs[name] = DuckietownLaneEnv(DuckietownConfig(map_name=name, domain_rand=True), seed=seed)
            env = envs[name]
            obs, info = env.reset(seed=seed * 100_003 + ep)
            policy = lane_pid_policy(noise=float(rng.uniform(0.1, 0.5)), rng=rng)
            for _ in range(episode_steps):
                action = policy(obs, info) if rng.random() > random_action_p else rng.uniform(-1, 1, 2).astype(np.float32)
                obs, _, terminated, truncated, info = env.step(action)
                if terminated:
                    break
                seg = segment_classes(render_segmented(env.sim))
                image, label = randomise(env.last_frame, seg, rng, randomisation, preprocessor)
                images.append(image)
                labels.append(label)
                episodes.append(ep)
                if len(images) >= count:
                    break
            ep += 1
            if progress:
                progress(len(images), count)
    finally:
        for env in envs.values():
            env.close()
    return np.stack(images), np.stack(labels), np.array(episodes)


__all__ = ["CLASSES", "MARK_SHARE", "Randomisation", "class_image", "labels_to_input", "randomise",
           "segment_classes", "simulator_pairs"]
