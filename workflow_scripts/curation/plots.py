"""Figures for the report: rows left per stage, domains, sources, trace lengths (pool vs final set)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

# No creation date or software version in the PNGs, so reruns give the same bytes.
_PNG_METADATA = {"Software": None}


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata=_PNG_METADATA)
    plt.close(fig)


def _shares(values: pd.Series, name: str) -> pd.DataFrame:
    counts = values.fillna("(missing)").value_counts()
    return pd.DataFrame({"category": counts.index.astype(str), "share": counts.values / max(counts.sum(), 1), "set": name})


def plot_stages(stage_counts: list[dict], path: Path) -> None:
    frame = pd.DataFrame(stage_counts)
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.barplot(data=frame, x="stage", y="rows_left", color="#4C72B0", ax=ax)
    for patch, value in zip(ax.patches, frame["rows_left"]):
        ax.annotate(f"{value:,}", (patch.get_x() + patch.get_width() / 2, patch.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set(xlabel="", ylabel="rows left", title="Rows left after each curation stage")
    ax.tick_params(axis="x", rotation=30)
    _save(fig, path)


def plot_shares(pool_values: pd.Series, final_values: pd.Series, title: str, path: Path, top: int = 70) -> None:
    frame = pd.concat([_shares(pool_values, "pool"), _shares(final_values, "final set")])
    order = (frame.groupby("category")["share"].max().sort_values(ascending=False).index[:top]).tolist()
    frame = frame[frame["category"].isin(order)]
    fig, ax = plt.subplots(figsize=(9, max(3.5, 0.28 * len(order) + 1.5)))
    sns.barplot(data=frame, y="category", x="share", hue="set", order=order, ax=ax)
    ax.set(xlabel="share of rows", ylabel="", title=title)
    _save(fig, path)


def plot_trace_lengths(pool_lengths: pd.Series, final_lengths: pd.Series, path: Path) -> None:
    frame = pd.concat([
        pd.DataFrame({"trace_tokens": pool_lengths.astype(float), "set": "pool (after quality filters)"}),
        pd.DataFrame({"trace_tokens": final_lengths.astype(float), "set": "final set"}),
    ])
    fig, ax = plt.subplots(figsize=(8, 4))
    if len(frame):
        sns.histplot(data=frame, x="trace_tokens", hue="set", stat="density", common_norm=False,
                     element="step", bins=40, ax=ax)
    ax.set(xlabel="thinking trace length (tokens)", title="Trace lengths: pool vs final set")
    _save(fig, path)


def write_plots(out_dir: Path, stage_counts: list[dict], pool: pd.DataFrame, quality_pool: pd.DataFrame,
                final: pd.DataFrame) -> dict[str, str]:
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    paths = {name: plots / f"{name}.png" for name in ("stages", "domains", "sources", "trace_lengths")}
    plot_stages(stage_counts, paths["stages"])
    plot_shares(pool["domain"], final["domain"], "Domains (MSC first level): pool vs final set", paths["domains"])
    plot_shares(pool["source_type"], final["source_type"], "Sources: pool vs final set", paths["sources"])
    plot_trace_lengths(quality_pool["trace_tokens"], final["trace_tokens"], paths["trace_lengths"])
    return {name: str(path) for name, path in paths.items()}
