"""Policy runtime for the Duckiebot: kinematics, ONNX runner, safety watchdog, policy node."""
