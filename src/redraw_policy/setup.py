from glob import glob

from setuptools import find_packages, setup

package_name = "redraw_policy"

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
    description="ONNX policy runner, Duckiebot kinematics, safety watchdog and the lane-following policy node.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["policy_node = redraw_policy.node_policy:main"]},
)
