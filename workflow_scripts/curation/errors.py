"""The one error type of the curation stage: bad input, named precisely."""


class CurationError(ValueError):
    """The pool, the settings or the eval sets cannot be curated; the message says why."""
