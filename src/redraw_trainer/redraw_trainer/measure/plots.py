"""Plots for logs and reports (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from redraw_trainer.core.metrics_log import read_metrics  # noqa: E402


def _save(fig, out: str | Path) -> Path:
    """Write the figure (making its folder) and free it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def learning_curves(metrics_file: str | Path, keys: list[str], out: str | Path, title: str = "") -> Path:
    """One panel per metric key against optimizer step."""
    rows = read_metrics(metrics_file)
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            steps, values = zip(*points)
            ax.plot(steps, values)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out)


def bars_with_ci(names: list[str], means: list[float], ci: list[float], out: str | Path, ylabel: str, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(1.4 * len(names) + 2, 3.5))
    ax.bar(names, means, yerr=ci, capsize=5, color=plt.cm.tab10(np.arange(len(names))))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    return _save(fig, out)


def horizon_curves(curves: dict[str, np.ndarray], out: str | Path, ylabel: str, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel("open-loop horizon (steps)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, out)


def image_strip(rows: dict[str, np.ndarray], out: str | Path, title: str = "", first_step: int = 0,
                columns: list[str] | None = None) -> Path:
    """rows: label -> (T, H, W, 3) uint8 frames; one labelled row each; columns titled `columns`, else
    t+first_step, ..."""
    labels = list(rows)
    steps = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(labels), steps, figsize=(1.2 * steps + 1.5, 1.3 * len(labels)), squeeze=False)
    for r, label in enumerate(labels):
        for t in range(steps):
            ax = axes[r][t]
            ax.axis("off")
            if t < len(rows[label]):
                ax.imshow(rows[label][t])
            if t == 0:
                ax.text(-0.1, 0.5, label, transform=ax.transAxes, ha="right", va="center", fontsize=8)
            if r == 0:
                ax.set_title(columns[t] if columns else f"t+{first_step + t}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


def stamp_gap_histogram(gaps_s: list[float], out: str | Path, title: str = "") -> Path:
    """Histogram of the time between consecutive paired steps (10 Hz control: around 0.1 s)."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    if gaps_s:
        ax.hist(np.array(gaps_s) * 1e3, bins=40)
    ax.axvspan(80, 120, color="green", alpha=0.1, label="accepted 80-120 ms")
    ax.set_xlabel("step gap (ms)")
    ax.set_ylabel("count")
    ax.set_title(title, fontsize=8)
    ax.legend()
    fig.tight_layout()
    return _save(fig, out)


def command_traces(t: np.ndarray, commands: dict[str, np.ndarray], out: str | Path, title: str = "") -> Path:
    """(v, omega) over time, one line per source (e.g. recorded vs replayed): `commands[name]` is (T, 2)."""
    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    for ax, i, label in ((axes[0], 0, "v (m/s)"), (axes[1], 1, "omega (rad/s)")):
        for (name, values), colour in zip(commands.items(), ("tab:green", "tab:orange", "tab:blue")):
            ax.plot(t, values[:, i], label=name, color=colour)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right")
    axes[1].set_xlabel("time since the first frame (s)")
    axes[0].set_title(title)
    fig.tight_layout()
    return _save(fig, out)
