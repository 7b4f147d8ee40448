"""Launch files, checked without ROS `launch` (not installable here; the robot image runs them for real).

Every Node(...) must name a package of this workspace and one of its console_scripts, and every
parameter it sets must be declared by that node; every included launch file must exist.
"""

import ast
import re
from pathlib import Path

import pytest

from redraw_testing import RosHarness

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted(ROOT.glob("src/*/launch/*.launch.py")) + sorted((ROOT / "launch").glob("*.launch.py"))


def node_factories():
    from redraw_logger.node_logger import LoggerNode
    from redraw_perception.node_model_input import ModelInputNode
    from redraw_policy.node_policy import PolicyNode

    return {("redraw_policy", "policy_node"): PolicyNode, ("redraw_perception", "model_input_node"): ModelInputNode,
            ("redraw_logger", "logger_node"): LoggerNode}


def console_scripts(package: str) -> set[str]:
    setup = (ROOT / "src" / package / "setup.py").read_text()
    return set(re.findall(r'"(\w+) = [\w.]+:main"', setup))


def launch_nodes(path: Path):
    for call in ast.walk(ast.parse(path.read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Node":
            kwargs = {k.arg: k.value for k in call.keywords}
            params = set()
            for item in getattr(kwargs.get("parameters"), "elts", []):
                params |= {k.value for k in getattr(item, "keys", [])}
            yield kwargs["package"].value, kwargs["executable"].value, params


def test_there_are_launch_files():
    assert {p.name for p in LAUNCH_FILES} >= {"lane_follow.launch.py", "record.launch.py", "robot.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_nodes_exist_and_their_parameters_are_declared(path):
    factories = node_factories()
    for package, executable, params in launch_nodes(path):
        assert executable in console_scripts(package), f"{path.name}: {package} has no executable {executable}"
        with RosHarness() as ros:
            node = ros.add(factories[(package, executable)])
            missing = {p for p in params if not node.has_parameter(p)}
        assert not missing, f"{path.name}: {executable} does not declare {sorted(missing)}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_included_launch_files_exist(path):
    for package, name in re.findall(r'FindPackageShare\("(\w+)"\), "launch", "([\w.]+)"', path.read_text()):
        assert (ROOT / "src" / package / "launch" / name).exists(), f"{path.name} includes missing {package}/{name}"
        setup = (ROOT / "src" / package / "setup.py").read_text()
        assert 'glob("launch/*.launch.py")' in setup, f"{package} does not install its launch files"
