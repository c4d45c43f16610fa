"""Generation on a real GPU: start-up, throughput against raw vLLM, engine settings, and the
decode rates the real grid's GPU-hours are computed from (``benchmarks/grid_gpu_hours.py``).

Runs on the lent H100/H200 with the CUDA vLLM kit (../shared/gpu/README.md), on a
Qwen2.5-3B-shaped model with random bf16 weights (the published shape, so memory, KV cache and
step times are the real model's; random weights never stop, so every thinking run reaches its cap).
Each subcommand is one process and at most one engine, so start-up is measured from cold:

    python benchmarks/gpu_generation.py model OUT --tokenizer DIR      # the 3B-shaped model
    python benchmarks/gpu_generation.py raw --model M --eval-dir D --out R.json [--engine JSON] [--probes]
    python benchmarks/gpu_generation.py project --model M --eval-dir D --out R.json [--engine JSON]
    python benchmarks/gpu_generation.py derived --model M --eval-dir D --out R.json   # derived vs from scratch
    python benchmarks/gpu_generation.py grid --model M --eval-dir D --out R.json      # the grid: merged vs separate
    python benchmarks/gpu_generation.py replay --model M --eval-dir D --out R.json    # raw vLLM on grid's calls

``raw`` submits the requests of a truncation run (100 MATH500 prompts of the project's think
format, thinking capped at ``--budget``, then the answer round: prompt + thinking + the capped
answer start, up to 1,024 tokens) as two ``LLM.generate`` calls, at the real config's engine
settings (the schema's defaults; ``--engine`` overrides some). ``project`` runs the project's
generation CLI on the same run and reads its job.json. ``--probes`` adds decode-rate probes: at
each context length C, as many sequences as the KV cache holds (at most ``max_num_seqs``) of C
random prompt tokens are prefilled (1 new token) and then decoded for ``PROBE_DECODE`` tokens; the
difference of the two timings is the decode time at that context and concurrency.
``grid`` runs every run of the real config (both models) at a reduced scale (``GRID_SCALE``,
``GRID_QUESTIONS``) on one engine, merged as the generate job runs them and separately as each
run ran before issue 22 (engine start-ups are counted apart: ``start_s``); ``replay`` submits the
merged calls to raw vLLM, the 0.9x throughput reference.
``derived`` runs a trajectory group (the trajectory and truncation runs cut from it) and the same
truncation runs from scratch through the CLI, then counts the samples and tokens that differ.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workflow_scripts.config import job_settings, load_config  # noqa: E402
from workflow_scripts.config.validate import engine_settings  # noqa: E402
from workflow_scripts.decoding.prompts import FormatTokens, prompt_ids  # noqa: E402
from workflow_scripts.io import read_jsonl, write_json  # noqa: E402

# Qwen/Qwen2.5-3B-Instruct's config.json (the published shape).
QWEN25_3B = dict(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                 num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=32768,
                 rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
                 sliding_window=32768, max_window_layers=70, hidden_act="silu", bos_token_id=151643,
                 eos_token_id=151645)
# (context, sequences) of the decode probes: short to full contexts, few to many sequences, about
# 0.5 M prompt tokens each, so step time can be fitted as a + b N + c (N x context) (grid_gpu_hours.py).
PROBES = ((1024, 256), (1024, 64), (4096, 128), (8192, 64), (16384, 32), (31744, 16), (31744, 48))
PROBE_DECODE = 256


def build_model(out: Path, tokenizer_dir: Path) -> dict:
    import shutil

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    started = time.perf_counter()
    torch.manual_seed(42)
    config = Qwen2Config(**QWEN25_3B, torch_dtype="bfloat16")
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out)
    for f in Path(tokenizer_dir).iterdir():
        shutil.copy(f, out / f.name)
    (out / "generation_config.json").unlink(missing_ok=True)  # no sampling defaults from the model
    return {"parameters": sum(p.numel() for p in model.parameters()), "seconds": round(time.perf_counter() - started, 1)}


def real_settings(args) -> dict:
    """The real config's generation settings (config.yaml, schema defaults), with ``--engine`` and
    ``--generation`` overrides (the latter only for a quick check with a tiny model)."""
    settings = {**job_settings(load_config(REPO / "config.yaml")["generation"], ["truncation"]),
                **json.loads(args.generation)}
    settings["engine"] = engine_settings({**settings["engine"], **json.loads(args.engine)})
    return settings


def math_records(eval_dir: Path, limit: int) -> list[dict]:
    return read_jsonl(Path(eval_dir) / "math500.jsonl")[:limit]


def _kv_tokens(llm) -> int | None:
    try:
        cache = llm.llm_engine.vllm_config.cache_config
        return int(cache.num_gpu_blocks) * int(cache.block_size)
    except (AttributeError, TypeError):
        return None


def raw(args) -> dict:
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    settings = real_settings(args)
    engine = settings["engine"]
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    tokens = FormatTokens.from_tokenizer(tokenizer, args.model)
    prompts = [prompt_ids(tokenizer, r) for r in math_records(args.eval_dir, args.limit)]
    started = time.perf_counter()
    llm = LLM(model=args.model, tokenizer=args.model, seed=42, **engine)
    result = {"engine": engine, "start_s": round(time.perf_counter() - started, 1), "kv_cache_tokens": _kv_tokens(llm),
              "max_num_seqs": llm.llm_engine.vllm_config.scheduler_config.max_num_seqs}

    # the project's requests exactly: greedy, its stop ids, and -inf on the embedding's padding rows
    padding_bias = {i: float("-inf") for i in range(len(tokenizer), llm.llm_engine.model_config.get_vocab_size())}

    def timed(prompt_lists, max_tokens, stops):
        params = SamplingParams(temperature=0.0, max_tokens=max_tokens, stop_token_ids=list(stops),
                                skip_special_tokens=False, detokenize=False, logit_bias=padding_bias or None)
        t0 = time.perf_counter()
        outs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompt_lists], params, use_tqdm=False)
        seconds = time.perf_counter() - t0
        ids = [list(o.outputs[0].token_ids) for o in outs]
        return ids, {"prompts": len(ids), "tokens": sum(map(len, ids)), "seconds": round(seconds, 2),
                     "tok_s": round(sum(map(len, ids)) / seconds, 1)}

    thinking, result["thinking_round"] = timed(prompts, args.budget, tokens.thinking_stops)
    answers = [p + [t for t in th if t not in tokens.thinking_stops] + list(tokens.capped_answer_start)
               for p, th in zip(prompts, thinking)]
    _, result["answer_round"] = timed(answers, settings["answer_max_tokens"], tokens.answer_stops)
    rounds = (result["thinking_round"], result["answer_round"])
    result["overall_tok_s"] = round(sum(r["tokens"] for r in rounds) / sum(r["seconds"] for r in rounds), 1)
    if args.probes:
        result["probes"] = probes(llm, timed, tokenizer, result["kv_cache_tokens"], result["max_num_seqs"],
                                  engine["max_model_len"])
    return result


def probes(llm, timed, tokenizer, kv_tokens: int | None, max_num_seqs: int, max_model_len: int) -> list[dict]:
    """Decode rate at each context length, with as many sequences as fit (see the module docstring)."""
    rng = random.Random(42)
    rows = []
    for context, wanted in PROBES:
        if context + PROBE_DECODE + 1 > max_model_len:
            continue
        fit = (kv_tokens or 0) // (context + PROBE_DECODE + 16)
        sequences = max(1, min(max_num_seqs, fit, wanted))
        prompts = [[rng.randrange(len(tokenizer)) for _ in range(context)] for _ in range(sequences)]
        _, prefill = timed(prompts, 1, [])
        _, whole = timed(prompts, PROBE_DECODE + 1, [])
        decode_s = whole["seconds"] - prefill["seconds"]
        rows.append({"context": context, "sequences": sequences, "prefill_s": prefill["seconds"],
                     "prefill_tok_s": round(sequences * context / prefill["seconds"], 1),
                     "decode_tokens": sequences * PROBE_DECODE, "decode_s": round(decode_s, 2),
                     "decode_tok_s": round(sequences * PROBE_DECODE / decode_s, 1),
                     "step_ms": round(1000 * decode_s / PROBE_DECODE, 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def cli(model: str, eval_dir: Path, runs: list[dict], settings: dict, limit: int, work: Path, env=None) -> dict:
    """The project's generate job (``samples``) on MATH500's first ``limit`` questions; its manifest."""
    command = [sys.executable, "-m", "workflow_scripts.generation", "samples", "--model", model, "--model-name", "sft",
               "--prompt-format", "think", "--runs", json.dumps(runs), "--settings", json.dumps(settings),
               "--limits", json.dumps({"math500": limit}), "--eval-sets", str(Path(eval_dir) / "math500.jsonl"),
               "--seed", "42", "--store", str(work / "store"), "--manifest", str(work / "manifest.json")]
    subprocess.run(command, check=True, cwd=REPO, env=env)
    return json.loads((work / "manifest.json").read_text())


def project(args) -> dict:
    settings = real_settings(args)
    started = time.perf_counter()
    job = cli(args.model, args.eval_dir, [{"method": "truncation", "setting": f"B{args.budget}"}], settings, args.limit,
              Path(args.work) / "project")
    return {"engine": settings["engine"], "wall_s": round(time.perf_counter() - started, 1),
            "start_s": job["engine_start_s"], "generate_s": job["generate_s"], "generated_tokens": job["generated_tokens"],
            "tok_s": round(job["generated_tokens"] / job["generate_s"], 1), "calls": job["engine_calls"]}


def compare_shards(a: Path, b: Path) -> dict:
    """Samples and token positions where two shards of one run differ (thinking, then answer)."""
    left = {(r["id"], r.get("sample", 0)): r for r in read_jsonl(a)}
    right = {(r["id"], r.get("sample", 0)): r for r in read_jsonl(b)}
    differing_samples = differing_tokens = compared = 0
    for key in left.keys() & right.keys():
        compared += 1
        differ = 0
        for field in ("thinking_token_ids", "answer_token_ids"):
            x, y = left[key].get(field) or [], right[key].get(field) or []
            differ += sum(1 for i, j in zip(x, y) if i != j) + abs(len(x) - len(y))
        differing_samples += differ > 0
        differing_tokens += differ
    return {"samples": compared, "differing_samples": differing_samples, "differing_tokens": differing_tokens}


def derived(args) -> dict:
    """Truncation at the budgets below, cut from one trajectory vs thought from scratch."""
    budgets = [int(b) for b in args.budgets.split(",")]
    settings = real_settings(args)
    settings["truncation"] = {}
    work = Path(args.work) / ("derived-bi" if os.environ.get("VLLM_BATCH_INVARIANT") == "1" else "derived")
    trajectory = f"B{max(budgets)}-n0"
    cut = [{"method": "truncation", "setting": f"B{b}", "thinking_from": trajectory} for b in budgets]
    scratch = [{"method": "truncation", "setting": f"B{b}"} for b in budgets]
    timings = {}
    for name, runs in (("trajectory_group", [{"method": "trajectory", "setting": trajectory}, *cut]),
                       ("from_scratch", scratch)):
        started = time.perf_counter()
        cli(args.model, args.eval_dir, runs, settings, args.limit, work / name)
        timings[name] = round(time.perf_counter() - started, 1)
    return {"batch_invariant": os.environ.get("VLLM_BATCH_INVARIANT") == "1", "wall_s": timings,
            "runs": {f"B{b}": compare_shards(*(work / name / "store" / "truncation" / f"B{b}" / "math500.jsonl"
                                               for name in timings)) for b in budgets}}


# The real grid's shape at a scale one device call holds: every run of config.yaml for both
# models (methods, budgets, n, prompts, tries, k), with token lengths cut 16x (context 2,048,
# budgets / 16, answer 64) and the first GRID_QUESTIONS questions of each eval set (so grid, and replay,
# fit one 10-minute device call on an H100).
GRID_SCALE = 16
GRID_QUESTIONS = 15


def scaled_grid_config(questions: int = GRID_QUESTIONS, factor: int = GRID_SCALE) -> dict:
    from workflow_scripts.config import complete_config, merge_configs

    real = load_config(REPO / "config.yaml")
    generation = real["generation"]

    def scaled(budgets):
        return [b if b == "unbounded" else max(1, int(b) // factor) for b in budgets]

    overlay = {"generation": {
        "engine": {"max_model_len": generation["engine"]["max_model_len"] // factor},
        "answer_reserve_tokens": generation["answer_reserve_tokens"] // factor,
        "answer_max_tokens": generation["answer_max_tokens"] // factor,
        **{m: {"budgets": scaled(generation[m]["budgets"])} for m in (
            "truncation", "token_conditional", "token_conditional_forcing", "rejection_sampling")},
        "budget_forcing": {"budgets": scaled(generation["budget_forcing"]["budgets"])},
        **{m: {"tokens_per_step": max(1, generation[m]["tokens_per_step"] // factor)}
           for m in ("step_conditional", "step_conditional_forcing")},
    }, "eval_sets": {name: {"limit": questions} for name in real["eval_sets"]}}
    merged = merge_configs(real, overlay)
    merged["generation"]["budget_forcing"]["n"] = {  # keys are budgets: scaled with them (a merge would keep both)
        key if key in ("default", "unbounded") else str(max(1, int(key) // factor)): n
        for key, n in generation["budget_forcing"]["n"].items()}
    return complete_config(merged)


def grid(args) -> dict:
    """Every run of the scaled grid on one engine per model, twice: merged (each engine call
    carries every pending run's round, as the generate job does) and separate (each run alone,
    one after the other, as before issue 22); the merged calls are saved for ``replay``."""
    import pickle

    from workflow_scripts.config import generation_runs, job_settings as settings_of, model_entry
    from workflow_scripts.decoding.dtype import resolve_dtype
    from workflow_scripts.generation.inputs import check_settings
    from workflow_scripts.generation.samples import generate_missing, open_runs, start_engine

    config = scaled_grid_config(args.questions, args.scale)
    runs_by_model = generation_runs(config)
    eval_sets = [str(Path(args.eval_dir) / f"{name}.jsonl") for name in config["eval_sets"]]
    limits = {name: section["limit"] for name, section in config["eval_sets"].items()}
    methods = dict.fromkeys(m for runs in runs_by_model.values() for run in runs for m in run.methods)
    settings = check_settings(settings_of(config["generation"], methods))
    settings["engine"] = engine_settings({**settings["engine"], **json.loads(args.engine)})
    settings["engine"]["dtype"], _ = resolve_dtype(settings["engine"]["dtype"])
    started = time.perf_counter()
    ctx = start_engine(argparse.Namespace(model=args.model, seed=42), settings["engine"], settings)
    result = {"engine": settings["engine"], "start_s": round(time.perf_counter() - started, 1),
              "questions_per_set": args.questions, "scale": args.scale,
              "runs": {model: len(runs) for model, runs in runs_by_model.items()}, "modes": {}}
    engine = ctx.engine
    ctx.engine.generate([[1, 2, 3]] * 8, [16] * 8, [])  # warm-up: the first call's one-off costs
    recorded = []
    generate_many = engine.generate_many

    def recording(rounds):
        recorded.append([dict(prompts=[list(p) for p in r.prompts], max_tokens=list(r.max_tokens),
                              stop_ids=list(r.stop_ids), temperature=r.temperature, top_p=r.top_p,
                              seeds=list(r.seeds) if r.seeds is not None else None) for r in rounds])
        return generate_many(rounds)

    for mode in ("merged", "separate"):
        engine.generate_many = recording if mode == "merged" else generate_many
        calls_before, tokens_before = engine.stats.calls, engine.stats.generated_tokens
        mode_started = time.perf_counter()
        per_model = {}
        for model, runs in runs_by_model.items():
            job = argparse.Namespace(model=args.model, model_name=model, prompt_format=model_entry(config, model).format,
                                     runs=json.dumps([r.as_dict() for r in runs]), seed=42, eval_sets=eval_sets,
                                     store=str(Path(args.work) / "grid" / mode / model))
            planned, pending = open_runs(job, settings, settings["engine"], limits, (1, 1))
            model_started = time.perf_counter()
            generate_missing(planned, pending, ctx, 512, together=mode == "merged")
            per_model[model] = round(time.perf_counter() - model_started, 1)
        seconds = time.perf_counter() - mode_started
        tokens = engine.stats.generated_tokens - tokens_before
        result["modes"][mode] = {"generation_s": round(seconds, 1), "per_model_s": per_model, "generated_tokens": tokens,
                                 "tok_s": round(tokens / seconds, 1), "engine_calls": engine.stats.calls - calls_before}
        print(json.dumps({mode: result["modes"][mode]}), flush=True)
        write_json(args.out, result)  # what is measured so far survives a timeout
        if mode == "merged":
            engine.generate_many = generate_many
            with open(Path(args.work) / "grid_calls.pkl", "wb") as handle:
                pickle.dump(recorded, handle)
    return result


def replay(args) -> dict:
    """Raw vLLM on the merged mode's calls (``grid``): one ``LLM.generate`` per call, the same
    prompts, limits, stops and seeds, no project code around it."""
    import pickle

    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    with open(Path(args.work) / "grid_calls.pkl", "rb") as handle:
        calls = pickle.load(handle)
    engine = engine_settings({**scaled_grid_config(args.questions, args.scale)["generation"]["engine"],
                              **json.loads(args.engine)})
    if engine["dtype"] == "auto":
        engine["dtype"] = "bfloat16"
    started = time.perf_counter()
    llm = LLM(model=args.model, tokenizer=args.model, seed=42, **engine)
    start_s = time.perf_counter() - started
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    padding = {i: float("-inf") for i in range(len(tokenizer), llm.llm_engine.model_config.get_vocab_size())} or None
    llm.generate([TokensPrompt(prompt_token_ids=[1, 2, 3])] * 8, SamplingParams(max_tokens=16), use_tqdm=False)
    tokens, generate_s = 0, 0.0
    for call in calls:
        prompts, params = [], []
        for r in call:
            for i, (ids, limit) in enumerate(zip(r["prompts"], r["max_tokens"])):
                prompts.append(TokensPrompt(prompt_token_ids=ids))
                params.append(SamplingParams(temperature=r["temperature"], top_p=r["top_p"], max_tokens=limit,
                                             stop_token_ids=r["stop_ids"], skip_special_tokens=False,
                                             seed=r["seeds"][i] if r["seeds"] is not None else 42, detokenize=False,
                                             logit_bias=padding))
        t0 = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        generate_s += time.perf_counter() - t0
        tokens += sum(len(o.outputs[0].token_ids) for o in outputs)
    return {"engine": engine, "start_s": round(start_s, 1), "calls": len(calls), "generated_tokens": tokens,
            "generate_s": round(generate_s, 1), "tok_s": round(tokens / generate_s, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    model = sub.add_parser("model")
    model.add_argument("out", type=Path)
    model.add_argument("--tokenizer", type=Path, required=True)
    for name in ("raw", "project", "derived", "grid", "replay"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--eval-dir", type=Path, required=True)
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--engine", default="{}", help="engine overrides as JSON, e.g. '{\"enforce_eager\": true}'")
        p.add_argument("--generation", default="{}", help="other generation settings as JSON (tiny-model checks)")
        p.add_argument("--limit", type=int, default=100)
        p.add_argument("--budget", type=int, default=4000)
        p.add_argument("--work", default="/tmp/gpu-bench")
        p.add_argument("--probes", action="store_true")
        p.add_argument("--budgets", default="256,512")
        p.add_argument("--questions", type=int, default=GRID_QUESTIONS, help="grid: questions per eval set")
        p.add_argument("--scale", type=int, default=GRID_SCALE, help="grid: token lengths divided by this")
    args = parser.parse_args(argv)
    if args.command == "model":
        result = build_model(args.out, args.tokenizer)
        print(json.dumps(result))
        return 0
    result = {"raw": raw, "project": project, "derived": derived, "grid": grid, "replay": replay}[args.command](args)
    import torch
    import vllm

    result["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    result["vllm"] = vllm.__version__
    result["torch"] = torch.__version__
    write_json(args.out, result)
    print(json.dumps(result, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
