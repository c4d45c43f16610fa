"""The one error type for bad user input, and the one exit code every stage CLI returns for it."""

from __future__ import annotations

import sys

USER_ERROR_EXIT = 2  # the same code argparse uses for a bad command line


class UserError(ValueError):
    """Bad input or settings: the message names the file, row or key, and says what is wrong."""


def report_user_error(error: Exception) -> int:
    """Print ``error: <message>`` as one line on stderr and return :data:`USER_ERROR_EXIT`."""
    print(f"error: {error}", file=sys.stderr)
    return USER_ERROR_EXIT
