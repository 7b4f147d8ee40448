from glob import glob

from setuptools import find_packages, setup

package_name = "redraw_perception"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    extras_require={"test": ["pytest"]},
    maintainer="redraw maintainers",
    maintainer_email="redraw@example.org",
    description="Camera preprocessing shared by robot, bag reader and simulator: JPEG to 64x64 model input.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["model_input_node = redraw_perception.node_model_input:main"]},
)
