"""Recording robot driving as rosbag2: stamp pairing, episode splitting, chunked mcap writing.

The core modules (`pairing`, `messages`, `bag_writer`, `recorder`) are ROS-free: the trainer's bag
reader pairs frames and commands with the same code the robot's logger node uses.
"""
