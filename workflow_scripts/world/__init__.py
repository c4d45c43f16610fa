"""The embedded default's synthetic world: everything the smoke run needs, made locally.

``python -m workflow_scripts.world --settings JSON --seed 42 --out-dir DIR`` writes

- ``pool.jsonl``: the question pool in the s1 59K schema, with one planted row per
  curation filter (``summary.json`` maps row index -> expected drop reason);
- ``eval/math500.jsonl``, ``eval/aime24.jsonl``, ``eval/gpqa_diamond.csv``: evaluation
  sets in the real benchmarks' file formats;
- ``base_model/``: a tiny Qwen2ForCausalLM with a Qwen2.5-style tokenizer (Qwen2.5's
  special tokens and chat template), briefly trained on instruct-style chats;
- ``summary.json``: counts, planted rows, model size, build time.

All of it follows from the seed (byte-identical across builds). The task (task.py) is a
dial turned step by step, whose answer needs the whole written trace.
"""
