"""The verdicts of the analysis: their one spelling and the rules that give them.

``scaling_verdict`` (metrics.tsv) is the one verdict on a method's scaling. Table 3, the
findings table, ``failures.tsv`` and the method-comparison figure all read it, so they cannot
disagree. It is taken from the least-squares slope per doubling (``scaling_ls``) and its 95 %
paired-bootstrap interval; docs/metrics.md defines every column. Constants only and pure
functions: this module imports nothing of the package (no import cycles).
"""

from __future__ import annotations

import math

RISES = "rises"
FALLS = "falls"
NO_DETECTABLE_SCALING = "no detectable scaling"
NO_COMPUTE_SPREAD = "no compute spread"
SINGLE_RUN = "single run"
SCALING_VERDICTS = (RISES, FALLS, NO_DETECTABLE_SCALING, NO_COMPUTE_SPREAD, SINGLE_RUN)
# A method whose runs' mean compute tokens differ by less than this factor (max / min) has
# no compute axis to scale along: its slope would divide accuracy noise by a token gap of noise.
MIN_COMPUTE_SPREAD = 1.10

NO_DETECTABLE_DIFFERENCE = "no detectable difference"
BETTER = "{method} better"  # a paired method comparison whose interval excludes zero


def _finite(*values) -> bool:
    return all(v is not None and isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def interval_verdict(low: float, high: float) -> str:
    """RISES / FALLS when the interval excludes zero, NO_DETECTABLE_SCALING when it holds it
    (or when there is no interval: the data cannot tell a rise from a fall)."""
    if not _finite(low, high) or low <= 0 <= high:
        return NO_DETECTABLE_SCALING
    return RISES if low > 0 else FALLS


def scaling_verdict(runs: int, compute_spread: float, low: float, high: float) -> str:
    """The one verdict on a method's scaling: SINGLE_RUN (fewer than two runs with positive
    compute tokens), NO_COMPUTE_SPREAD (``compute_spread`` < MIN_COMPUTE_SPREAD), else the
    verdict of the least-squares slope's interval (``low``, ``high``)."""
    if runs < 2:
        return SINGLE_RUN
    if not (compute_spread >= MIN_COMPUTE_SPREAD):  # nan (no tokens at all) has no spread either
        return NO_COMPUTE_SPREAD
    return interval_verdict(low, high)


def difference_verdict(low: float, high: float, method_a: str, method_b: str) -> str:
    """A paired comparison b - a: "<b> better" / "<a> better" when the interval excludes zero."""
    if not _finite(low, high) or low <= 0 <= high:
        return NO_DETECTABLE_DIFFERENCE
    return BETTER.format(method=method_b if low > 0 else method_a)
