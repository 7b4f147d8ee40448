"""Test helpers shared by the redraw packages: real rclpy in an isolated DDS domain."""

from redraw_testing.rclpy_harness import RosHarness, isolated_domain_id

__all__ = ["RosHarness", "isolated_domain_id"]
