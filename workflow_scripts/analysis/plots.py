"""Figures (seaborn): the three-panel scaling scatter, the method comparison, failure cases.

Every figure is drawn from the run table (``runs.tsv``) and saved with fixed metadata so
the same table gives the same PNG bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from workflow_scripts.analysis.failures import budget_sort_key  # noqa: E402
from workflow_scripts.analysis.metrics import METHOD_KEYS, scaling_slope  # noqa: E402
from workflow_scripts.methods import get_method  # noqa: E402

DATASET_TITLES = {"math500": "MATH500", "aime24": "AIME24", "gpqa": "GPQA-Diamond"}
DATASET_ORDER = ("math500", "aime24", "gpqa")
PNG_METADATA = {"Software": None}  # no matplotlib version stamp: byte-identical reruns


def series_name(model: str, method: str) -> str:
    """The registry's label of the method; other models are prefixed (``base/truncation``)."""
    label = get_method(method).label
    return label if model == "sft" else f"{model}/{label}"


def series_palette(pairs) -> dict:
    """{series name: colour} for (model, method) pairs: the method's registry colour, lightened
    for models other than ``sft`` (which also get square markers)."""
    palette = {}
    for model, method in pairs:
        colour = get_method(method).colour
        palette[series_name(model, method)] = colour if model == "sft" else sns.light_palette(colour, 3)[1]
    return palette


def plot_tokens(runs: pd.DataFrame) -> pd.Series:
    """x of each run: mean thinking tokens; runs without a thinking phase (the base model's
    one-phase answers) use their mean response tokens instead."""
    return runs["thinking_tokens_mean"].where(runs["thinking_tokens_mean"] > 0, runs["answer_tokens_mean"])


