"""``python -m workflow_scripts.analysis {metrics,plots,report}``: the three analysis rules."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from workflow_scripts.config.validate import complete_section
from workflow_scripts.io import parse_json_object

TSV_FLOAT = "%.6g"


def write_tsv(frame: pd.DataFrame, path: str | Path) -> None:
    from workflow_scripts.io import atomic_path

    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format=TSV_FLOAT, lineterminator="\n")


RUN_COLUMNS = ("model", "dataset", "method", "setting", "budget", "n", "samples", "correct", "accuracy",
               "accuracy_sample_sd", "accuracy_ci_low", "accuracy_ci_high", "thinking_tokens_mean",
               "answer_tokens_mean", "waits_mean")


def read_runs(path: str | Path) -> pd.DataFrame:
    """runs.tsv with budget and setting kept as text ("500", "unbounded", "")."""
    runs = pd.read_csv(path, sep="\t", dtype={"budget": str, "setting": str}, keep_default_na=False,
                       na_values={c: [""] for c in ("exceed_share", "within_budget_share", "accuracy_sample_sd")})
    missing = [c for c in RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise ValueError(f"{path}: not a runs table, missing column(s) {', '.join(missing)}")
    return runs


def read_metrics(path: str | Path) -> pd.DataFrame:
    """metrics.tsv with settings and verdicts kept as text ("" where empty)."""
    text_columns = ("settings", "max_accuracy_setting", "scaling_verdict", "control_note")
    metrics = pd.read_csv(path, sep="\t", dtype={c: str for c in text_columns})
    missing = [c for c in ("model", "dataset", "method", "scaling_verdict") if c not in metrics.columns]
    if missing:
        raise ValueError(f"{path}: not a metrics table, missing column(s) {', '.join(missing)}")
    return metrics.fillna({c: "" for c in text_columns})


def _settings(text: str) -> dict:
    return parse_json_object(text, "--settings")


def _relative_base(graded_dir: str | None) -> Path | None:
    # Shards are named relative to the results folder (the parent of graded/).
    return Path(graded_dir).resolve().parent if graded_dir else None


def _resolve(paths: list[str]) -> list[Path]:
    return [Path(p).resolve() for p in paths]


def cmd_metrics(args) -> int:
    from workflow_scripts.analysis.bootstrap import PairedBootstrap, matched_budget_differences
    from workflow_scripts.analysis.metrics import load_graded, method_metrics, natural_stop_rows, run_table

    settings = _settings(args.settings)
    samples = load_graded(_resolve(args.graded), relative_to=_relative_base(args.graded_dir))
    if args.graded_dir:
        # Every graded shard on disk must be one the DAG asked for: none is silently left out.
        on_disk = {p.resolve() for p in Path(args.graded_dir).rglob("*.jsonl")}
        ignored = sorted(str(p) for p in on_disk - set(_resolve(args.graded)))
        if ignored:
            print(f"note: {len(ignored)} graded shard(s) on disk are not in this config's grid and are ignored: "
                  f"{ignored[:5]}", flush=True)
    boot = PairedBootstrap(samples)  # one resample of the questions per dataset, shared by every run
    runs = run_table(samples, boot)
    metrics = method_metrics(runs, samples, settings.get("generation"), boot)
    natural = natural_stop_rows(samples)
    out = Path(args.out_dir)
    write_tsv(runs, out / "runs.tsv")
    write_tsv(metrics, out / "metrics.tsv")
    write_tsv(matched_budget_differences(boot, runs), out / "paired_differences.tsv")
    write_tsv(natural, out / "natural_stop.tsv")
    print(f"{len(samples)} samples, {len(runs)} runs, {len(metrics)} methods -> {out}", flush=True)
    return 0


def cmd_plots(args) -> int:
    from workflow_scripts.analysis.examples import choose_examples, examples_markdown
    from workflow_scripts.analysis.failures import detect_failures
    from workflow_scripts.analysis.metrics import load_graded
    from workflow_scripts.analysis.plots import failures_figure, methods_figure, scaling_figure

    settings = _settings(args.settings)
    out = Path(args.out_dir)
    runs = read_runs(args.runs)
    metrics = read_metrics(args.metrics)
    base = out.resolve().parent
    samples = load_graded(_resolve(args.graded), keep_text=True, relative_to=base)
    scaling_figure(runs, out / "scaling.png")
    methods_figure(runs, out / "methods.png")
    failures = detect_failures(runs, samples, metrics)
    write_tsv(failures, out / "failures.tsv")
    failures_figure(runs, failures, out / "failures.png")
    per_kind = complete_section("report", settings)["examples_per_method"]
    examples = choose_examples(samples, per_kind=per_kind, seed=args.seed)
    from workflow_scripts.io import atomic_path

    with atomic_path(out / "examples.md") as tmp:
        tmp.write_text(examples_markdown(examples, seed=args.seed), encoding="utf-8")
    index_columns = ["dataset", "model", "method", "setting", "kind", "id", "correct", "thinking_tokens",
                     "waits_inserted", "cap_hit", "shard"]
    write_tsv(examples[index_columns] if len(examples) else pd.DataFrame(columns=index_columns),
              out / "examples.tsv")
    print(f"plots, {len(failures)} failure case(s), {len(examples)} examples -> {out}", flush=True)
    return 0


def cmd_report(args) -> int:
    from workflow_scripts.analysis.report import render_report

    config = _settings(args.config_json)
    text = render_report(Path(args.results), Path(args.template), config, Path(args.output))
    print(f"report: {len(text.splitlines())} lines -> {args.output}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.analysis")
    sub = parser.add_subparsers(dest="command", required=True)
    metrics = sub.add_parser("metrics", help="runs.tsv, metrics.tsv, natural_stop.tsv, paired_differences.tsv "
                             "from graded shards")
    metrics.add_argument("--graded", nargs="+", required=True)
    metrics.add_argument("--settings", required=True, help='JSON: {"generation": ..., "eval_sets": ...}')
    metrics.add_argument("--graded-dir", help="graded/ folder: shard paths are reported relative to its parent")
    metrics.add_argument("--out-dir", required=True)
    metrics.set_defaults(func=cmd_metrics)
    plots = sub.add_parser("plots", help="scaling/methods/failures figures, failures.tsv, examples")
    plots.add_argument("--runs", required=True)
    plots.add_argument("--metrics", required=True, help="metrics.tsv (Scaling intervals for the failure cases)")
    plots.add_argument("--graded", nargs="+", required=True)
    plots.add_argument("--settings", required=True, help="JSON: the config's report section")
    plots.add_argument("--seed", type=int, default=42)
    plots.add_argument("--out-dir", required=True)
    plots.set_defaults(func=cmd_plots)
    report = sub.add_parser("report", help="REPORT.md from the template and the analysis outputs")
    report.add_argument("--results", required=True)
    report.add_argument("--template", required=True)
    report.add_argument("--config-json", required=True)
    report.add_argument("--output", required=True)
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
