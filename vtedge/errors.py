"""The failures a user can cause, one type each, with the CLI exit code it maps to.

The CLI prints ``vtedge: error: <message>`` on one line and exits with ``exit_code``;
API callers catch the type.
"""


class VtedgeError(Exception):
    """Base of every error a user can cause; never a bug in vtedge."""

    exit_code = 1


class MissingPathError(VtedgeError, FileNotFoundError):
    """A path the user named does not exist or is the wrong kind of thing."""

    exit_code = 3


class VideoDecodeError(VtedgeError):
    """The file exists but holds no decodable video stream."""

    exit_code = 4


class BudgetError(VtedgeError):
    """The input cannot be honoured within the vision spec (aspect ratio, pixel budget)."""

    exit_code = 5


class DatasetError(VtedgeError):
    """A dataset record or prediction file is malformed."""

    exit_code = 6


class BundleError(VtedgeError):
    """A model bundle is missing files, altered, or of a format this runtime cannot honour."""

    exit_code = 7


class ModelError(VtedgeError):
    """A model path is neither a bundle nor a checkpoint vtedge can load, or a run dir clashes."""

    exit_code = 8


class ProviderError(VtedgeError):
    """An onnxruntime execution provider was requested that this install does not offer."""

    exit_code = 10


def first_line(error: BaseException) -> str:
    """What a third-party library's exception says, in one line (its type's name if it
    says nothing), for a one-line error that wraps it."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
