"""Errors a user can act on.

The command line prints an `InputError` as one line and exits 2, without a traceback;
anything else is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """Input that a user handed over is unusable; the message says what was expected and how to fix it."""
