"""Lane following on the robot: the ONNX policy node (and, for debugging, the model-input image node).

    ros2 launch redraw_policy lane_follow.launch.py veh:=$VEHICLE_NAME model:=/data/redraw/models/policy.onnx

Every node runs in the vehicle's namespace, so its topics are those of Duckietown's ROS 2 stack:
camera frames from /<veh>/image/compressed; wheel commands to /<veh>/wheels_cmd (default), or car
commands to /<veh>/lane_controller/car_cmd with command_path:=car_cmd.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    veh = LaunchConfiguration("veh")
    return LaunchDescription([
        DeclareLaunchArgument("veh", default_value=EnvironmentVariable("VEHICLE_NAME", default_value="duckiebot"),
                              description="vehicle name: the namespace of every node and topic"),
        DeclareLaunchArgument("model", default_value="/data/redraw/models/policy.onnx",
                              description="ONNX policy exported by `redraw export`"),
        DeclareLaunchArgument("command_path", default_value="wheels",
                              description="wheels: WheelsCmdStamped to the wheels driver (works on a stock robot); "
                                          "car_cmd: Twist2DStamped through Duckietown's car_cmd switch; twist: TwistStamped only"),
        DeclareLaunchArgument("calibration_file",
                              default_value=PathJoinSubstitution(["/data/config/calibrations/kinematics", [veh, ".yaml"]]),
                              description="Duckietown kinematics calibration (gain, trim, baseline, radius, k, limit)"),
        DeclareLaunchArgument("gain", default_value="calibration",
                              description="wheel gain; 'calibration' takes it from calibration_file"),
        DeclareLaunchArgument("trim", default_value="calibration",
                              description="wheel trim; 'calibration' takes it from calibration_file"),
        DeclareLaunchArgument("debug_image", default_value="false", description="also publish the 64x64 model input"),
        Node(
            package="redraw_policy",
            executable="policy_node",
            name="policy",
            namespace=veh,
            output="screen",
            parameters=[{
                "model_path": LaunchConfiguration("model"),
                "command_path": LaunchConfiguration("command_path"),
                "calibration_file": LaunchConfiguration("calibration_file"),
                "gain": LaunchConfiguration("gain"),
                "trim": LaunchConfiguration("trim"),
            }],
        ),
        Node(
            package="redraw_perception",
            executable="model_input_node",
            name="model_input",
            namespace=veh,
            condition=IfCondition(LaunchConfiguration("debug_image")),
        ),
    ])
