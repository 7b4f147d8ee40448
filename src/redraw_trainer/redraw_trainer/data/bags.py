"""Recorded bags -> training arrays: our logger's bags, a plain `ros2 bag record`, or a ROS 1 `.bag`.

The public names of the bag reader, split by job:
- `bag_open`: which bags a path holds, reading one (salvaging damage), true counts, one error path;
- `bag_topics`: describing topics and choosing the camera and command topics;
- `bag_convert`: pairing frames with commands and converting to training arrays (cached by content);
(What `redraw bag info` / `redraw bag convert` print and decide is `workflows/bags.py`.)
"""

from redraw_trainer.data.bag_convert import (SHOWN_EXAMPLES, decode_frames, default_cache_dir, merge_reports,
                                             read_bag, read_pairs, require_rows)
from redraw_trainer.data.bag_open import (Bag, BagError, BagReport, Deserialize, RawMessage, find_bags, list_bags,
                                          one_bag, read_raw)
from redraw_trainer.data.bag_topics import (CAMERA_TYPES, COMMAND_TYPES, count_messages, describe_topics, inspect_bag,
                                            message_stamp, pick_topic)

__all__ = [
    "CAMERA_TYPES", "COMMAND_TYPES", "SHOWN_EXAMPLES", "Bag", "BagError", "BagReport", "Deserialize", "RawMessage",
    "count_messages", "decode_frames", "default_cache_dir", "describe_topics", "find_bags", "inspect_bag",
    "list_bags", "merge_reports", "message_stamp", "one_bag", "pick_topic", "read_bag", "read_pairs", "read_raw",
    "require_rows",
]
