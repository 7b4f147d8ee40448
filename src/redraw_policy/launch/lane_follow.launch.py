"""Lane following on the robot: the ONNX policy node (and, for debugging, the model-input image node).

    ros2 launch redraw_policy lane_follow.launch.py veh:=$VEHICLE_NAME model:=/models/policy.onnx
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    veh = LaunchConfiguration("veh")
    return LaunchDescription([
        DeclareLaunchArgument("veh", default_value=EnvironmentVariable("VEHICLE_NAME", default_value="duckiebot"),
                              description="vehicle name (topic prefix)"),
        DeclareLaunchArgument("model", description="ONNX policy exported by `redraw export`"),
        DeclareLaunchArgument("wheels", default_value="true", description="publish Duckietown WheelsCmdStamped too"),
        DeclareLaunchArgument("gain", default_value="1.0", description="wheel gain from the robot's calibration"),
        DeclareLaunchArgument("trim", default_value="0.0", description="wheel trim from the robot's calibration"),
        DeclareLaunchArgument("debug_image", default_value="false", description="publish the 64x64 model input"),
        Node(
            package="redraw_policy",
            executable="policy_node",
            name="policy",
            output="screen",
            parameters=[{
                "veh": veh,
                "model_path": LaunchConfiguration("model"),
                "publish_wheels": LaunchConfiguration("wheels"),
                "gain": LaunchConfiguration("gain"),
                "trim": LaunchConfiguration("trim"),
            }],
        ),
        Node(
            package="redraw_perception",
            executable="model_input_node",
            name="model_input",
            parameters=[{"veh": veh}],
            condition=IfCondition(LaunchConfiguration("debug_image")),
        ),
    ])
