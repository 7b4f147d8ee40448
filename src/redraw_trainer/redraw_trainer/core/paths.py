"""Where the shipped files are: `models/` of the repository this package runs from, whatever the cwd."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]  # src/redraw_trainer/redraw_trainer/core/paths.py -> the repository


def shipped_model(name: str) -> str:
    """`models/<name>` of the repository (editable install, as scripts/setup.sh does); else relative to the
    current directory, as for a package installed elsewhere and run from a checkout."""
    path = REPO_ROOT / "models" / name
    return str(path if path.exists() else Path("models") / name)


SMALL_MODEL = shipped_model("source_small.pt")
PAPER_MODEL = shipped_model("source_paper.pt")
