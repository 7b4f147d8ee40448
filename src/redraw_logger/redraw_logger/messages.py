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
# The lane filter's pose estimate (dt-core lane_filter_node `lane_pose`), daffy's definition: read from bags
# only (visual-gap labels); a bag's own definition, when it carries one, wins.
LANE_POSE = "duckietown_msgs/msg/LanePose"
LANE_POSE_MSGDEF = ("std_msgs/Header header\nfloat32 d\nfloat32 d_ref\nfloat32 sigma_d\nfloat32 phi\nfloat32 phi_ref\n"
                    "float32 sigma_phi\nfloat32 curvature\nfloat32 curvature_ref\nfloat32 v_ref\nint32 status\n"
                    "bool in_lane\nint32 NORMAL=0\nint32 ERROR=1\n")


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """ROS 2 Jazzy types plus Duckietown's WheelsCmdStamped, Twist2DStamped and LanePose."""
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg(WHEELS_MSGDEF, WHEELS_CMD))
    store.register(get_types_from_msg(TWIST2D_MSGDEF, TWIST2D))
    store.register(get_types_from_msg(LANE_POSE_MSGDEF, LANE_POSE))
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


def lane_pose(stamp: int, d: float, phi: float, in_lane: bool = True) -> bytes:
    """A LanePose as Duckietown's lane filter publishes it (d > 0 left of the lane centre, phi > 0 turned left)."""
    store = typestore()
    zero = dict(d_ref=0.0, sigma_d=0.0, phi_ref=0.0, sigma_phi=0.0, curvature=0.0, curvature_ref=0.0, v_ref=0.0, status=0)
    msg = store.types[LANE_POSE](header=_header(stamp), d=float(d), phi=float(phi), in_lane=bool(in_lane), **zero)
    return store.serialize_cdr(msg, LANE_POSE)


def json_string(payload: dict) -> bytes:
    """A std_msgs/String carrying `payload` as JSON (episode markers, simulator labels)."""
    store = typestore()
    return store.serialize_cdr(store.types[STRING](data=json.dumps(payload)), STRING)


def episode_marker(event: str, episode: int, stamp: int) -> bytes:
    return json_string({"event": event, "episode": episode, "stamp_ns": stamp})
