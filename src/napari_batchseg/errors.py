"""Exception types shared by the whole package."""

from __future__ import annotations


class BatchSegError(Exception):
    """Base class for errors this package reports to users (message is user-facing)."""


class InputError(BatchSegError):
    """An input file cannot be read or does not fit the parameters (names the file and the problem)."""


class AmbiguousAxesError(InputError):
    """A file's axes cannot be told from the file: the ``axes`` parameter says what each dimension is."""


class ModelError(BatchSegError):
    """A model cannot be found, loaded or downloaded (names the model and where it was looked for)."""


class OutputError(BatchSegError):
    """An output cannot be written, or outputs would collide."""


class CancelledError(BatchSegError):
    """The run was cancelled by the user."""
