"""The loss curve of the report (training/loss_curve.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from workflow_scripts.io import atomic_path


def plot_loss_curve(rows: Sequence[dict], path: str | Path) -> None:
    """Training loss per optimizer step (and learning rate on a second axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    if not rows:
        raise ValueError("no logged steps to plot")
    steps = [r["step"] for r in rows]
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(7, 4))
    sns.lineplot(x=steps, y=[r["loss"] for r in rows], ax=ax, color="C0", label="training loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (token mean, labelled tokens)")
    lr_ax = ax.twinx()
    lr_ax.plot(steps, [r["lr"] for r in rows], color="C1", alpha=0.6, linestyle="--", label="learning rate")
    lr_ax.set_ylabel("learning rate")
    lr_ax.grid(False)
    lines = ax.get_legend_handles_labels()[0] + lr_ax.get_legend_handles_labels()[0]
    ax.legend(lines, ["training loss", "learning rate"], loc="upper right")
    ax.set_title("SFT loss")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None})
    plt.close(fig)
