"""Launch files, checked without ROS `launch` (not installable here; the robot image runs them for real).

A strict reading of each file's syntax tree: every `Node(...)` (however it is spelled) must name a
package of this workspace and one of its console_scripts, run in the vehicle namespace, and set only
parameters its node declares; every `IncludeLaunchDescription` must resolve to an installed launch file
and pass only arguments that file declares; every `LaunchConfiguration` used must be declared, and every
declared argument described. Anything the reader cannot resolve fails the test instead of passing unread.
"""

import ast
import re
from dataclasses import dataclass, field
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


class LaunchParseError(AssertionError):
    """The launch file uses a form this reader does not understand (so it cannot vouch for it)."""


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _const(node: ast.expr, what: str, path: Path) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    raise LaunchParseError(f"{path.name}:{node.lineno}: {what} is not a string literal ({ast.unparse(node)})")


@dataclass
class LaunchFile:
    path: Path
    nodes: list[dict] = field(default_factory=list)  # package, executable, namespace, params
    includes: list[tuple[str, str, set[str]]] = field(default_factory=list)  # package, file, arguments passed
    declared: dict[str, str | None] = field(default_factory=dict)  # argument -> description
    used: set[str] = field(default_factory=set)


def read_launch_file(path: Path) -> LaunchFile:
    tree = ast.parse(path.read_text())
    out = LaunchFile(path)
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name, kwargs = _name(call.func), {k.arg: k.value for k in call.keywords}
        if name == "Node":
            params = set()
            for item in getattr(kwargs.get("parameters"), "elts", []):
                if not isinstance(item, ast.Dict):
                    raise LaunchParseError(f"{path.name}:{item.lineno}: parameters entry is not a dict literal")
                params |= {_const(k, "parameter name", path) for k in item.keys}
            out.nodes.append({"package": _const(kwargs["package"], "package", path),
                              "executable": _const(kwargs["executable"], "executable", path),
                              "namespace": kwargs.get("namespace"), "params": params})
        elif name == "IncludeLaunchDescription":
            source = call.args[0] if call.args else None
            parts = getattr(getattr(source, "args", [None])[0], "args", [None])[0]
            elts = getattr(parts, "elts", None)
            if not elts or not isinstance(elts[0], ast.Call) or _name(elts[0].func) != "FindPackageShare":
                raise LaunchParseError(f"{path.name}:{call.lineno}: include is not "
                                       "PathJoinSubstitution([FindPackageShare(pkg), 'launch', file])")
            package = _const(elts[0].args[0], "included package", path)
            rel = [_const(e, "included path part", path) for e in elts[1:]]
            args = kwargs.get("launch_arguments")
            passed = {_const(k, "launch argument", path) for k in getattr(getattr(args, "func", None), "value", ast.Dict([], [])).keys}
            out.includes.append((package, "/".join(rel), passed))
        elif name == "DeclareLaunchArgument":
            desc = kwargs.get("description")
            out.declared[_const(call.args[0], "argument name", path)] = desc.value if isinstance(desc, ast.Constant) else None
        elif name == "LaunchConfiguration":
            out.used.add(_const(call.args[0], "configuration name", path))
    text_nodes = len(re.findall(r"\bNode\(", path.read_text()))
    if text_nodes != len(out.nodes):
        raise LaunchParseError(f"{path.name}: {text_nodes} 'Node(' in the text, {len(out.nodes)} read")
    if not out.nodes and not out.includes:
        raise LaunchParseError(f"{path.name}: no Node and no include found")
    return out


def test_there_are_launch_files():
    assert {p.name for p in LAUNCH_FILES} >= {"lane_follow.launch.py", "record.launch.py", "robot.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_nodes_exist_run_namespaced_and_their_parameters_are_declared(path):
    launch = read_launch_file(path)
    factories = node_factories()
    for node in launch.nodes:
        package, executable = node["package"], node["executable"]
        assert executable in console_scripts(package), f"{path.name}: {package} has no executable {executable}"
        namespace = node["namespace"]
        assert isinstance(namespace, ast.Name) or _name(getattr(namespace, "func", ast.Name(""))) == "LaunchConfiguration", \
            f"{path.name}: {executable} does not run in the vehicle namespace"
        with RosHarness() as ros:
            created = ros.add(factories[(package, executable)], namespace="duckiebot")
            missing = {p for p in node["params"] if not created.has_parameter(p)}
        assert not missing, f"{path.name}: {executable} does not declare {sorted(missing)}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_arguments_are_declared_described_and_passed_only_where_declared(path):
    launch = read_launch_file(path)
    undescribed = [a for a, d in launch.declared.items() if not d]
    assert not undescribed, f"{path.name}: arguments without a description: {undescribed}"
    undeclared = launch.used - set(launch.declared)
    assert not undeclared, f"{path.name}: LaunchConfiguration of undeclared arguments {sorted(undeclared)}"
    for package, rel, passed in launch.includes:
        included = ROOT / "src" / package / rel
        assert included.exists(), f"{path.name} includes missing {package}/{rel}"
        assert 'glob("launch/*.launch.py")' in (ROOT / "src" / package / "setup.py").read_text(), \
            f"{package} does not install its launch files"
        unknown = passed - set(read_launch_file(included).declared)
        assert not unknown, f"{path.name} passes {sorted(unknown)} to {rel}, which does not declare them"


def test_the_reader_refuses_what_it_cannot_read(tmp_path):
    """A launch file spelled in a way the reader does not know fails loudly, never passes unchecked."""
    odd = tmp_path / "odd.launch.py"
    odd.write_text("import launch_ros\nN = launch_ros.actions\nnodes = [N.Node(package=PKG, executable='x')]\n")
    with pytest.raises(LaunchParseError, match="package is not a string literal"):
        read_launch_file(odd)
    hidden = tmp_path / "hidden.launch.py"
    hidden.write_text("from launch_ros.actions import Node as N\nnodes = [N(package='p', executable='x')]  # Node(\n")
    with pytest.raises(LaunchParseError, match="1 'Node\\(' in the text, 0 read"):
        read_launch_file(hidden)
    empty = tmp_path / "empty.launch.py"
    empty.write_text("def generate_launch_description():\n    return make_it()\n")
    with pytest.raises(LaunchParseError, match="no Node and no include"):
        read_launch_file(empty)
