"""Evaluation pictures as PNG files: ROC curve, distance histograms, confusion matrix.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend, no display
needed) and writes each file atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.atomic import atomic_path

# Above this many people a confusion grid is unreadable (and its canvas grows with the square
# of the people: 526 people took 24 GB); mistakes_png shows the MAX_BARS most frequent instead.
MAX_GRID = 30
MAX_BARS = 25


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike[str]) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return str(path)


def roc_png(
    far: NDArray[np.float64],
    tar: NDArray[np.float64],
    path: str | os.PathLike[str],
    title: str,
    marks: Sequence[tuple[str, float, float]] = (),
) -> str:
    """ROC curve (log FAR axis, so the low-FAR end people care about is readable)."""
    fig = _figure(6, 4.5)
    ax = fig.add_subplot()
    floor = 1.0 / max(len(far), 10) / 10
    ax.plot(np.maximum(far, floor), tar, drawstyle="steps-post", color="tab:blue")
    for label, x, y in marks:
        ax.plot([max(x, floor)], [y], "o", label=label)
    ax.set_xscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(0.0, 1.01)
    ax.set_xlabel("false accept rate (different people accepted)")
    ax.set_ylabel("true accept rate (same person accepted)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if marks:
        ax.legend(loc="lower right")
    return _save(fig, path)


def histogram_png(
    same: NDArray[np.float64],
    different: NDArray[np.float64],
    threshold: float,
    path: str | os.PathLike[str],
    title: str,
) -> str:
    """Distance histograms of same-person and different-person pairs, with the threshold."""
    fig = _figure(6, 4.5)
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 2.0, 61)
    ax.hist(different, bins=bins, alpha=0.6, density=True, label=f"different ({len(different)})")
    ax.hist(same, bins=bins, alpha=0.6, density=True, label=f"same person ({len(same)})")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("distance between embeddings")
    ax.set_ylabel("share of pairs (density)")
    ax.set_title(title, fontsize=10)
    ax.legend()
    return _save(fig, path)


def confusion_png(
    matrix: NDArray[np.int64],
    true_labels: Sequence[str],
    predicted_labels: Sequence[str],
    path: str | os.PathLike[str],
    title: str,
) -> str:
    """Confusion matrix: rows are who the face is, columns who we said; counts in the cells."""
    side = 2.0 + 0.45 * max(len(true_labels), len(predicted_labels))
    fig = _figure(side + 1.5, side)
    ax = fig.add_subplot()
    rows = matrix.sum(axis=1, keepdims=True)
    shares = matrix / np.maximum(rows, 1)  # colour by share of the row, so big rows don't wash out
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(predicted_labels)), list(predicted_labels), rotation=45, ha="right")
    ax.set_yticks(range(len(true_labels)), list(true_labels))
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            color = "white" if shares[i, j] > 0.5 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=color)
    ax.set_xlabel("recognized as")
    ax.set_ylabel("true person")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def mistakes_png(
    mistakes: Sequence[tuple[tuple[str, str], int]],
    answers: int,
    path: str | os.PathLike[str],
    title: str,
) -> str:
    """The most frequent mistakes as horizontal bars, "true -> recognized as", fixed size."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8, 6)
    ax = fig.add_subplot()
    labels = [f"{a if a != 'unknown' else '(stranger)'} -> {b}" for (a, b), _ in mistakes]
    counts = [n for _, n in mistakes]
    ax.barh(range(len(counts)), counts, color="tab:red")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"mistakes (of {answers} answers)")
    ax.set_title(title + ("" if mistakes else ": no mistakes"), fontsize=10)
    return _save(fig, path)
