"""Errors a user can cause. The CLI prints them as one line and exits 2; anything else is our bug."""


class UserError(Exception):
    """Bad input, options or files: the message says what is wrong and how to fix it."""
