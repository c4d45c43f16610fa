"""``python -m workflow_scripts.analysis {metrics,cost,plots,failures,examples,report}``: one command per analysis rule."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from workflow_scripts.analysis.tables import read_metrics, read_runs, write_tsv
from workflow_scripts.config.validate import complete_section
from workflow_scripts.errors import report_user_error
from workflow_scripts.io import parse_json_object

def _settings(text: str) -> dict:
    return parse_json_object(text, "--settings")


def _relative_base(graded_dir: str | None) -> Path | None:
    # Shards are named relative to the results folder (the parent of graded/).
    return Path(graded_dir).resolve().parent if graded_dir else None


def _resolve(paths: list[str]) -> list[Path]:
    return [Path(p).resolve() for p in paths]


def cmd_metrics(args) -> int:
    from workflow_scripts.analysis.bootstrap import PairedBootstrap, matched_budget_differences
    from workflow_scripts.analysis.metrics import (
        chance_table, load_graded, method_metrics, natural_stop_rows, run_table,
    )
    from workflow_scripts.analysis.voting import with_votes
    from workflow_scripts.grading.settings import grading_settings

    settings = _settings(args.settings)
    samples = load_graded(_resolve(args.graded), relative_to=_relative_base(args.graded_dir))
    if args.graded_dir:
        # Every graded shard on disk must be one the DAG asked for: none is silently left out.
        on_disk = {p.resolve() for p in Path(args.graded_dir).rglob("*.jsonl")}
        ignored = sorted(str(p) for p in on_disk - set(_resolve(args.graded)))
        if ignored:
            print(f"note: {len(ignored)} graded shard(s) on disk are not in this config's grid and are ignored: "
                  f"{ignored[:5]}", flush=True)
    # parallel runs: one run per vote size m; math-verify between answers under the grading's limit
    voted = with_votes(samples, grading_settings(settings.get("grading"))["verify_timeout_s"])
    boot = PairedBootstrap(voted)  # one resample of the questions per dataset, shared by every run
    runs = run_table(voted, boot)
    metrics = method_metrics(runs, voted, settings.get("generation"), boot)
    natural = natural_stop_rows(samples)
    out = Path(args.out_dir)
    write_tsv(runs, out / "runs.tsv")
    write_tsv(metrics, out / "metrics.tsv")
    write_tsv(matched_budget_differences(boot, runs), out / "paired_differences.tsv")
    write_tsv(natural, out / "natural_stop.tsv")
    write_tsv(chance_table(samples), out / "chance.tsv")
    print(f"{len(samples)} samples, {len(runs)} runs, {len(metrics)} methods -> {out}", flush=True)
    return 0


def cmd_cost(args) -> int:
    from workflow_scripts.analysis.cost import cost_from_files

    table = cost_from_files(args.generation, args.trajectories)
    write_tsv(table, args.output)
    total = table.iloc[-1]
    print(f"{int(total['samples'])} samples, {int(total['trajectories'])} trajectories: generated "
          f"{int(total['generated'])} tokens, minimum {int(total['minimum'])}, from scratch "
          f"{int(total['from_scratch'])} -> {args.output}", flush=True)
    return 0


def cmd_plots(args) -> int:
    from workflow_scripts.analysis.plots import methods_figure, other_methods_figure, scaling_figure

    runs = read_runs(args.runs)
    scaling_figure(runs, Path(args.scaling))
    other_methods_figure(runs, Path(args.others))
    methods_figure(runs, read_metrics(args.metrics), Path(args.methods))
    print(f"plots -> {args.scaling}, {args.others}, {args.methods}", flush=True)
    return 0


def cmd_failures(args) -> int:
    from workflow_scripts.analysis.failures import detect_failures
    from workflow_scripts.analysis.metrics import load_graded
    from workflow_scripts.analysis.plots import failures_figure

    runs = read_runs(args.runs)
    samples = load_graded(_resolve(args.graded), relative_to=_relative_base(args.graded_dir))
    failures = detect_failures(runs, samples, read_metrics(args.metrics))
    write_tsv(failures, args.table)
    failures_figure(runs, failures, Path(args.figure))
    print(f"{len(failures)} failure case(s) -> {args.table}, {args.figure}", flush=True)
    return 0


EXAMPLE_INDEX_COLUMNS = ["dataset", "model", "method", "setting", "kind", "id", "correct", "compute_tokens", "thinking_tokens",
                         "waits_inserted", "cap_hit", "shard"]


def cmd_examples(args) -> int:
    from workflow_scripts.analysis.examples import choose_examples, examples_markdown
    from workflow_scripts.analysis.metrics import load_graded
    from workflow_scripts.io import atomic_path

    per_kind = complete_section("report", _settings(args.settings))["examples_per_method"]
    samples = load_graded(_resolve(args.graded), keep_text=True, relative_to=_relative_base(args.graded_dir))
    examples = choose_examples(samples, per_kind=per_kind, seed=args.seed)
    with atomic_path(args.markdown) as tmp:
        tmp.write_text(examples_markdown(examples, seed=args.seed), encoding="utf-8")
    write_tsv(examples[EXAMPLE_INDEX_COLUMNS] if len(examples) else pd.DataFrame(columns=EXAMPLE_INDEX_COLUMNS),
              args.index)
    print(f"{len(examples)} examples -> {args.markdown}, {args.index}", flush=True)
    return 0


def cmd_report(args) -> int:
    from workflow_scripts.analysis.report import render_report

    inputs = parse_json_object(args.inputs, "--inputs")
    config = parse_json_object(args.config_json, "--config-json")
    text = render_report(inputs, Path(args.template), config, Path(args.output))
    print(f"report: {len(text.splitlines())} lines -> {args.output}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.analysis")
    sub = parser.add_subparsers(dest="command", required=True)
    metrics = sub.add_parser("metrics", help="runs.tsv, metrics.tsv, natural_stop.tsv, paired_differences.tsv, chance.tsv "
                             "from graded shards")
    metrics.add_argument("--graded", nargs="+", required=True)
    metrics.add_argument("--settings", required=True, help='JSON: {"generation": ..., "eval_sets": ...}')
    metrics.add_argument("--graded-dir", help="graded/ folder: shard paths are reported relative to its parent")
    metrics.add_argument("--out-dir", required=True)
    metrics.set_defaults(func=cmd_metrics)
    cost = sub.add_parser("cost", help="cost.tsv: generated vs minimum vs from-scratch engine tokens")
    cost.add_argument("--generation", nargs="+", required=True, help="generation shards (.jsonl)")
    cost.add_argument("--trajectories", nargs="*", default=[],
                      help="trajectory shards of generation.reuse_thinking (none when it is off)")
    cost.add_argument("--output", required=True, help="cost.tsv")
    cost.set_defaults(func=cmd_cost)
    plots = sub.add_parser("plots", help="scaling.png, scaling_other_methods.png and methods.png from runs.tsv "
                           "and metrics.tsv")
    plots.add_argument("--runs", required=True)
    plots.add_argument("--metrics", required=True, help="metrics.tsv (the Scaling and its verdict per method)")
    plots.add_argument("--scaling", required=True, help="accuracy vs thinking tokens: the brief's methods (png)")
    plots.add_argument("--others", required=True, help="accuracy vs thinking tokens: every other method (png)")
    plots.add_argument("--methods", required=True, help="methods compared (png)")
    plots.set_defaults(func=cmd_plots)
    failures = sub.add_parser("failures", help="where scaling fails: failures.tsv and its figure")
    failures.add_argument("--runs", required=True)
    failures.add_argument("--metrics", required=True, help="metrics.tsv (Scaling intervals for the failure cases)")
    failures.add_argument("--graded", nargs="+", required=True)
    failures.add_argument("--graded-dir", help="graded/ folder: shard paths are reported relative to its parent")
    failures.add_argument("--table", required=True, help="failures.tsv")
    failures.add_argument("--figure", required=True, help="failures.png")
    failures.set_defaults(func=cmd_failures)
    examples = sub.add_parser("examples", help="example traces: examples.md and its index examples.tsv")
    examples.add_argument("--graded", nargs="+", required=True)
    examples.add_argument("--graded-dir", help="graded/ folder: shard paths are reported relative to its parent")
    examples.add_argument("--settings", required=True, help="JSON: the config's report section")
    examples.add_argument("--seed", type=int, default=42)
    examples.add_argument("--markdown", required=True, help="examples.md")
    examples.add_argument("--index", required=True, help="examples.tsv")
    examples.set_defaults(func=cmd_examples)
    report = sub.add_parser("report", help="REPORT.md from the template and the analysis outputs")
    report.add_argument("--inputs", required=True,
                        help="JSON {name: path} of every file the report reads (the rule's inputs; jobs: a list)")
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
        return report_user_error(error)
