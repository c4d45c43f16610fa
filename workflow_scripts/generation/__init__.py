"""The generation stage: test-time scaling with vLLM (truncation, budget forcing, class-conditional
control and the other registered methods).

The stage (CLI, resumable shards, method specs, thinking trajectories) sits on top of the
decoding core (:mod:`workflow_scripts.decoding`), the method registry
(:mod:`workflow_scripts.methods`) and the config (:mod:`workflow_scripts.config`).
"""
