"""Record reward-free driving as chunked rosbag2 (mcap) episodes.

    ros2 launch redraw_logger record.launch.py veh:=$VEHICLE_NAME out_dir:=/data/bags
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("veh", default_value=EnvironmentVariable("VEHICLE_NAME", default_value="duckiebot")),
        DeclareLaunchArgument("out_dir", default_value="bags", description="where bag chunks are written"),
        DeclareLaunchArgument("split_mb", default_value="256.0", description="close a chunk at this size"),
        DeclareLaunchArgument("autostart", default_value="true", description="record now, or wait for ~/start"),
        Node(
            package="redraw_logger",
            executable="logger_node",
            name="redraw_logger",
            output="screen",
            parameters=[{
                "veh": LaunchConfiguration("veh"),
                "out_dir": LaunchConfiguration("out_dir"),
                "split_mb": LaunchConfiguration("split_mb"),
                "autostart": LaunchConfiguration("autostart"),
            }],
        ),
    ])
