"""Figures (seaborn): the three-panel scaling scatter, the other methods, the method comparison,
failure cases.

Every figure is drawn from the run table (``runs.tsv``) and saved with fixed metadata so
the same table gives the same PNG bytes. The x axis is the run's mean compute tokens
(thinking tokens; the whole response for direct answers, see ``metrics``), on a log scale
with a labelled tick at every numeric budget; accuracy carries the run's 95 % paired-bootstrap
interval (``accuracy_ci_low``/``accuracy_ci_high``); point labels are moved apart until none
overlaps another, and a budget's tick label is left out where it would run into its neighbour's;
a metric that has no value is written "n/a", never drawn as 0.
``draw_*`` build a figure (tests read its plotted data), ``*_figure`` save it.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

from workflow_scripts.analysis.failures import budget_sort_key  # noqa: E402
from workflow_scripts.data.benchmarks import BENCHMARKS  # noqa: E402
from workflow_scripts.analysis.metrics import METHOD_KEYS, best_run, numeric_budget  # noqa: E402
from workflow_scripts.analysis.verdicts import (  # noqa: E402
    FALLS, NO_COMPUTE_SPREAD, NO_DETECTABLE_SCALING, RISES, SINGLE_RUN,
)
from workflow_scripts.methods import get_method  # noqa: E402

DATASET_TITLES = {"math500": "MATH500", "aime24": "AIME24", "gpqa": "GPQA-Diamond"}
DATASET_ORDER = BENCHMARKS  # report order: the eval sets as workflow_scripts.data defines them
PNG_METADATA = {"Software": None}  # no matplotlib version stamp: byte-identical reruns
COMPUTE_AXIS = "mean compute tokens (thinking; response for direct answers)"
COMPUTE_NOTE = "compute tokens: a sample's thinking tokens, or its whole response for direct answers (square markers)"
NOT_AVAILABLE = "n/a"
LABEL_FONTSIZE = 7
# a label stays readable over the lines and bars it sits on
LABEL_BOX = {"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.75}
MAX_LABEL_SHIFTS = 40  # a label moves up at most this many steps looking for free space
# The brief's three-panel scatter draws these methods (and the direct-answer baseline's runs of
# them); every other method is drawn in the second figure, one panel per method.
BRIEF_METHODS = ("truncation", "budget_forcing", "class_conditional")
TICK_LABEL_GAP = 3.0  # display pixels kept free between two tick labels
PANEL_WIDTH = 5.5  # inches per panel of the brief's scatter
LEGEND_COLUMNS = 4  # a legend wraps into rows of at most this many entries
DATASET_MARKERS = {"math500": "o", "aime24": "^", "gpqa": "D"}


def series_name(model: str, method: str) -> str:
    """The registry's label of the method; other models are prefixed (``base/truncation``)."""
    label = get_method(method).label
    return label if model == "sft" else f"{model}/{label}"


def lead_model(models) -> str:
    """The model drawn in full colour: ``sft`` when it ran, else the first of the others by name
    (a run without a baseline model draws its only model in full colour, not a pale shade)."""
    models = sorted(set(models))
    return "sft" if "sft" in models else models[0]


def series_palette(pairs) -> dict:
    """{series name: colour} for (model, method) pairs: the method's registry colour for the lead
    model (:func:`lead_model`), lightened (one shade per model) for the others; direct answers
    get square markers."""
    pairs = list(pairs)
    lead = lead_model(model for model, _ in pairs) if pairs else None
    others = sorted({model for model, _ in pairs if model != lead})  # one shade per other model
    palette = {}
    for model, method in pairs:
        colour = get_method(method).colour
        palette[series_name(model, method)] = colour if model == lead else sns.light_palette(
            colour, len(others) + 2)[1 + others.index(model)]
    return palette


def brief_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of the brief's scatter: truncation, budget forcing, class-conditional, every model."""
    return runs[runs["method"].isin(BRIEF_METHODS)]


