#!/usr/bin/env bash
# Robot image entrypoint: the data folders (/data/redraw/{bags,models}, see robot-data-dirs.sh), then
# ROS 2 and the workspace, then the command. `docker exec CONTAINER /robot-entrypoint.sh ros2 ...` runs a
# ros2 command in a running container the same way.
set -e
umask 0002
/usr/local/bin/redraw-data-dirs
source /opt/ros/jazzy/setup.bash
source /ws/install/setup.bash
exec "$@"
