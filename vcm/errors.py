"""The one exception type the CLI turns into a readable message and a non-zero exit."""


class VcmError(Exception):
    """A domain error: bad input, a missing tool or model, a failed external command.

    The message is shown to the user as is, so it names the file and the problem.
    """
