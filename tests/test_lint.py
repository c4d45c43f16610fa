"""`snakemake --lint` reports nothing, for the real config and the smoke profile."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("extra", [[], ["--profile", "profiles/smoke"]], ids=["real", "smoke"])
def test_snakemake_lint_is_clean(repo_root, extra):
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", *extra], cwd=repo_root,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Lints for" not in output
    assert "Congratulations, your workflow is in a good condition!" in output
