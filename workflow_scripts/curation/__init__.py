"""Curation: the 59K pool -> quality, decontamination, dedup, difficulty -> a diverse 1K set.

``run_curation`` is the whole stage; each filter lives in its own module and is tested alone.
"""

from workflow_scripts.curation.errors import CurationError
from workflow_scripts.curation.pipeline import STAGES, CurationResult, run_curation
from workflow_scripts.curation.summary import REASONS

__all__ = ["CurationError", "CurationResult", "REASONS", "STAGES", "run_curation"]
