"""Datasets: sequence arrays (`sequences`), rosbag2 reading, simulator replay."""