def _save(figure, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight", metadata=PNG_METADATA)
    plt.close(figure)


def _palette(names) -> dict:
    colours = sns.color_palette("colorblind", n_colors=max(len(names), 3))
    return dict(zip(names, colours))


def _run_order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(_b=frame["budget"].map(budget_sort_key), _n=frame["n"]).sort_values(["_b", "_n", "setting"])


def scaling_figure(runs: pd.DataFrame, path: str | Path) -> None:
    """One panel per dataset; x = mean thinking tokens (log2), y = accuracy (%), one colour per
    method, a method's runs connected in budget order and labelled with their setting; thin
    bars: 95 % paired-bootstrap interval, thick bars: +- the standard deviation across the
    repeated samples (``generation.samples`` > 1)."""
    runs = runs.assign(x=plot_tokens(runs), y=runs["accuracy"] * 100,
                       series=[series_name(m, k) for m, k in zip(runs["model"], runs["method"])])
    datasets = [d for d in DATASET_ORDER if d in set(runs["dataset"])] or sorted(set(runs["dataset"]))
    names = sorted(runs["series"].unique())
    palette = series_palette(zip(runs["model"], runs["method"]))
    sns.set_theme(style="whitegrid", context="notebook")
    figure, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        subset = runs[runs["dataset"] == dataset]
        for name in names:
            series = _run_order(subset[subset["series"] == name])
            if series.empty:
                continue
            ax.plot(series["x"], series["y"], "-", color=palette[name], alpha=0.6, linewidth=1.5)
            # thin: 95 % paired-bootstrap interval; thick: +- the spread across repeated samples (k > 1)
            ax.errorbar(series["x"], series["y"], yerr=[(series["y"] - series["accuracy_ci_low"] * 100).to_numpy(),
                                                        (series["accuracy_ci_high"] * 100 - series["y"]).to_numpy()],
                        fmt="none", ecolor=palette[name], alpha=0.5, elinewidth=0.8, capsize=2)
            spread = series["accuracy_sample_sd"].fillna(0) * 100
            if (spread > 0).any():
                ax.errorbar(series["x"], series["y"], yerr=spread.to_numpy(), fmt="none", ecolor=palette[name],
                            elinewidth=3, alpha=0.8)
            sns.scatterplot(data=series, x="x", y="y", color=palette[name], label=name, ax=ax, s=55,
                            marker="s" if name.startswith("base") else "o", legend=False)
            for row in series.itertuples():
                ax.annotate(row.setting, (row.x, row.y), textcoords="offset points", xytext=(4, 5), fontsize=7,
                            color=palette[name])
        samples = int(subset["samples"].max()) if len(subset) else 0
        ax.set_title(f"{DATASET_TITLES.get(dataset, dataset)} (n={samples})")
        ax.set_xlabel("mean thinking tokens (log scale)")
        ax.set_ylabel("accuracy (%)")
        if (subset["x"] > 0).all() and len(subset):
            ax.set_xscale("log", base=2)
        ax.set_ylim(-3, 103)
    handles = [plt.Line2D([0], [0], marker="s" if n.startswith("base") else "o", color=palette[n], label=n)
               for n in names]
    figure.legend(handles=handles, loc="lower center", ncol=len(names), bbox_to_anchor=(0.5, -0.06), frameon=False)
    figure.suptitle("Test-time scaling: accuracy vs. thinking tokens")
    figure.tight_layout()
    _save(figure, path)


def methods_figure(runs: pd.DataFrame, path: str | Path) -> None:
    """Per dataset and method: best accuracy (left) and scaling slope in accuracy points per
    1,000 thinking tokens (right)."""
    rows = []
    for (model, dataset, method), group in runs.groupby(METHOD_KEYS, sort=True):
        slope, _, _ = scaling_slope(group["thinking_tokens_mean"].tolist(), group["accuracy"].tolist())
        rows.append({"dataset": DATASET_TITLES.get(dataset, dataset), "method": series_name(model, method),
                     "model": model, "method_name": method,
                     "best accuracy (%)": group["accuracy"].max() * 100,
                     "scaling (pp / 1k tokens)": slope * 1e5 if not math.isnan(slope) else 0.0})
    table = pd.DataFrame(rows)
    sns.set_theme(style="whitegrid", context="notebook")
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    order = [DATASET_TITLES.get(d, d) for d in DATASET_ORDER if DATASET_TITLES.get(d, d) in set(table["dataset"])]
    hue_order = sorted(table["method"].unique())
    palette = series_palette(zip(table["model"], table["method_name"]))
    for ax, column in zip(axes, ["best accuracy (%)", "scaling (pp / 1k tokens)"]):
        sns.barplot(data=table, x="dataset", y=column, hue="method", order=order, hue_order=hue_order,
                    palette=palette, ax=ax)
        ax.set_xlabel("")
        ax.legend(fontsize=8, title=None)
    axes[1].axhline(0, color="black", linewidth=0.8)
    figure.suptitle("Method comparison (single-run methods have no slope and show 0)")
    figure.tight_layout()
    _save(figure, path)


def failures_figure(runs: pd.DataFrame, failures: pd.DataFrame, path: str | Path) -> None:
    """One panel per detected case kind: the accuracy curves (95 % bootstrap bars) of the methods
    with an accuracy case, the token gain of forcing runs, the accuracy of forcing runs that
    hurt next to truncation at their budget, the share of looping samples."""
    kinds = [k for k in ("no_detectable_scaling", "accuracy_drop", "accuracy_flat", "forcing_adds_no_tokens",
                         "forcing_hurts", "wait_repetition") if k in set(failures["kind"])]
    sns.set_theme(style="whitegrid", context="notebook")
    if not kinds:
        figure, ax = plt.subplots(figsize=(6, 2.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "No failure of scaling detected\n"
                "(accuracy drop/flat, forcing without tokens or hurting, Wait loops)", ha="center", va="center")
        _save(figure, path)
        return
    figure, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.4), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        cases = failures[failures["kind"] == kind]
        if kind in ("no_detectable_scaling", "accuracy_drop", "accuracy_flat"):
            keys = sorted(set(zip(cases["model"], cases["dataset"], cases["method"])))
            palette = _palette([f"{d}: {series_name(m, k)}" for m, d, k in keys])
            for model, dataset, method in keys:
                label = f"{dataset}: {series_name(model, method)}"
                group = runs[(runs["model"] == model) & (runs["dataset"] == dataset) & (runs["method"] == method)]
                group = group.assign(x=plot_tokens(group)).sort_values("x")
                ax.errorbar(group["x"], group["accuracy"] * 100,
                            yerr=[(group["accuracy"] - group["accuracy_ci_low"]) * 100,
                                  (group["accuracy_ci_high"] - group["accuracy"]) * 100],
                            marker="o", capsize=3, color=palette[label], label=label)
            ax.set_xlabel("mean thinking tokens")
            ax.set_ylabel("accuracy (%), 95 % bootstrap interval")
            ax.legend(fontsize=7)
        elif kind == "forcing_adds_no_tokens":
            label = cases["dataset"] + ": " + cases["to_setting"] + " vs " + cases["from_setting"]
            table = pd.concat([
                pd.DataFrame({"run": label, "tokens": cases["tokens_from"], "thinking": "baseline run"}),
                pd.DataFrame({"run": label, "tokens": cases["tokens_to"], "thinking": "with forcing"}),
            ], ignore_index=True)
            sns.barplot(data=table, y="run", x="tokens", hue="thinking", hue_order=["baseline run", "with forcing"],
                        ax=ax)
            ax.set_xlabel("mean thinking tokens")
            ax.set_ylabel("")
            ax.legend(fontsize=7)
        elif kind == "forcing_hurts":
            label = cases["dataset"] + ": " + cases["to_setting"]  # vs truncation at the same budget
            table = pd.concat([
                pd.DataFrame({"run": label, "accuracy": cases["accuracy_from"] * 100, "method": "truncation"}),
                pd.DataFrame({"run": label, "accuracy": cases["accuracy_to"] * 100, "method": "budget forcing"}),
            ], ignore_index=True)
            sns.barplot(data=table, y="run", x="accuracy", hue="method", hue_order=["truncation", "budget forcing"],
                        ax=ax)
            ax.set_xlim(0, 100)
            ax.set_xlabel("accuracy (%) vs truncation at the same budget")
            ax.set_ylabel("")
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # the bars reach 100 %
        else:
            table = cases.assign(run=cases["dataset"] + ": " + cases["from_setting"],
                                 share=cases["samples_to"] / cases["samples_from"] * 100)
            sns.barplot(data=table, y="run", x="share", color="tab:red", ax=ax)
            ax.set_xlabel("forced samples that loop after the forcing string (%)")
            ax.set_ylabel("")
        ax.set_title(kind.replace("_", " "))
    figure.tight_layout()
    _save(figure, path)
