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


def broken_at_gaps(t: np.ndarray, values: np.ndarray, max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """(t, values) with a NaN row inserted wherever consecutive times are more than `max_gap` apart, so a
    line plot stops at the gap instead of drawing across it."""
    t, values = np.asarray(t, float), np.asarray(values, float)
    cuts = np.flatnonzero(np.diff(t) > max_gap) + 1
    return np.insert(t, cuts, np.nan), np.insert(values, cuts, np.nan, axis=0)


def episode_traces(panels: list[tuple[str, np.ndarray, dict[str, np.ndarray]]], out: str | Path, title: str = "",
                   max_gap: float = 0.5) -> Path:
    """One row per episode, (v, omega) side by side against the time since the episode's first frame, one line
    per source (e.g. recorded vs replayed). panels: (row title, t (T,), {source: (T, 2)}); lines break at gaps
    longer than `max_gap` seconds."""
    rows = max(1, len(panels))
    fig, axes = plt.subplots(rows, 2, figsize=(11, 1.9 * rows + 0.9), squeeze=False)
    for r, (name, t, commands) in enumerate(panels):
        for c, label in enumerate(("v (m/s)", "omega (rad/s)")):
            ax = axes[r][c]
            for (source, values), colour in zip(commands.items(), ("tab:green", "tab:orange", "tab:blue")):
                tt, vv = broken_at_gaps(t, values[:, c], max_gap)
                ax.plot(tt, vv, label=source, color=colour, lw=1, marker="." if len(t) < 20 else None)
            ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if c == 0:  # one title per row, across both panels
                ax.set_title(name, fontsize=8, loc="left")
            if r == rows - 1:
                ax.set_xlabel("time since the episode's first frame (s)", fontsize=8)
    if panels:
        axes[0][1].legend(loc="upper right", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


def command_scatter(recorded: np.ndarray, policy: np.ndarray, out: str | Path, title: str = "") -> Path:
    """Policy vs recorded v and omega, one point per frame, with the line of perfect agreement."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    alpha = float(np.clip(200 / max(len(recorded), 1), 0.05, 0.8))
    for ax, i, label in ((axes[0], 0, "v (m/s)"), (axes[1], 1, "omega (rad/s)")):
        x, y = recorded[:, i], policy[:, i]
        ax.scatter(x, y, s=6, alpha=alpha, color="tab:blue", edgecolors="none", rasterized=True)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pad = 0.05 * (hi - lo) or 0.1
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=1, ls="--", label="policy = recorded")
        ax.set_xlabel(f"recorded {label}")
        ax.set_ylabel(f"policy {label}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


def path_trace(xy: np.ndarray, tiles: list[tuple[int, int]], tile_size: float, out: str | Path, title: str = "") -> Path:
    """Top-down: the drivable tiles (grey squares, tile (i, j) spans [i, i+1) x [j, j+1) tile sizes) and the
    path driven (x, y in metres; start marked o, end x). The simulator's second ground axis points down the map."""
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    for i, j in tiles:
        ax.add_patch(Rectangle((i * tile_size, j * tile_size), tile_size, tile_size, facecolor="0.75", edgecolor="white"))
    xy = np.asarray(xy, float).reshape(-1, 2)
    if len(xy):
        ax.plot(xy[:, 0], xy[:, 1], color="tab:orange", lw=1.5)
        ax.plot(*xy[0], "o", color="tab:green", label="start")
        ax.plot(*xy[-1], "x", color="tab:red", label="end")
        ax.legend(loc="upper right", fontsize=7)
    cells = np.array(tiles, float).reshape(-1, 2) * tile_size
    points = np.concatenate([cells, cells + tile_size, xy]) if len(cells) or len(xy) else np.zeros((1, 2))
    (x0, y0), (x1, y1) = points.min(0) - 0.1, points.max(0) + 0.1
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)  # image-like: the second axis grows downwards, as in the map files
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)", fontsize=8)
    ax.set_ylabel("y (m)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return _save(fig, out)
