"""The one exception type the CLI turns into a readable message and a non-zero exit."""


class VcmError(Exception):
    """A domain error: bad input, a missing tool or model, a failed external command.

    The message is shown to the user as is, so it names the file and the problem.
    """


def shown(value: object, limit: int = 60) -> str:
    """``repr`` of a value read from a user's file or command line, for an error message; cut
    to ``limit`` characters, since the value may be huge."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
