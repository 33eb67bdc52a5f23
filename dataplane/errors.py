"""Project error types.

Errors derived from AutomixerError are user-facing: the CLI prints them as one line and exits with 2.
Anything else is a bug and keeps its traceback.
"""


class AutomixerError(Exception):
    """Base class of every user-facing error."""


class ConfigError(AutomixerError):
    """A config file or value is wrong; the message names the file and key path."""


class InputError(AutomixerError):
    """An input file or data set cannot be used; the message names the file (and line where known)."""


class StageError(AutomixerError):
    """A stage cannot run, e.g. because the stage it reads from has not run yet."""
