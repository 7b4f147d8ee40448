from glob import glob

from setuptools import find_packages, setup

package_name = "redraw_testing"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="redraw maintainers",
    maintainer_email="redraw@example.org",
    description="Test harness: real rclpy publish/subscribe in an isolated DDS domain.",
    license="Apache-2.0",
    entry_points={"console_scripts": []},
)