def other_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of every other method (the second figure)."""
    return runs[~runs["method"].isin(BRIEF_METHODS)]


def _marker(compute: str) -> str:
    return "s" if compute == "response" else "o"


def _save(figure, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight", metadata=PNG_METADATA)
    plt.close(figure)


def _palette(names) -> dict:
    colours = sns.color_palette("colorblind", n_colors=max(len(names), 3))
    return dict(zip(names, colours))


def _run_order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(_b=frame["budget"].map(budget_sort_key), _n=frame["n"]).sort_values(["_b", "_n", "setting"])


def _interval(frame: pd.DataFrame) -> list:
    """Accuracy error bars (percentage points below, above) from the run intervals."""
    return [((frame["accuracy"] - frame["accuracy_ci_low"]) * 100).clip(lower=0).to_numpy(),
            ((frame["accuracy_ci_high"] - frame["accuracy"]) * 100).clip(lower=0).to_numpy()]


def sample_range(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(lowest, highest) per-sample-index accuracy of each run (nan where k = 1, or in a runs
    table written before these columns existed)."""
    missing = pd.Series(float("nan"), index=frame.index)
    return (frame["accuracy_sample_min"] if "accuracy_sample_min" in frame else missing,
            frame["accuracy_sample_max"] if "accuracy_sample_max" in frame else missing)


def budget_ticks(ax, frame: pd.DataFrame) -> None:
    """Log x axis (base 2) with one labelled tick per numeric budget of the runs drawn; a
    linear axis when some run has no compute tokens (log would hide it)."""
    x = frame["compute_tokens_mean"]
    budgets = sorted({b for b in frame["budget"].map(numeric_budget) if b is not None and not math.isnan(b)})
    if len(x) and (x > 0).all():
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(NullLocator())
        if budgets:
            low, high = min(x.min(), budgets[0]), max(x.max(), budgets[-1])
            ax.set_xlim(low / 1.3, high * 1.3)
    if budgets:
        ax.xaxis.set_major_locator(FixedLocator(budgets))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def thin_tick_labels(figure) -> None:
    """On every axis with fixed (budget) ticks, keep a tick only where its label does not run into
    the last kept one (``TICK_LABEL_GAP`` pixels apart), so 128 and 160 never print as "128160".
    Run after the layout is final: widths are judged in display space."""
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        if not isinstance(ax.xaxis.get_major_locator(), FixedLocator):
            continue
        ticks = sorted(zip(ax.get_xticks(), ax.get_xticklabels()), key=lambda pair: pair[0])
        kept, last_right = [], -math.inf
        for value, label in ticks:
            box = label.get_window_extent(renderer)
            if box.x0 >= last_right + TICK_LABEL_GAP:
                kept.append(value)
                last_right = box.x1
        ax.xaxis.set_major_locator(FixedLocator(kept))


