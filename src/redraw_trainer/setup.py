from setuptools import find_packages, setup

setup(
    name="redraw_trainer",
    version="0.1.0",
    description="ReDRAW world model, residual adaptation, baselines, imagination policy and the `redraw` CLI.",
    packages=find_packages(exclude=["tests"]),
    package_data={"redraw_trainer": ["core/configs/*.yaml"]},
    python_requires=">=3.11",
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": ["redraw = redraw_trainer.cli:main"]},
)
