# The commands a newcomer needs:
#   make smoke      build the environment, run the whole DAG on the embedded default (CPU, minutes)
#   make test-data  download the real benchmark and tokenizer files the tests read (checksummed)
#   make test       build the environment, run the test suite
#   make docs       regenerate docs/config.md from the config schema
VENV ?= .venv
# Where the tests read real data (MATH500, AIME24, GPQA-Diamond, the Qwen2.5 tokenizer).
export S1_TEST_DATA ?= $(abspath $(CURDIR)/../shared/data)
SNAKEMAKE = $(VENV)/bin/snakemake
# Rules call `python -m workflow_scripts...`: the env's python must come first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export HF_HUB_OFFLINE ?= 1
export VLLM_CPU_KVCACHE_SPACE ?= 1
export VLLM_CPU_NUM_OF_RESERVED_CPU ?= 0
export VLLM_CPU_OMP_THREADS_BIND ?= 0-1

.PHONY: env smoke test test-data lint docs clean-smoke

env:
	bash scripts/setup_env.sh

smoke: env
	$(SNAKEMAKE) --profile profiles/smoke
	$(SNAKEMAKE) --profile profiles/smoke --report results/smoke/report.html

test-data: env
	$(VENV)/bin/python -m workflow_scripts.fetch_test_data --dest $(S1_TEST_DATA)

test: env
	$(VENV)/bin/python -m pytest

lint: env
	$(SNAKEMAKE) --lint
	$(SNAKEMAKE) --lint --profile profiles/smoke
	$(VENV)/bin/ruff check .
	$(VENV)/bin/snakefmt --check Snakefile rules

docs: env
	$(VENV)/bin/python -m workflow_scripts.config.reference --output docs/config.md

clean-smoke:
	rm -rf results/smoke
