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

``raw`` submits the requests of a truncation run (100 MATH500 prompts of the project's think
format, thinking capped at ``--budget``, then the answer round: prompt + thinking + the capped
answer start, up to 1,024 tokens) as two ``LLM.generate`` calls, at the real config's engine
settings (the schema's defaults; ``--engine`` overrides some). ``project`` runs the project's
generation CLI on the same run and reads its job.json. ``--probes`` adds decode-rate probes: at
each context length C, as many sequences as the KV cache holds (at most ``max_num_seqs``) of C
random prompt tokens are prefilled (1 new token) and then decoded for ``PROBE_DECODE`` tokens; the
difference of the two timings is the decode time at that context and concurrency.
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
    settings = {**job_settings(load_config(REPO / "config.yaml"), ["truncation"]), **json.loads(args.generation)}
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


def cli(model: str, eval_dir: Path, configs: list[dict], settings: dict, limit: int, env=None) -> None:
    command = [sys.executable, "-m", "workflow_scripts.generation", "--model", model, "--model-name", "sft",
               "--prompt-format", "think", "--configs", json.dumps(configs), "--settings", json.dumps(settings),
               "--limits", json.dumps({"math500": limit}), "--eval-sets", str(Path(eval_dir) / "math500.jsonl"),
               "--seed", "42"]
    subprocess.run(command, check=True, cwd=REPO, env=env)


def project(args) -> dict:
    out = Path(args.work) / "project"
    settings = real_settings(args)
    started = time.perf_counter()
    cli(args.model, args.eval_dir, [{"method": "truncation", "setting": f"B{args.budget}", "out_dir": str(out)}],
        settings, args.limit)
    job = json.loads((out / "job.json").read_text())
    rounds = job.get("rounds", [])
    return {"engine": settings["engine"], "wall_s": round(time.perf_counter() - started, 1),
            "start_s": job["engine_start_s"], "generate_s": job["generate_s"], "generated_tokens": job["generated_tokens"],
            "tok_s": round(job["generated_tokens"] / job["generate_s"], 1), "rounds": rounds}


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
    trajectory = {"method": "trajectory", "setting": f"B{max(budgets)}-n0", "out_dir": str(work / "trajectory")}
    cut = [{"method": "truncation", "setting": f"B{b}", "out_dir": str(work / f"cut-B{b}"),
            "thinking_from": trajectory["out_dir"]} for b in budgets]
    scratch = [{"method": "truncation", "setting": f"B{b}", "out_dir": str(work / f"scratch-B{b}")} for b in budgets]
    timings = {}
    for name, configs in (("trajectory_group", [trajectory, *cut]), ("from_scratch", scratch)):
        started = time.perf_counter()
        cli(args.model, args.eval_dir, configs, settings, args.limit)
        timings[name] = round(time.perf_counter() - started, 1)
    return {"batch_invariant": os.environ.get("VLLM_BATCH_INVARIANT") == "1", "wall_s": timings,
            "runs": {f"B{b}": compare_shards(work / f"cut-B{b}" / "math500.jsonl", work / f"scratch-B{b}" / "math500.jsonl")
                     for b in budgets}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    model = sub.add_parser("model")
    model.add_argument("out", type=Path)
    model.add_argument("--tokenizer", type=Path, required=True)
    for name in ("raw", "project", "derived"):
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
    args = parser.parse_args(argv)
    if args.command == "model":
        result = build_model(args.out, args.tokenizer)
        print(json.dumps(result))
        return 0
    result = {"raw": raw, "project": project, "derived": derived}[args.command](args)
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
