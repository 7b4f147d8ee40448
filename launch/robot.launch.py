"""Whole-robot bring-up: the lane-following policy plus the episode logger, both in the vehicle namespace.

    ros2 launch launch/robot.launch.py veh:=$VEHICLE_NAME model:=/data/redraw/models/policy.onnx out_dir:=/data/redraw/bags
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    veh = LaunchConfiguration("veh")
    calibration = LaunchConfiguration("calibration_file")
    return LaunchDescription([
        DeclareLaunchArgument("veh", default_value=EnvironmentVariable("VEHICLE_NAME", default_value="duckiebot"),
                              description="vehicle name: the namespace of every node and topic"),
        DeclareLaunchArgument("model", default_value="/data/redraw/models/policy.onnx",
                              description="ONNX policy exported by `redraw export`"),
        DeclareLaunchArgument("out_dir", default_value="/data/redraw/bags", description="where the logger writes bag chunks"),
        DeclareLaunchArgument("command_path", default_value="wheels", description="policy output: wheels, car_cmd or twist"),
        DeclareLaunchArgument("calibration_file",
                              default_value=PathJoinSubstitution(["/data/config/calibrations/kinematics", [veh, ".yaml"]]),
                              description="Duckietown kinematics calibration, used by the policy and the logger"),
        DeclareLaunchArgument("gain", default_value="calibration", description="wheel gain; 'calibration': from the file"),
        DeclareLaunchArgument("trim", default_value="calibration", description="wheel trim; 'calibration': from the file"),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("redraw_policy"), "launch", "lane_follow.launch.py"])),
            launch_arguments={"veh": veh, "model": LaunchConfiguration("model"),
                              "command_path": LaunchConfiguration("command_path"), "calibration_file": calibration,
                              "gain": LaunchConfiguration("gain"), "trim": LaunchConfiguration("trim")}.items(),
        ),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("redraw_logger"), "launch", "record.launch.py"])),
            launch_arguments={"veh": veh, "out_dir": LaunchConfiguration("out_dir"), "calibration_file": calibration}.items(),
        ),
    ])