def overlapping_tick_labels(figure) -> list[tuple[str, str]]:
    """Pairs of visible x tick labels of one axis whose boxes overlap (drawn figure; for tests)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    pairs = []
    for ax in figure.axes:
        low, high = ax.get_xlim()
        labels = [label for value, label in zip(ax.get_xticks(), ax.get_xticklabels())
                  if min(low, high) <= value <= max(low, high) and label.get_text() and label.get_visible()]
        boxes = [(label.get_text(), label.get_window_extent(renderer)) for label in labels]
        pairs += [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]
    return pairs


def spread_labels(figure, annotations, step: float = LABEL_FONTSIZE + 1) -> None:
    """Move annotations up (in steps of ``step`` points) until none overlaps an earlier one.
    Run after the layout is final: overlap is judged in display space."""
    renderer = figure.canvas.get_renderer()
    placed = []
    for annotation in annotations:
        for _ in range(MAX_LABEL_SHIFTS):
            box = annotation.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            dx, dy = annotation.xyann
            annotation.xyann = (dx, dy + step)
        placed.append(annotation.get_window_extent(renderer))


def draw_scaling(runs: pd.DataFrame):
    """One panel per dataset; x = mean compute tokens (log2, ticks at the budgets), y = accuracy
    (%), one colour per method, a method's runs connected in budget order and labelled with
    their setting; thin bars: 95 % paired-bootstrap interval, thick bars: +- the standard
    deviation across the repeated samples (``generation.samples`` > 1), shaded band: the lowest
    to the highest per-sample accuracy of each run (k > 1)."""
    runs = runs.assign(x=runs["compute_tokens_mean"], y=runs["accuracy"] * 100,
                       series=[series_name(m, k) for m, k in zip(runs["model"], runs["method"])])
    datasets = [d for d in DATASET_ORDER if d in set(runs["dataset"])] or sorted(set(runs["dataset"]))
    names = sorted(runs["series"].unique())
    markers = {name: _marker(runs.loc[runs["series"] == name, "compute"].iloc[0]) for name in names}
    palette = series_palette(zip(runs["model"], runs["method"]))
    sns.set_theme(style="whitegrid", context="notebook")
    figure, axes = plt.subplots(1, len(datasets), figsize=(PANEL_WIDTH * len(datasets), 4.8), squeeze=False,
                                layout="constrained")
    annotations = []
    for ax, dataset in zip(axes[0], datasets):
        subset = runs[runs["dataset"] == dataset]
        for name in names:
            series = _run_order(subset[subset["series"] == name])
            if series.empty:
                continue
            ax.plot(series["x"], series["y"], "-", color=palette[name], alpha=0.6, linewidth=1.5)
            # thin: the run's 95 % interval; thick: +- the spread across repeated samples (k > 1)
            ax.errorbar(series["x"], series["y"], yerr=_interval(series), fmt="none", ecolor=palette[name],
                        elinewidth=1, capsize=3, alpha=0.8)
            spread = series["accuracy_sample_sd"].fillna(0) * 100
            if (spread > 0).any():
                ax.errorbar(series["x"], series["y"], yerr=spread.to_numpy(), fmt="none", ecolor=palette[name],
                            elinewidth=3, alpha=0.8)
            lowest, highest = sample_range(series)
            if lowest.notna().any():  # shaded: the lowest to the highest of the k samples' accuracies
                ax.fill_between(series["x"], lowest * 100, highest * 100, color=palette[name], alpha=0.15,
                                linewidth=0)
            sns.scatterplot(data=series, x="x", y="y", color=palette[name], ax=ax, s=55, marker=markers[name],
                            legend=False, zorder=3)
            for row in series.itertuples():
                annotations.append(ax.annotate(row.setting, (row.x, row.y), textcoords="offset points",
                                               xytext=(4, 5), fontsize=LABEL_FONTSIZE, color=palette[name],
                                               bbox=LABEL_BOX, zorder=5))
        samples = int(subset["samples"].max()) if len(subset) else 0
        ax.set_title(f"{DATASET_TITLES.get(dataset, dataset)} (n={samples})")
        ax.set_xlabel("mean compute tokens (log scale)")
        ax.set_ylabel("accuracy (%), 95 % interval")
        budget_ticks(ax, subset)
        ax.set_ylim(-3, 103)
    handles = [plt.Line2D([0], [0], marker=markers[n], color=palette[n], label=n) for n in names]
    # the note under the title: below the panels it would share its place with the legend
    figure.suptitle("Test-time scaling: accuracy vs. compute tokens\n"
                    + textwrap.fill(COMPUTE_NOTE, width=int(14 * PANEL_WIDTH * len(datasets))), fontsize=11)
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(names), LEGEND_COLUMNS), frameon=False)
    figure.canvas.draw()  # tick labels get their text and place (constrained layout)
    thin_tick_labels(figure)
    spread_labels(figure, annotations)
    return figure


def _text_figure(text: str):
    figure, ax = plt.subplots(figsize=(6, 1.6))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return figure


def scaling_figure(runs: pd.DataFrame, path: str | Path) -> None:
    """The brief's figure: truncation, budget forcing and class-conditional (with the baseline)."""
    chosen = brief_runs(runs)
    _save(draw_scaling(chosen) if len(chosen) else _text_figure(
        "No truncation, budget-forcing or class-conditional run."), path)


