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


#: how PyTorch's message for a file ``torch.load(weights_only=True)`` refuses begins; the rest advises
#: loading it unsafely, which this package never does
_UNSAFE_LOAD = "Weights only load failed"


def describe(exc: BaseException) -> str:
    """``"<Type>: <first line of its message>"`` (the type alone without one): one line for a report.

    Third-party messages may span many lines (PyTorch's refusal of a file that is not plain weights
    runs to ten, and advises loading it unsafely); error lines are never wrapped, and the first line
    says what failed.
    """
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    if text.startswith(_UNSAFE_LOAD):
        return f"{type(exc).__name__}: not plain PyTorch weights (torch.load(weights_only=True) refused it)"
    return f"{type(exc).__name__}: {text.splitlines()[0]}"


def whole_path(path: object, error: BaseException | str) -> str:
    """``error``'s text with a leading ``"<file name>: "`` (the readers' errors) made the whole path."""
    text, where = str(error), str(path)
    name = where.replace("\\", "/").rsplit("/", 1)[-1]
    return f"{where}: {text[len(name) + 2:]}" if text.startswith(f"{name}: ") and where != name else text


def about(path: object, error: BaseException | str) -> str:
    """``"<path>: <error>"``, the file named once.

    An error that names the path already is kept; one that begins with the file's name alone (the
    readers' do) gets the whole path there instead.
    """
    text, where = str(error), str(path)
    if where in text:
        return text
    named = whole_path(where, text)
    return named if named != text else f"{where}: {text}"
