# Robot image: ROS 2 Jazzy, the robot packages (and Duckietown's message types) built with colcon,
# onnxruntime for the policy. A Duckiebot (Jetson Nano / Raspberry Pi) is arm64; on an x86 workstation the
# build runs arm64 binaries through QEMU (once: `sudo apt-get install qemu-user-static`, see README):
#   docker buildx build --platform linux/arm64 -f docker/robot.Dockerfile -t redraw-robot --load .
# Multi-arch images go to a registry (a local image store cannot hold a manifest list):
#   docker buildx build --platform linux/arm64,linux/amd64 -f docker/robot.Dockerfile -t REGISTRY/redraw-robot --push .
FROM ros:jazzy-ros-base

RUN apt-get update && apt-get install -y --no-install-recommends \
        python3-pip python3-numpy python3-opencv python3-yaml \
        ros-jazzy-rosidl-default-generators ros-jazzy-sensor-msgs ros-jazzy-geometry-msgs ros-jazzy-std-srvs ros-jazzy-diagnostic-msgs \
        ros-jazzy-rosbag2-storage-mcap \
    && rm -rf /var/lib/apt/lists/*

COPY docker/robot-requirements.txt /tmp/robot-requirements.txt
RUN pip3 install --no-cache-dir --break-system-packages -r /tmp/robot-requirements.txt

WORKDIR /ws
COPY src/duckietown_msgs src/duckietown_msgs
COPY src/redraw_perception src/redraw_perception
COPY src/redraw_policy src/redraw_policy
COPY src/redraw_logger src/redraw_logger
COPY src/redraw_testing src/redraw_testing
COPY launch launch
COPY colcon.meta colcon.meta
RUN . /opt/ros/jazzy/setup.sh && colcon build --symlink-install --metas colcon.meta

# Every start creates /data/redraw/{bags,models} owned by the robot's user (robot-data-dirs.sh); run with
# -v /data:/data so bags and models live on the robot, at the same paths inside and outside the container.
COPY docker/robot-data-dirs.sh /usr/local/bin/redraw-data-dirs
COPY docker/robot-entrypoint.sh /robot-entrypoint.sh
ENTRYPOINT ["/robot-entrypoint.sh"]
CMD ["ros2", "launch", "redraw_policy", "lane_follow.launch.py", "model:=/data/redraw/models/policy.onnx"]
