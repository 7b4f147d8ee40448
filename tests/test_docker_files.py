"""Docker files, validated without a Docker engine (none runs here; images are built on the workstation).

Checks what can be checked: the compose file's structure, that every path a Dockerfile copies exists,
that every command the images run exists in the repository, and that every requirement is pinned.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE_KEYS = {"build", "image", "entrypoint", "command", "working_dir", "volumes", "deploy", "ports", "depends_on", "environment"}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_services_are_well_formed():
    spec = compose()
    assert set(spec) <= {"name", "services", "volumes"}
    services = spec["services"]
    assert set(services) == {"trainer", "tensorboard"}
    for name, service in services.items():
        assert set(service) <= COMPOSE_KEYS, f"{name}: unexpected keys {set(service) - COMPOSE_KEYS}"
        for volume in service.get("volumes", []):
            host, container = volume.split(":")[:2]
            assert host.startswith("..") and container.startswith("/"), volume
    build = services["trainer"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve().is_file()
    gpu = services["trainer"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert services["tensorboard"]["image"] == services["trainer"]["image"]
    # TensorBoard must come up on a host without an NVIDIA runtime: no GPU, no dependency on the trainer
    assert "deploy" not in services["tensorboard"] and "depends_on" not in services["tensorboard"]
    assert services["tensorboard"]["build"] == build


def test_compose_examples_use_the_mounted_paths():
    """Every container path in the compose file's example commands lies under one of the trainer's mounts."""
    text = (DOCKER / "compose.yaml").read_text()
    mounts = [v.split(":")[1] for v in compose()["services"]["trainer"]["volumes"]]
    examples = [line for line in text.splitlines() if line.startswith("#") and " run " in line or line.startswith("#      ")]
    paths = re.findall(r"(?<=[ =])(/[\w./-]+)", "\n".join(examples))
    assert paths, "no example paths found"
    for path in paths:
        assert any(path == m or path.startswith(m + "/") for m in mounts), f"example path {path} is not mounted"


def test_the_build_context_leaves_out_venvs_runs_and_git():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")}
    assert {".git", ".venv", "runs", "bags"} <= ignored


def test_the_robot_image_builds_the_duckietown_messages():
    robot = (DOCKER / "robot.Dockerfile").read_text()
    assert "COPY src/duckietown_msgs src/duckietown_msgs" in robot and "colcon build" in robot
    assert (ROOT / "src/duckietown_msgs/msg/WheelsCmdStamped.msg").is_file()
    for line in robot.splitlines():  # a multi-platform build cannot be loaded into a local image store
        if "buildx build" in line and "," in line.split("--platform")[1].split()[0]:
            assert "--push" in line, line


@pytest.mark.parametrize("dockerfile", sorted(DOCKER.glob("*.Dockerfile")), ids=lambda p: p.name)
def test_every_copied_path_exists(dockerfile):
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source} does not exist"


def test_images_run_commands_that_exist():
    trainer = (DOCKER / "trainer.Dockerfile").read_text()
    assert 'ENTRYPOINT ["redraw"]' in trainer
    assert "redraw = redraw_trainer.cli:main" in (ROOT / "src/redraw_trainer/setup.py").read_text()
    robot = (DOCKER / "robot.Dockerfile").read_text()
    package, launch_file = re.search(r'CMD \["ros2", "launch", "(\w+)", "([\w.]+)"', robot).groups()
    assert (ROOT / "src" / package / "launch" / launch_file).is_file()
    entrypoint = DOCKER / "robot-entrypoint.sh"
    assert entrypoint.stat().st_mode & 0o111, "robot entrypoint must be executable"


@pytest.mark.parametrize("path", [ROOT / "requirements.txt", DOCKER / "robot-requirements.txt"], ids=lambda p: p.name)
def test_requirements_are_pinned(path):
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert re.fullmatch(r"[\w.\-\[\]]+==[\w.+]+", line), f"{path.name}: '{line}' is not pinned with =="


ROBOT_DATA = "/data/redraw"  # on the robot: bags/ and models/; the same names under ../data/redraw in compose


def launch_defaults(path: Path) -> dict[str, str]:
    import ast

    defaults = {}
    for call in ast.walk(ast.parse(path.read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "DeclareLaunchArgument":
            default = {k.arg: k.value for k in call.keywords}.get("default_value")
            if isinstance(default, ast.Constant):
                defaults[call.args[0].value] = default.value
    return defaults


def test_robot_paths_follow_one_convention():
    """Bags in /data/redraw/bags, the policy in /data/redraw/models/policy.onnx: the image's default
    command, the launch defaults, the compose mount and the README say the same."""
    bags, model = f"{ROBOT_DATA}/bags", f"{ROBOT_DATA}/models/policy.onnx"
    robot = (DOCKER / "robot.Dockerfile").read_text()
    assert f'"model:={model}"]' in robot
    assert launch_defaults(ROOT / "src/redraw_logger/launch/record.launch.py")["out_dir"] == bags
    assert launch_defaults(ROOT / "src/redraw_policy/launch/lane_follow.launch.py")["model"] == model
    assert {k: v for k, v in launch_defaults(ROOT / "launch/robot.launch.py").items() if k in ("out_dir", "model")} == \
        {"out_dir": bags, "model": model}
    assert f"../data/redraw:{ROBOT_DATA}" in compose()["services"]["trainer"]["volumes"]
    stale = re.compile(r"/data/bags|(?<![\w/])/models/|(?<![\w/.])/bags\b")  # the old /data/bags, /models, /bags
    for path in [ROOT / "README.md", DOCKER / "compose.yaml", DOCKER / "robot.Dockerfile",
                 *(ROOT / "src").glob("*/launch/*.py"), *(ROOT / "launch").glob("*.py")]:
        found = stale.search(path.read_text())
        assert not found, f"{path.name}: {found.group()} (robot data lives in {ROBOT_DATA})"


def test_the_robot_image_makes_its_data_folders_for_the_robot_user():
    robot = (DOCKER / "robot.Dockerfile").read_text()
    assert "COPY docker/robot-data-dirs.sh /usr/local/bin/redraw-data-dirs" in robot
    entrypoint = (DOCKER / "robot-entrypoint.sh").read_text()
    assert entrypoint.index("redraw-data-dirs") < entrypoint.index('exec "$@"') and "umask 0002" in entrypoint
    assert (DOCKER / "robot-data-dirs.sh").stat().st_mode & 0o111
