"""The trainer's modules import each other without a cycle and without an arrow running back up the house,
counting imports inside functions too (a function-level import is how a cycle hides: `config` once imported
`imagination` in a method).

The rooms, lowest first; a module may import from its own room and the rooms below it:
    core     configuration, devices, seeding, paths, metrics logs
    model    the networks and the files they live in (DRAW, residual, actor, checkpoints)
    envs     simulators, reality gaps, behaviour policies, rollouts
    data     datasets: sequences, bags, recording simulators
    learn    everything that trains: pretraining, Plan2Explore, adaptation, imagination, export
    measure  everything that scores: evaluation, reward check, visual gap, replay, report, plots
    workflows  the pipeline's steps on files, as the command line runs them
    demo, cli  the demo pipeline and the command line, on top
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "redraw_trainer"


def import_graph(package: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere in its source."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:  # `from pkg import module` names a module; else the importing module
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (found := visit(dep, path)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "config.py").write_text("def build():\n    from pkg import imagination\n")
    (pkg / "imagination.py").write_text("from pkg.world_model import WorldModel\n")
    (pkg / "world_model.py").write_text("from pkg.config import build\n")
    assert find_cycle(import_graph(pkg)) == ["pkg.config", "pkg.imagination", "pkg.world_model", "pkg.config"]


ROOMS = ("core", "model", "envs", "data", "learn", "measure", "workflows", "demo", "cli")


def room_of(module: str) -> int:
    """Height of a module of redraw_trainer in the house (the package root counts as the ground floor)."""
    parts = module.split(".")
    return ROOMS.index(parts[1]) if len(parts) > 1 else -1


def upward_arrows(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{src} -> {dst}" for src, dsts in graph.items() for dst in dsts if room_of(dst) > room_of(src))


def test_every_module_lives_in_a_room():
    assert all(len(m.split(".")) == 1 or m.split(".")[1] in ROOMS for m in import_graph(PACKAGE))


def test_the_arrow_finder_finds_an_arrow_running_up(tmp_path):
    pkg = tmp_path / "redraw_trainer"
    for room in ("envs", "learn"):
        (pkg / room).mkdir(parents=True)
        (pkg / room / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "learn" / "policy.py").write_text("X = 1\n")
    (pkg / "envs" / "behaviour.py").write_text("def load():\n    from redraw_trainer.learn.policy import X\n")
    assert upward_arrows(import_graph(pkg)) == ["redraw_trainer.envs.behaviour -> redraw_trainer.learn.policy"]


def test_no_arrow_runs_back_up_the_house():
    assert upward_arrows(import_graph(PACKAGE)) == []


def test_redraw_trainer_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert "redraw_trainer.learn.imagination" in graph and "redraw_trainer.data.bags" in graph
    assert "redraw_trainer.core.config" in graph["redraw_trainer.learn.imagination"]  # edges are really read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
