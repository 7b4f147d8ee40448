"""Message types and CDR (de)serialisation with rosbags: the bytes match rclpy's exactly."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
TWIST_STAMPED = "geometry_msgs/msg/TwistStamped"
WHEELS_CMD = "duckietown_msgs/msg/WheelsCmdStamped"
TWIST2D = "duckietown_msgs/msg/Twist2DStamped"
STRING = "std_msgs/msg/String"
# Duckietown's definitions, as in src/duckietown_msgs/msg/ (rosbags (de)serialises them without ROS)
WHEELS_MSGDEF = "std_msgs/Header header\nfloat32 vel_left\nfloat32 vel_right\n"
TWIST2D_MSGDEF = "std_msgs/Header header\nfloat32 v\nfloat32 omega\n"


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """ROS 2 Jazzy types plus Duckietown's WheelsCmdStamped and Twist2DStamped."""
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg(WHEELS_MSGDEF, WHEELS_CMD))
    store.register(get_types_from_msg(TWIST2D_MSGDEF, TWIST2D))
    return store


def split_ns(stamp_ns: int) -> tuple[int, int]:
    return stamp_ns // 1_000_000_000, stamp_ns % 1_000_000_000


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _header(stamp: int, frame_id: str = ""):
    store = typestore()
    sec, nanosec = split_ns(stamp)
    return store.types["std_msgs/msg/Header"](stamp=store.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                              frame_id=frame_id)


def compressed_image(stamp: int, data: bytes, fmt: str = "jpeg", frame_id: str = "camera") -> bytes:
    store = typestore()
    msg = store.types[COMPRESSED_IMAGE](header=_header(stamp, frame_id), format=fmt, data=np.frombuffer(data, np.uint8))
    return store.serialize_cdr(msg, COMPRESSED_IMAGE)


def twist_stamped(stamp: int, v: float, omega: float) -> bytes:
    store = typestore()
    vec = store.types["geometry_msgs/msg/Vector3"]
    twist = store.types["geometry_msgs/msg/Twist"](linear=vec(x=float(v), y=0.0, z=0.0), angular=vec(x=0.0, y=0.0, z=float(omega)))
    return store.serialize_cdr(store.types[TWIST_STAMPED](header=_header(stamp), twist=twist), TWIST_STAMPED)


def wheels_cmd(stamp: int, vel_left: float, vel_right: float) -> bytes:
    store = typestore()
    msg = store.types[WHEELS_CMD](header=_header(stamp), vel_left=float(vel_left), vel_right=float(vel_right))
    return store.serialize_cdr(msg, WHEELS_CMD)


def json_string(payload: dict) -> bytes:
    """A std_msgs/String carrying `payload` as JSON (episode markers, simulator labels)."""
    store = typestore()
    return store.serialize_cdr(store.types[STRING](data=json.dumps(payload)), STRING)


def episode_marker(event: str, episode: int, stamp: int) -> bytes:
    return json_string({"event": event, "episode": episode, "stamp_ns": stamp})