def draw_other_methods(runs: pd.DataFrame):
    """One panel per method not in the brief's figure (registry order): x = mean compute tokens
    (log2), y = accuracy (%) with its 95 % interval, one colour per dataset, one line style per
    model (the lead model solid); each run labelled with its setting. A text panel when no
    other method ran."""
    from workflow_scripts.methods import METHODS

    sns.set_theme(style="whitegrid", context="notebook")
    methods = [name for name in METHODS if name in set(runs["method"])]
    if not methods:
        return _text_figure("No method beyond truncation, budget forcing and class-conditional ran.")
    columns = min(len(methods), 3)
    rows = math.ceil(len(methods) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 3.7 * rows), squeeze=False,
                                layout="constrained")
    datasets = [d for d in DATASET_ORDER if d in set(runs["dataset"])] + sorted(set(runs["dataset"]) - set(DATASET_ORDER))
    colours = dict(zip(datasets, sns.color_palette("colorblind", n_colors=max(len(datasets), 3))))
    models = sorted(set(runs["model"]), key=lambda m: (m != lead_model(runs["model"]), m))
    styles = dict(zip(models, ("-", "--", ":", "-.") * len(models)))
    annotations = []
    for ax, method in zip(axes.flat, methods):
        subset = runs[runs["method"] == method]
        for (model, dataset), series in subset.groupby(["model", "dataset"], sort=False):
            series = _run_order(series).assign(x=lambda f: f["compute_tokens_mean"], y=lambda f: f["accuracy"] * 100)
            colour = colours[dataset]
            ax.errorbar(series["x"], series["y"], yerr=_interval(series), color=colour, linestyle=styles[model],
                        marker=DATASET_MARKERS.get(dataset, "o"), markersize=5, capsize=2, linewidth=1.3, alpha=0.9)
            for row in series.itertuples():
                annotations.append(ax.annotate(row.setting, (row.x, row.y), textcoords="offset points",
                                               xytext=(4, 4), fontsize=LABEL_FONTSIZE - 1, color=colour,
                                               bbox=LABEL_BOX, zorder=5))
        ax.set_title(get_method(method).label, fontsize=10)
        ax.set_xlabel("mean compute tokens", fontsize=9)
        ax.set_ylabel("accuracy (%), 95 % interval", fontsize=9)
        budget_ticks(ax, subset)
        ax.tick_params(labelsize=8)
        ax.set_ylim(-3, 108)
    for ax in axes.flat[len(methods):]:
        ax.axis("off")
    handles = [plt.Line2D([0], [0], color=colours[d], marker=DATASET_MARKERS.get(d, "o"), label=DATASET_TITLES.get(d, d))
               for d in datasets]
    if len(models) > 1:
        handles += [plt.Line2D([0], [0], color="grey", linestyle=styles[m], label=f"model {m}") for m in models]
    figure.suptitle("The other methods: accuracy vs. mean compute tokens (thinking; response for direct answers)",
                    fontsize=11)
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), LEGEND_COLUMNS + 2),
                  frameon=False, fontsize=9)
    figure.canvas.draw()  # tick labels get their text and place (constrained layout)
    thin_tick_labels(figure)
    spread_labels(figure, annotations, step=LABEL_FONTSIZE)
    return figure


def other_methods_figure(runs: pd.DataFrame, path: str | Path) -> None:
    """The second scaling figure: every method not in the brief's (see :func:`draw_other_methods`)."""
    _save(draw_other_methods(other_runs(runs)), path)


