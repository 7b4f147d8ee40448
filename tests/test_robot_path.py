"""The README's robot path, walked at tiny scale from the README's own command lines.

The commands come from the bash blocks the README marks with `<!-- robot-path -->`, so the README cannot
drift from what runs. Each line is taken the way a shell on the workstation takes it:

- `.venv/bin/redraw ...` runs as written (in-process, in a workstation folder with the repository's
  `models/`), with tiny training budgets appended;
- `mkdir`, `scp` act on two folders standing for the workstation and the robot (`/data/...` on the robot
  is `<tmp>/robot/data/...`), and fail as they would (a missing target folder, a missing source);
- `ssh` is not run, but its remote command is split again as the robot's shell splits the joined words;
- `docker` is not run: its options are checked (an image that was built and loaded, `-t` with `ssh -t`
  wherever Ctrl-C must reach the command, the `/data` mount, host network and IPC for DDS, container paths
  inside a mount, `docker exec` through the entrypoint), the entrypoint's data folders are made by the
  image's own script, and the command inside:
  - `ros2 launch PKG FILE args` starts the nodes the launch file starts, with the parameters it gives them
    (its syntax tree read; every argument must be declared), over real rclpy in an isolated DDS domain;
  - `ros2 service call` / `ros2 topic pub` call the service / publish the message over rclpy.

A simulated Duckiebot publishes camera frames (640x480 JPEG) and the wheels driver's executed commands
while the logger records; it publishes frames and listens for wheel commands while the policy drives.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data

from redraw_testing import RosHarness
from redraw_testing.scenes import jpeg, road_frame

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARK = "<!-- robot-path -->"
VEHICLE = "testbot"
HOST = f"duckie@{VEHICLE}.local"
IMAGE = "redraw-robot"
ROBOT_DATA = "/data/redraw"
# Tiny budgets, appended to the README's own command lines (the only change made to them)
TINY = {
    "adapt": ["--set", "adapt.steps=3", "--set", "adapt.batch_size=4", "--quiet"],
    "train-policy": ["--set", "policy.updates=2", "--set", "policy.batch_size=16", "--quiet"],
    "export": ["--gap-transitions", "60"],  # the reality-gap threshold, measured on a few simulated steps
}
MS = 1_000_000


class WalkError(AssertionError):
    """A README command that would not run as written."""


# ----------------------------------------------------------------------------------------------------
# Reading the README


@dataclass
class Command:
    text: str  # the line as the README has it (continuations joined)
    words: list[str]  # after the workstation shell's quoting and $VEHICLE_NAME expansion


def expand(word: str) -> str:
    return word.replace("${VEHICLE_NAME}", VEHICLE).replace("$VEHICLE_NAME", VEHICLE)


def robot_path_commands(text: str) -> list[Command]:
    """Every command line of the bash blocks marked MARK, in order."""
    lines, commands, blocks = text.splitlines(), [], 0
    for i, line in enumerate(lines):
        if line.strip() != MARK:
            continue
        if not lines[i + 1].startswith("```bash"):
            raise WalkError(f"README line {i + 1}: {MARK} is not followed by a ```bash block")
        end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == "```")
        blocks += 1
        for cmd in "\n".join(lines[i + 2:end]).replace("\\\n", " ").splitlines():
            words = [expand(w) for w in shlex.split(cmd, comments=True)]
            if words:
                commands.append(Command(" ".join(cmd.split()), words))
    if not blocks:
        raise WalkError(f"no {MARK} blocks in the README")
    return commands


# ----------------------------------------------------------------------------------------------------
# Launch files: which nodes a `ros2 launch` starts, with which parameters


def launch_file_path(package: str, name: str) -> Path:
    path = ROOT / "src" / package / "launch" / name
    if not path.is_file():
        raise WalkError(f"ros2 launch {package} {name}: no such launch file ({path.relative_to(ROOT)})")
    return path


def node_class(package: str, executable: str):
    from redraw_logger.node_logger import LoggerNode
    from redraw_perception.node_model_input import ModelInputNode
    from redraw_policy.node_policy import PolicyNode

    known = {("redraw_policy", "policy_node"): PolicyNode, ("redraw_logger", "logger_node"): LoggerNode,
             ("redraw_perception", "model_input_node"): ModelInputNode}
    return known[(package, executable)]


@dataclass
class LaunchedNode:
    package: str
    executable: str
    name: str
    namespace: str
    parameters: dict


def evaluate_launch(path: Path, arguments: dict[str, str], env: dict[str, str]) -> list[LaunchedNode]:
    """The nodes `ros2 launch` starts from `path` with `arguments` (name:=value) in environment `env`.

    Reads the syntax tree: simple assignments, DeclareLaunchArgument, Node (parameters as a dict literal,
    IfCondition), LaunchConfiguration, EnvironmentVariable, PathJoinSubstitution and string literals.
    Parameter values are then typed as launch_ros types them (YAML). Anything else fails loudly.
    """
    tree = ast.parse(path.read_text())
    names = {t.id: n.value for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    callee = lambda c: getattr(c.func, "id", getattr(c.func, "attr", ""))  # noqa: E731
    declared = {}
    for c in calls:
        if callee(c) == "DeclareLaunchArgument":
            kw = {k.arg: k.value for k in c.keywords}
            declared[c.args[0].value] = kw.get("default_value")
    unknown = set(arguments) - set(declared)
    if unknown:
        raise WalkError(f"{path.name} declares no argument {sorted(unknown)} (declared: {sorted(declared)})")

    def value(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return value(names[node.id])
        if isinstance(node, ast.List):
            return "".join(value(e) for e in node.elts)
        if isinstance(node, ast.Call):
            kw = {k.arg: k.value for k in node.keywords}
            if callee(node) == "LaunchConfiguration":
                arg = node.args[0].value
                if arg in arguments:
                    return arguments[arg]
                if declared.get(arg) is None:
                    raise WalkError(f"{path.name}: argument '{arg}' has no default and is not given")
                return value(declared[arg])
            if callee(node) == "EnvironmentVariable":
                return env.get(node.args[0].value, value(kw["default_value"]) if "default_value" in kw else "")
            if callee(node) == "PathJoinSubstitution":
                return os.path.join(*[value(e) for e in node.args[0].elts])
        raise WalkError(f"{path.name}:{node.lineno}: cannot evaluate {ast.unparse(node)}")

    nodes = []
    for c in calls:
        if callee(c) != "Node":
            continue
        kw = {k.arg: k.value for k in c.keywords}
        condition = kw.get("condition")
        if condition is not None:
            if callee(condition) != "IfCondition":
                raise WalkError(f"{path.name}:{c.lineno}: cannot evaluate {ast.unparse(condition)}")
            if value(condition.args[0]).lower() not in ("true", "1"):
                continue
        params = {}
        for item in getattr(kw.get("parameters"), "elts", []):
            for k, v in zip(item.keys, item.values):
                params[k.value] = yaml.safe_load(value(v))  # launch_ros types substituted strings as YAML
        nodes.append(LaunchedNode(kw["package"].value, kw["executable"].value, kw["name"].value,
                                  value(kw["namespace"]), params))
    if not nodes:
        raise WalkError(f"{path.name}: starts no node this walk can run")
    return nodes


# ----------------------------------------------------------------------------------------------------
# The simulated robot and workstation


@dataclass
class Container:
    name: str
    mounts: dict[str, Path]  # container path -> host folder
    nodes: list = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


class Walk:
    """Runs or checks README commands in order against a simulated robot and workstation."""

    def __init__(self, tmp: Path, ros: RosHarness, monkeypatch) -> None:
        self.robot = tmp / "robot"  # the robot's filesystem root: /data/... is robot/data/...
        self.ws = tmp / "workstation"  # this checkout on the workstation
        (self.robot / "data/config/calibrations/kinematics").mkdir(parents=True)
        (self.robot / f"data/config/calibrations/kinematics/{VEHICLE}.yaml").write_text(
            "gain: 1.0\ntrim: 0.0\nbaseline: 0.1\nradius: 0.0318\nk: 27.0\nlimit: 1.0\n")
        self.ws.mkdir()
        (self.ws / "models").symlink_to(ROOT / "models")
        monkeypatch.chdir(self.ws)
        self.ros = ros
        self.built: set[str] = set()
        self.loaded: set[str] = set()
        self.running: dict[str, Container] = {}
        self.ran: list[str] = []  # what each command did, for the test's checks
        self.sim_clock = time.time_ns()
        self.estop = None

    # -- dispatch
    def run(self, cmd: Command) -> None:
        words = cmd.words
        if "|" in words:
            self.stop_containers()
            return self.pipe(cmd, words)
        head = words[0]
        if head != "ssh":
            self.stop_containers()  # the next step in the first shell: Ctrl-C ended the running container
        if head.endswith("bin/redraw") or head == "redraw":
            return self.redraw(words[1:])
        handler = {"sudo": self.sudo, "docker": self.docker_local, "ssh": self.ssh, "scp": self.scp, "mkdir": self.mkdir}.get(head)
        if handler is None:
            raise WalkError(f"the walk does not know how to check or run: {cmd.text}")
        handler(words)

    # -- workstation commands
    def sudo(self, words: list[str]) -> None:
        if words[1:4] != ["apt-get", "install", "-y"] or not set(words[4:]) <= {"qemu-user-static", "binfmt-support"}:
            raise WalkError(f"unexpected sudo command: {shlex.join(words)}")
        self.ran.append("apt-get install qemu")

    def mkdir(self, words: list[str]) -> None:
        if words[1] != "-p" or any(w.startswith("/") for w in words[2:]):
            raise WalkError(f"mkdir: expected `mkdir -p` of workstation-relative folders: {shlex.join(words)}")
        for w in words[2:]:
            (self.ws / w).mkdir(parents=True, exist_ok=True)

    def docker_local(self, words: list[str]) -> None:
        if words[1:3] != ["buildx", "build"]:
            raise WalkError(f"on the workstation only `docker buildx build` is expected: {shlex.join(words)}")
        opts = self.options(words[3:], flags={"--load", "--push"}, valued={"--platform", "-f", "-t"})
        platforms = opts["--platform"].split(",")
        if platforms != ["linux/arm64"] or "--load" not in opts:
            raise WalkError(f"the robot image is one arm64 image loaded locally (--platform linux/arm64 --load): {shlex.join(words)}")
        if not (ROOT / opts["-f"]).is_file() or opts["args"] != ["."]:
            raise WalkError(f"docker buildx build: {opts['-f']} or the build context '.' is wrong")
        self.built.add(opts["-t"])

    def pipe(self, cmd: Command, words: list[str]) -> None:
        left, right = words[: words.index("|")], words[words.index("|") + 1:]
        if left[:2] != ["docker", "save"] or len(left) != 3 or right[0] != "ssh":
            raise WalkError(f"unexpected pipeline: {cmd.text}")
        if left[2] not in self.built:
            raise WalkError(f"docker save {left[2]}: no image of that name was built")
        host, remote = self.split_ssh(right)
        if remote != ["docker", "load"]:
            raise WalkError(f"expected `docker save IMAGE | ssh HOST docker load`: {cmd.text}")
        self.loaded.add(left[2])

    def redraw(self, args: list[str]) -> None:
        from redraw_trainer.cli import main

        command = args[0] if args[0] != "bag" else " ".join(args[:2])
        argv = args + TINY.get(args[0], [])
        try:
            code = main(argv)
        except SystemExit as err:  # argparse: an unknown option, a missing argument
            code = err.code
        if code != 0:
            raise WalkError(f"`redraw {shlex.join(args)}` exited {code}")
        self.ran.append(f"redraw {command}")

    def remote_path(self, spec: str) -> Path:
        host, path = spec.split(":", 1)
        if host != HOST:
            raise WalkError(f"{spec}: the robot is {HOST}")
        if not path.startswith("/"):
            raise WalkError(f"{spec}: a path on the robot should be absolute")
        return self.robot / path.lstrip("/")

    def scp(self, words: list[str]) -> None:
        recursive = "-r" in words
        src, dst = [w for w in words[1:] if not w.startswith("-")]
        src_p = self.remote_path(src) if ":" in src else self.ws / src
        dst_p = self.remote_path(dst) if ":" in dst else self.ws / dst
        if not src_p.exists():
            raise WalkError(f"scp: {src}: No such file or directory")
        if src_p.is_dir() and not recursive:
            raise WalkError(f"scp: {src}: not a regular file (needs -r)")
        target = dst_p / src_p.name if dst_p.is_dir() else dst_p
        if not target.parent.is_dir():
            raise WalkError(f"scp: {dst}: No such file or directory")
        if src_p.is_dir():
            shutil.copytree(src_p, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src_p, target)
        self.ran.append(f"scp {'to robot' if ':' in dst else 'from robot'}")

    # -- robot commands
    def split_ssh(self, words: list[str]) -> tuple[str, list[str]]:
        """The host and the command the robot's shell runs: ssh joins its arguments with spaces."""
        i, tty = 1, False
        while words[i].startswith("-"):
            if words[i] != "-t":
                raise WalkError(f"ssh option {words[i]} is not expected")
            tty, i = True, i + 1
        host, remote = words[i], shlex.split(" ".join(words[i + 1:]))
        if host != HOST:
            raise WalkError(f"ssh {host}: the robot is {HOST}")
        if any("$" in w for w in remote):
            raise WalkError(f"the robot's shell would expand a variable in {remote}")
        self.ssh_tty = tty
        return host, remote

    def ssh(self, words: list[str]) -> None:
        _, remote = self.split_ssh(words)
        if remote[:2] != ["docker", "exec"]:  # a second shell's `docker exec` leaves the first shell's container running
            self.stop_containers()
        if remote[:2] == ["docker", "run"]:
            return self.docker_run(remote[2:])
        if remote[:2] == ["docker", "exec"]:
            return self.docker_exec(remote[2:])
        raise WalkError(f"on the robot only `docker run` / `docker exec` are expected: {shlex.join(remote)}")

    @staticmethod
    def options(words: list[str], flags: set[str], valued: set[str], repeated: set[str] = frozenset()) -> dict:
        """Options before the first positional word; `args` holds the rest."""
        opts: dict = {r: [] for r in repeated}
        i = 0
        while i < len(words) and words[i].startswith("-"):
            w = words[i]
            if w in flags:
                opts[w] = True
            elif w in valued or w in repeated:
                if i + 1 >= len(words):
                    raise WalkError(f"option {w} needs a value")
                if w in repeated:
                    opts[w].append(words[i + 1])
                else:
                    opts[w] = words[i + 1]
                i += 1
            elif re.fullmatch(r"-[it]+", w):
                for ch in w[1:]:
                    opts[f"-{ch}"] = True
            else:
                raise WalkError(f"option {w} is not one this walk knows")
            i += 1
        opts["args"] = words[i:]
        return opts

    def docker_run(self, words: list[str]) -> None:
        opts = self.options(words, flags={"--rm"}, valued={"--name", "--network", "--ipc"}, repeated={"-e", "-v"})
        image, command = opts["args"][0], opts["args"][1:]
        if image not in self.loaded:
            raise WalkError(f"docker run {image}: no such image on the robot (built and loaded: {sorted(self.loaded)})")
        if ("-t" in opts) and not self.ssh_tty:
            raise WalkError("docker run -t through ssh without -t: 'the input device is not a TTY'")
        mounts = {}
        for volume in opts["-v"]:
            host, container = volume.split(":")[:2]
            mounts[container] = self.robot / host.lstrip("/")
        if mounts.get("/data") != self.robot / "data":
            raise WalkError(f"the robot's data is /data, mounted at the same path (-v /data:/data): {opts['-v']}")
        env = dict(e.split("=", 1) for e in opts["-e"])
        container = Container(opts.get("--name", ""), mounts, env=env)
        self.entrypoint(container)
        if not command:
            command = self.image_cmd()
        if command == ["true"]:
            self.ran.append("docker run true")
            return
        if command[:2] != ["ros2", "launch"]:
            raise WalkError(f"docker run: unexpected command {command}")
        for flag in ("-i", "-t"):
            if flag not in opts or not self.ssh_tty:
                raise WalkError("`ros2 launch` runs until Ctrl-C: it needs `ssh -t` and `docker run -it`, "
                                "or Ctrl-C cannot reach it (and the bag is never closed)")
        if opts.get("--network") != "host" or opts.get("--ipc") != "host":
            raise WalkError("the robot's DDS traffic needs --network host --ipc host")
        if "--rm" not in opts or not container.name:
            raise WalkError("a long-running robot container should be --rm and named (--name) for docker exec")
        self.launch(container, command[2:])

    def image_cmd(self) -> list[str]:
        import json

        line = next(l for l in (ROOT / "docker/robot.Dockerfile").read_text().splitlines() if l.startswith("CMD "))
        return json.loads(line[4:])

    def entrypoint(self, container: Container) -> None:
        """robot-entrypoint.sh's first step: the data folders, made by the image's own script."""
        data = self.in_container(container, ROBOT_DATA)
        subprocess.run(["bash", str(ROOT / "docker/robot-data-dirs.sh")], check=True, capture_output=True,
                       env={**os.environ, "REDRAW_DATA": str(data), "REDRAW_OWNER": f"{os.getuid()}:{os.getgid()}"})

    def in_container(self, container: Container, path: str) -> Path:
        for target, host in sorted(container.mounts.items(), key=lambda m: -len(m[0])):
            if path == target or path.startswith(target + "/"):
                return host / os.path.relpath(path, target)
        raise WalkError(f"{path} is not inside a mount of the container ({sorted(container.mounts)}): it is lost with the container")

    def launch(self, container: Container, args: list[str]) -> None:
        package, name, *rest = args
        arguments = {}
        for a in rest:
            if ":=" not in a:
                raise WalkError(f"ros2 launch argument {a!r} is not name:=value")
            key, val = a.split(":=", 1)
            arguments[key] = val
        for val in arguments.values():
            if val.startswith("/"):
                self.in_container(container, val)  # a container path that is not mounted fails here
        nodes = evaluate_launch(launch_file_path(package, name), arguments, container.env)
        for node in nodes:
            params = {k: str(self.in_container(container, v)) if isinstance(v, str) and v.startswith("/data/") else v
                      for k, v in node.parameters.items()}
            cls = node_class(node.package, node.executable)
            created = self.ros.add(cls, namespace=node.namespace, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
            assert created.get_name() == node.name, f"{node.executable} is named {created.get_name()}, the launch file says {node.name}"
            container.nodes.append(created)
        self.running[container.name] = container
        self.ran.append(f"ros2 launch {package} {name}")
        self.on_launch(container, package)

    def docker_exec(self, words: list[str]) -> None:
        opts = self.options(words, flags=set(), valued=set())
        name, command = opts["args"][0], opts["args"][1:]
        if ("-t" in opts) and not self.ssh_tty:
            raise WalkError("docker exec -t through ssh without -t: 'the input device is not a TTY'")
        if name not in self.running:
            raise WalkError(f"docker exec {name}: no such running container (running: {sorted(self.running)})")
        if command[:1] != ["/robot-entrypoint.sh"]:
            raise WalkError(f"docker exec runs no entrypoint: `{command[0]}` has no ROS 2 environment; "
                            "run it through /robot-entrypoint.sh")
        command = command[1:]
        if command[:3] == ["ros2", "service", "call"]:
            if len(command) != 5:
                raise WalkError(f"ros2 service call SERVICE TYPE: {command}")
            return self.service_call(command[3], command[4])
        if command[:3] == ["ros2", "topic", "pub"]:
            rest = [w for w in command[3:] if w != "--once"]
            if len(rest) != 3:
                raise WalkError(f"ros2 topic pub [--once] TOPIC TYPE VALUES: {command} (quoting for the robot's shell?)")
            return self.topic_pub(*rest)
        raise WalkError(f"docker exec: unexpected command {command}")

    def stop_containers(self) -> None:
        """Ctrl-C in the shell that runs a container: its nodes shut down (the logger closes its bag)."""
        for container in self.running.values():
            for node in container.nodes:
                self.ros.remove(node)
        self.running.clear()

    @staticmethod
    def ros_type(name: str):
        import importlib

        package, kind, type_name = name.split("/")
        return getattr(importlib.import_module(f"{package}.{kind}"), type_name)

    def service_call(self, service: str, type_name: str) -> None:
        client = self.ros.node.create_client(self.ros_type(type_name), service)
        if not client.wait_for_service(timeout_sec=5.0):
            raise WalkError(f"ros2 service call {service}: no such service")
        future = client.call_async(self.ros_type(type_name).Request())
        deadline = time.monotonic() + 5
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert future.done() and future.result().success, f"{service} failed"
        self.ran.append(f"service {service.rsplit('/', 1)[-1]}")
        self.on_service(service.rsplit("/", 1)[-1])

    def topic_pub(self, topic: str, type_name: str, values: str) -> None:
        msg_type = self.ros_type(type_name)
        fields = yaml.safe_load(values)
        if not isinstance(fields, dict):
            raise WalkError(f"ros2 topic pub {topic}: values {values!r} are not a YAML mapping")
        msg = msg_type(**fields)
        self.ros.wait_for_subscribers(topic)
        self.ros.publish(msg_type, topic, msg, qos=10)
        self.estop.wait_for(lambda m: m.data == msg.data, timeout=5.0)
        self.ran.append(f"topic pub {topic} {msg.data}")

    # -- the simulated Duckiebot's own stack
    def on_launch(self, container: Container, package: str) -> None:
        if package == "redraw_logger":
            self.ros.wait_for_subscribers(f"/{VEHICLE}/image/compressed")
            self.ros.wait_for_subscribers(f"/{VEHICLE}/wheels_cmd_executed")
            self.logger = next(n for n in container.nodes if hasattr(n, "recorder"))
            self.record_episodes(3)
        elif package == "redraw_policy":
            for node in container.nodes:
                if getattr(node, "controller", None) is not None and node.controller.runner is None:
                    raise WalkError(f"the policy node loaded no model from {node.get_parameter('model_path').value}")
            self.drive_policy()

    def on_service(self, name: str) -> None:
        if name == "start":
            self.record_episodes(2)

    def record_episodes(self, count: int, steps: int = 24) -> None:
        """Joystick driving: frames and the wheels driver's executed commands, a pause between episodes.

        Stamped at 10 Hz but sent faster, each message once the logger has the one before (a frame is resent
        if the best-effort camera topic lost it), so a loaded machine cannot split episodes with lost frames."""
        from duckietown_msgs.msg import WheelsCmdStamped
        from sensor_msgs.msg import CompressedImage

        frames = [jpeg(road_frame(shift=s)) for s in (-0.06, -0.03, 0.0, 0.03, 0.06)]
        for episode in range(count):
            for step in range(steps):
                stamp = self.sim_clock
                msg = CompressedImage(format="jpeg", data=frames[(step + episode) % len(frames)])
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
                seen = self.logger.recorder.stats.frames
                for _ in range(10):
                    self.ros.publish(CompressedImage, f"/{VEHICLE}/image/compressed", msg, qos=qos_profile_sensor_data)
                    deadline = time.monotonic() + 0.3
                    while self.logger.recorder.stats.frames == seen and time.monotonic() < deadline:
                        time.sleep(0.005)
                    if self.logger.recorder.stats.frames > seen:
                        break
                cmd = WheelsCmdStamped(vel_left=0.2 + 0.05 * (step % 3), vel_right=0.2 + 0.05 * ((step + episode) % 2))
                cmd.header.stamp.sec, cmd.header.stamp.nanosec = divmod(stamp + 10 * MS, 10**9)
                commands = self.logger.recorder.stats.commands
                self.ros.publish(WheelsCmdStamped, f"/{VEHICLE}/wheels_cmd_executed", cmd, qos=10)
                deadline = time.monotonic() + 2.0  # reliable: it arrives; before the next frame, as on the robot
                while self.logger.recorder.stats.commands == commands and time.monotonic() < deadline:
                    time.sleep(0.005)
                self.sim_clock += 100 * MS  # stamps at 10 Hz; sent faster than real time
            self.sim_clock += 2000 * MS  # the driver pauses between episodes
        time.sleep(0.3)

    def drive_policy(self, frames: int = 5) -> None:
        from duckietown_msgs.msg import WheelsCmdStamped
        from sensor_msgs.msg import CompressedImage

        from redraw_policy.node_policy import CAMERA_QOS

        wheels = self.ros.subscribe(WheelsCmdStamped, f"/{VEHICLE}/wheels_cmd")
        self.ros.wait_for_subscribers(f"/{VEHICLE}/image/compressed")
        answered = 0
        for i in range(frames):
            msg = CompressedImage(format="jpeg", data=jpeg(road_frame(shift=0.02 * i)))
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(time.time_ns(), 10**9)
            for _ in range(20):  # best effort: resend until answered
                self.ros.publish(CompressedImage, f"/{VEHICLE}/image/compressed", msg, qos=CAMERA_QOS)
                try:
                    wheels.wait_for(lambda m: m.header.stamp == msg.header.stamp, timeout=0.5)
                    answered += 1
                    break
                except TimeoutError:
                    continue
        self.policy_commands = [m for m in wheels.messages]
        self.policy_answered = answered


@pytest.fixture
def commands() -> list[Command]:
    return robot_path_commands(README.read_text())


def test_the_readme_robot_path_runs_at_tiny_scale(tmp_path, monkeypatch, commands):
    from std_msgs.msg import Bool

    monkeypatch.setenv("REDRAW_CACHE_DIR", str(tmp_path / "bag-cache"))
    with RosHarness() as ros:
        walk = Walk(tmp_path, ros, monkeypatch)
        walk.estop = ros.subscribe(Bool, f"/{VEHICLE}/emergency_stop")  # Duckietown's wheels driver listens here
        for cmd in commands:
            try:
                walk.run(cmd)
            except WalkError as err:
                raise WalkError(f"README command failed:\n  {cmd.text}\n{err}") from None
        walk.stop_containers()
        # the policy node loaded the exported file and drove the simulated robot's wheels
        assert walk.policy_answered == 5, f"the policy answered {walk.policy_answered} of 5 frames"
        assert any(m.vel_left != 0 or m.vel_right != 0 for m in walk.policy_commands)
    stats = walk.logger.recorder.stats  # 3 episodes of 24 steps, stop, start, 2 more
    assert stats.paired >= 110 and stats.episodes >= 5, stats.summary()
    steps = walk.ran
    for expected in ("docker run true", "ros2 launch redraw_logger record.launch.py", "service stop", "service start",
                     "scp from robot", "redraw bag info", "redraw adapt", "redraw train-policy", "redraw export",
                     "scp to robot", "ros2 launch redraw_policy lane_follow.launch.py", f"topic pub /{VEHICLE}/emergency_stop True",
                     f"topic pub /{VEHICLE}/emergency_stop False", "redraw replay"):
        assert expected in steps, f"the README's robot path never does: {expected} (did: {steps})"
    order = [steps.index(s) for s in ("ros2 launch redraw_logger record.launch.py", "scp from robot", "redraw adapt",
                                      "redraw train-policy", "redraw export", "scp to robot",
                                      "ros2 launch redraw_policy lane_follow.launch.py", "redraw replay")]
    assert order == sorted(order), f"the README's robot path is out of order: {steps}"
    # what the logger recorded is on the workstation, where the README's commands read it
    bags = sorted((tmp_path / "workstation/data/redraw/bags").rglob("*.mcap"))
    assert bags, "no bag reached the workstation"
    assert (tmp_path / "robot/data/redraw/models/policy.onnx").is_file()


def readme_command(commands: list[Command], *needles: str) -> Command:
    """The one README command whose text holds every needle."""
    found = [c for c in commands if all(n in c.text for n in needles)]
    assert len(found) == 1, f"{len(found)} README commands hold {needles}"
    return found[0]


def mutated(cmd: Command, old: str, new: str) -> Command:
    assert old in cmd.text, f"{old!r} is not in {cmd.text!r}"
    text = cmd.text.replace(old, new, 1)
    return Command(text, [expand(w) for w in shlex.split(text, comments=True)])


def robot_ready(walk: Walk) -> None:
    """The state after the README's build and load lines."""
    walk.built.add(IMAGE)
    walk.loaded.add(IMAGE)


# (which README command, what is changed in it, the error the walk must stop with)
BROKEN = {
    "record without ssh -t": (("record.launch.py",), "ssh -t ", "ssh ", "not a TTY"),
    "record without docker -it": (("record.launch.py",), " -it ", " ", "needs `ssh -t` and `docker run -it`"),
    "record into an unmounted folder": (("record.launch.py",), "out_dir:=/data/redraw/bags", "out_dir:=/bags", "not inside a mount"),
    "record with a misspelt argument": (("record.launch.py",), "out_dir:=", "outdir:=", "declares no argument"),
    "record without the /data mount": (("record.launch.py",), "-v /data:/data", "-v /data/redraw/bags:/bags", "-v /data:/data"),
    "record from a missing launch file": (("record.launch.py",), "record.launch.py", "recorder.launch.py", "no such launch file"),
    "e-stop quoted for one shell only": (("emergency_stop", "data: true"), "\"'{data: true}'\"", '"{data: true}"', "quoting"),
    "service call without the entrypoint": (("redraw_logger/stop",), "/robot-entrypoint.sh ", "", "runs no entrypoint"),
    "drive with an image never loaded": (("lane_follow.launch.py",), "redraw-robot", "redraw-robot:arm64", "no such image"),
}


@pytest.mark.parametrize("case", sorted(BROKEN), ids=lambda c: c.replace(" ", "-"))
def test_a_broken_readme_command_fails_the_walk(case, tmp_path, monkeypatch, commands):
    needles, old, new, error = BROKEN[case]
    original = readme_command(commands, *needles)
    with RosHarness() as ros:
        walk = Walk(tmp_path, ros, monkeypatch)
        robot_ready(walk)
        walk.running["redraw-drive"] = walk.running["redraw-record"] = Container("stub", {})
        with pytest.raises(WalkError, match=re.escape(error)):
            walk.run(mutated(original, old, new))
        walk.running.clear()


def test_the_policy_has_a_folder_on_the_robot_once_the_image_has_run(tmp_path, monkeypatch, commands):
    """scp into /data/redraw/models fails on a robot where nothing made it; the README's first run of the
    image (its entrypoint) makes it, owned by the robot's user."""
    copy_back = readme_command(commands, "scp", "policy.onnx")
    with RosHarness() as ros:
        walk = Walk(tmp_path, ros, monkeypatch)
        robot_ready(walk)
        (walk.ws / "data/redraw/models").mkdir(parents=True)
        (walk.ws / "data/redraw/models/policy.onnx").write_bytes(b"onnx")
        with pytest.raises(WalkError, match="No such file or directory"):
            walk.run(copy_back)
        walk.run(readme_command(commands, "docker run", "redraw-robot true"))
        walk.run(copy_back)
    models = tmp_path / "robot/data/redraw/models"
    assert (models / "policy.onnx").read_bytes() == b"onnx"
    assert models.stat().st_mode & 0o2775 == 0o2775  # setgid, group-writable: the root-run logger's files stay the user's


def test_the_image_default_command_is_the_readme_drive_command(commands):
    drive = readme_command(commands, "lane_follow.launch.py")
    launch = drive.words[drive.words.index("ros2"):]
    walk = Walk.__new__(Walk)
    assert Walk.image_cmd(walk) == shlex.split(" ".join(launch)), "the robot image's CMD differs from the README's drive command"
