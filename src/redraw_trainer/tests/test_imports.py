"""The trainer's modules import each other without a cycle, counting imports inside functions too
(a function-level import is how a cycle hides: `config` once imported `imagination` in a method)."""

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


def test_redraw_trainer_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert "redraw_trainer.imagination" in graph and "redraw_trainer.data.bags" in graph
    assert "redraw_trainer.config" in graph["redraw_trainer.imagination"]  # edges are really read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
