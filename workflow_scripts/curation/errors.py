"""The one error type of the curation stage: bad input, named precisely."""

from workflow_scripts.errors import UserError


class CurationError(UserError):
    """The pool, the settings or the eval sets cannot be curated; the message says why."""
