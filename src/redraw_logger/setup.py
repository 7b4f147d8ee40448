from glob import glob

from setuptools import find_packages, setup

package_name = "redraw_logger"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    extras_require={"test": ["pytest"]},
    maintainer="redraw maintainers",
    maintainer_email="redraw@example.org",
    description="Pairs camera frames with executed commands and records rosbag2 (mcap) episodes.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["logger_node = redraw_logger.node_logger:main"]},
)
