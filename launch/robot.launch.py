"""Whole-robot bring-up: the lane-following policy plus the episode logger.

    ros2 launch launch/robot.launch.py veh:=$VEHICLE_NAME model:=/models/policy.onnx out_dir:=/data/bags
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    veh = LaunchConfiguration("veh")
    return LaunchDescription([
        DeclareLaunchArgument("veh", default_value=EnvironmentVariable("VEHICLE_NAME", default_value="duckiebot")),
        DeclareLaunchArgument("model", description="ONNX policy exported by `redraw export`"),
        DeclareLaunchArgument("out_dir", default_value="bags"),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("redraw_policy"), "launch", "lane_follow.launch.py"])),
            launch_arguments={"veh": veh, "model": LaunchConfiguration("model")}.items(),
        ),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("redraw_logger"), "launch", "record.launch.py"])),
            launch_arguments={"veh": veh, "out_dir": LaunchConfiguration("out_dir")}.items(),
        ),
    ])
