"""s1 test-time scaling workflow: the code behind every Snakemake rule.

Each stage is a subpackage (``world``, ``curation``, ``training``, ``generation``,
``grading``, ``analysis``); rules in ``rules/*.smk`` are thin calls into them.
"""

__version__ = "0.1.0"
