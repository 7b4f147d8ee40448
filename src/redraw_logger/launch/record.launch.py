"""Record reward-free driving as chunked rosbag2 (mcap) episodes.

    ros2 launch redraw_logger record.launch.py veh:=$VEHICLE_NAME out_dir:=/data/redraw/bags

By default the executed wheel commands (Duckietown's /<veh>/wheels_cmd_executed) are paired with the
camera frames, so joystick driving through Duckietown's stack is recorded as it is. Recording starts at
once (autostart:=false: wait for ~/start); ~/stop and ~/start end and begin episodes.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    veh = LaunchConfiguration("veh")
    return LaunchDescription([
        DeclareLaunchArgument("veh", default_value=EnvironmentVariable("VEHICLE_NAME", default_value="duckiebot"),
                              description="vehicle name: the namespace of the logger and its topics"),
        DeclareLaunchArgument("out_dir", default_value="/data/redraw/bags",
                              description="where bag chunks are written (the robot image mounts /data)"),
        DeclareLaunchArgument("command_source", default_value="wheels_executed",
                              description="wheels_executed (Duckietown's executed wheel commands), car_cmd, or twist"),
        DeclareLaunchArgument("calibration_file",
                              default_value=PathJoinSubstitution(["/data/config/calibrations/kinematics", [veh, ".yaml"]]),
                              description="Duckietown kinematics calibration, to turn wheel commands back into (v, omega)"),
        DeclareLaunchArgument("split_mb", default_value="256.0", description="close a bag chunk at this size, MB"),
        DeclareLaunchArgument("autostart", default_value="true", description="record now, or wait for ~/start"),
        Node(
            package="redraw_logger",
            executable="logger_node",
            name="redraw_logger",
            namespace=veh,
            output="screen",
            parameters=[{
                "out_dir": LaunchConfiguration("out_dir"),
                "command_source": LaunchConfiguration("command_source"),
                "calibration_file": LaunchConfiguration("calibration_file"),
                "split_mb": LaunchConfiguration("split_mb"),
                "autostart": LaunchConfiguration("autostart"),
            }],
        ),
    ])