def method_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Per (model, dataset, method): best accuracy with its interval (from ``runs``) and, from
    ``metrics``, the least-squares Scaling per doubling with its 95 % interval and the one
    verdict (``scaling_verdict``)."""
    verdicts = metrics.set_index(METHOD_KEYS)
    rows = []
    for (model, dataset, method), group in runs.groupby(METHOD_KEYS, sort=True):
        if (model, dataset, method) not in verdicts.index:
            raise ValueError(f"metrics.tsv has no row for {model}/{method} on {dataset} (runs.tsv has its runs)")
        scaling = verdicts.loc[(model, dataset, method)]
        best = best_run(group)
        rows.append({"dataset": dataset, "series": series_name(model, method), "model": model, "method": method,
                     "runs": len(group),
                     "best_accuracy": best["accuracy"] * 100, "best_ci_low": best["accuracy_ci_low"] * 100,
                     "best_ci_high": best["accuracy_ci_high"] * 100,
                     "scaling_ls": float(scaling["scaling_ls"]), "scaling_ls_ci_low": float(scaling["scaling_ls_ci_low"]),
                     "scaling_ls_ci_high": float(scaling["scaling_ls_ci_high"]),
                     "scaling_verdict": scaling["scaling_verdict"]})
    return pd.DataFrame(rows)


VERDICT_MARKS = {RISES: "+", FALLS: "-", NO_DETECTABLE_SCALING: "0", NO_COMPUTE_SPREAD: "=", SINGLE_RUN: "1"}
VERDICT_LEGEND = ("bar marks: + rises, - falls, 0 no detectable scaling (interval holds zero), "
                  "= no compute spread, 1 single run")


def _grouped_bars(ax, table: pd.DataFrame, column: str, order: list[str], hue_order: list[str], palette: dict,
                  interval: tuple[str, str] | None = None, marks: str | None = None) -> None:
    """Bars per (dataset, series), side by side; a missing value is written "n/a" at 0;
    ``marks``: a column whose VERDICT_MARKS symbol is written above each bar."""
    width = 0.8 / max(len(hue_order), 1)
    for j, name in enumerate(hue_order):
        for i, dataset in enumerate(order):
            row = table[(table["dataset"] == dataset) & (table["series"] == name)]
            if row.empty:
                continue
            x = i + (j - (len(hue_order) - 1) / 2) * width
            value = float(row[column].iloc[0])
            mark = VERDICT_MARKS.get(row[marks].iloc[0], "") if marks else ""
            if math.isnan(value):  # no slope: "n/a" (after the verdict's mark), never a bar at 0
                ax.text(x, 0, f"{mark} {NOT_AVAILABLE}".strip(), ha="center", va="bottom", fontsize=LABEL_FONTSIZE,
                        color=palette[name], rotation=90)  # upright, it fits the width of a bar
                continue
            yerr, top = None, value
            if interval:
                low, high = float(row[interval[0]].iloc[0]), float(row[interval[1]].iloc[0])
                if not (math.isnan(low) or math.isnan(high)):
                    yerr = [[max(value - low, 0)], [max(high - value, 0)]]
                    top = max(high, value) if value >= 0 else min(low, value)
            ax.bar(x, value, width=width * 0.95, color=palette[name], yerr=yerr, capsize=3)
            if mark:
                ax.annotate(mark, (x, top), textcoords="offset points", xytext=(0, 3 if value >= 0 else -3),
                            ha="center", va="bottom" if value >= 0 else "top", fontsize=LABEL_FONTSIZE + 1)
    ax.set_xticks(range(len(order)), [DATASET_TITLES.get(d, d) for d in order])
    ax.set_xlim(-0.5, len(order) - 0.5)


CHANCE_LABEL = "chance: the most common gold answer"


def chance_lines(ax, runs: pd.DataFrame, order: list[str]) -> None:
    """A dashed line across each dataset's bars at its chance accuracy (``chance_accuracy`` of
    runs.tsv, from chance.tsv), labelled once; nothing for a runs table without it."""
    if "chance_accuracy" not in runs:
        return
    chance = runs.groupby("dataset")["chance_accuracy"].first()
    for i, dataset in enumerate(order):
        value = chance.get(dataset, float("nan"))
        if not math.isnan(value):
            ax.hlines(value * 100, i - 0.45, i + 0.45, colors="0.3", linestyles="dashed", linewidth=1,
                      label=CHANCE_LABEL if i == 0 else None)
    if chance.notna().any():
        ax.legend(loc="best", fontsize=LABEL_FONTSIZE, frameon=False)


def draw_methods(runs: pd.DataFrame, metrics: pd.DataFrame):
    """Per dataset and method: best accuracy with its 95 % interval and the dataset's chance line
    (left) and the least-squares
    Scaling in accuracy points per doubling of compute tokens with its 95 % paired-bootstrap
    interval (right), each bar marked with its ``scaling_verdict`` (the verdict of Table 3,
    the findings and failures.tsv); "n/a" where there is no slope."""
    table = method_table(runs, metrics)
    sns.set_theme(style="whitegrid", context="notebook")
    order = [d for d in DATASET_ORDER if d in set(table["dataset"])] + sorted(set(table["dataset"]) - set(DATASET_ORDER))
    hue_order = sorted(table["series"].unique())
    # One panel above the other, as wide as their bars need (about 0.3 inch a bar): no empty canvas.
    width = max(6.0, 0.3 * len(hue_order) * len(order) + 1.5)
    figure, axes = plt.subplots(2, 1, figsize=(width, 6.4), layout="constrained", sharex=True)
    palette = series_palette(zip(table["model"], table["method"]))
    _grouped_bars(axes[0], table, "best_accuracy", order, hue_order, palette, ("best_ci_low", "best_ci_high"))
    axes[0].set_ylabel("best accuracy (%)")
    axes[0].set_ylim(0, 105)
    chance_lines(axes[0], runs, order)
    _grouped_bars(axes[1], table, "scaling_ls", order, hue_order, palette,
                  ("scaling_ls_ci_low", "scaling_ls_ci_high"), marks="scaling_verdict")
    axes[1].set_ylabel("Scaling (points / doubling)")
    axes[1].axhline(0, color="black", linewidth=0.8)
    axes[1].margins(y=0.12)  # room for the verdict marks above the intervals
    handles = [plt.Rectangle((0, 0), 1, 1, color=palette[name], label=name) for name in hue_order]
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(hue_order), 4), frameon=False,
                  fontsize=LABEL_FONTSIZE + 1)
    figure.suptitle("Method comparison, 95 % intervals (Scaling: least-squares slope on log2 compute tokens)\n"
                    f"{VERDICT_LEGEND}",
                    fontsize=LABEL_FONTSIZE + 2)
    return figure


def methods_figure(runs: pd.DataFrame, metrics: pd.DataFrame, path: str | Path) -> None:
    _save(draw_methods(runs, metrics), path)


def failures_figure(runs: pd.DataFrame, failures: pd.DataFrame, path: str | Path) -> None:
    """One panel per detected case kind: the accuracy curves (95 % bootstrap bars) of the methods
    with an accuracy case, the token gain of forcing runs, the accuracy of forcing runs that
    hurt next to truncation at their budget, the share of looping samples."""
    kinds = [k for k in ("no_detectable_scaling", "scaling_falls", "no_compute_spread", "accuracy_drop", "accuracy_flat", "forcing_adds_no_tokens",
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
        if kind in ("no_detectable_scaling", "scaling_falls", "no_compute_spread", "accuracy_drop", "accuracy_flat"):
            keys = sorted(set(zip(cases["model"], cases["dataset"], cases["method"])))
            palette = _palette([f"{d}: {series_name(m, k)}" for m, d, k in keys])
            drawn = []
            for model, dataset, method in keys:
                label = f"{dataset}: {series_name(model, method)}"
                group = runs[(runs["model"] == model) & (runs["dataset"] == dataset) & (runs["method"] == method)]
                group = group.assign(x=group["compute_tokens_mean"]).sort_values("x")
                ax.errorbar(group["x"], group["accuracy"] * 100, yerr=_interval(group),
                            marker="o", capsize=3, color=palette[label], label=label)
                drawn.append(group)
            budget_ticks(ax, pd.concat(drawn))
            ax.set_xlabel(COMPUTE_AXIS)
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
