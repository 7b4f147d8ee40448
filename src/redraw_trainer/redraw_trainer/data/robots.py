"""Which robot a recording is: a class of robots' bags, one per robot, named by the vehicle namespace of their topics
(`/mybot/image/compressed`, `/mybot/camera_node/image/compressed` -> `mybot`) or, when that does not tell them
apart (simulated robots all record as `duckiebot`), by their folder or file name.

    paths = robot_paths(["data/a", "data/b"], "data/fleet")   # the --bag paths, then each sub-folder of --fleet
    names = robot_names(paths, [robot_namespace(topic) for topic in camera_topics])
"""

from __future__ import annotations

import re
from pathlib import Path

NOT_A_VEHICLE = {"camera_node", "image", "camera"}  # first topic segments of un-namespaced camera topics
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # a robot's name becomes a folder name


def robot_namespace(camera_topic: str | None) -> str | None:
    """The vehicle namespace of a camera topic, or None when the topic has none (`/image/compressed`)."""
    parts = [p for p in (camera_topic or "").split("/") if p]
    if len(parts) < 3 or parts[0] in NOT_A_VEHICLE:
        return None
    return parts[0]


def robot_paths(bags: list[str], fleet: str | None) -> list[Path]:
    """The robots' recordings: each --bag path, then every sub-folder of the --fleet folder (one per robot)."""
    paths = [Path(b) for b in bags]
    if fleet:
        folder = Path(fleet)
        if not folder.is_dir():
            raise FileNotFoundError(f"--fleet {fleet}: no such folder (expected one sub-folder of bags per robot)")
        robots = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not robots:
            raise ValueError(f"--fleet {fleet}: no sub-folders (expected one folder of bags per robot)")
        paths += robots
    if not paths:
        raise ValueError("no robots: give --bag once per robot, or --fleet DIR (one sub-folder of bags per robot)")
    return paths


def robot_names(paths: list[Path], namespaces: list[str | None]) -> list[str]:
    """One distinct name per recording: the topics' vehicle namespaces when they are all known and all different,
    else the folder (or file) names; a ValueError naming the paths when those repeat too."""
    if all(namespaces) and len(set(namespaces)) == len(namespaces):
        return [str(n) for n in namespaces]
    names = [p.stem if p.suffix in (".npz", ".mcap", ".db3", ".bag") else p.name for p in paths]
    for name, path in zip(names, paths):
        if not NAME.match(name):
            raise ValueError(f"{path}: '{name}' cannot name a robot (letters, digits, '_', '.', '-')")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        clash = ", ".join(str(p) for p, n in zip(paths, names) if n in repeated)
        raise ValueError(f"two robots would both be called {repeated[0]!r} ({clash}): their topics share one "
                         "namespace, so give each robot's bags a folder named after the robot")
    return names
