"""One exception family for everything a student can get wrong.

Every error carries a plain-words ``message`` and an optional ``hint`` that says what to do.
The GUI shows both in a dialog or inline; the CLI prints them (at most 3 lines) and exits 2.
"""

from __future__ import annotations


class PlaygroundError(Exception):
    """A problem the user can fix: bad input, missing file, model too large..."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class CorpusError(PlaygroundError):
    """The text to train on cannot be loaded or is unsuitable."""


class DownloadError(PlaygroundError):
    """A download failed, was cancelled or did not verify."""


class TokenizerError(PlaygroundError):
    """A tokenizer cannot be built, loaded or used on this text."""


class ModelError(PlaygroundError):
    """A model configuration is invalid or too large for this machine."""


class CheckpointError(PlaygroundError):
    """A run or checkpoint is missing, corrupt or from an incompatible version."""


class TrainingError(PlaygroundError):
    """Training had to stop (NaN loss, out of memory...)."""


class Cancelled(PlaygroundError):
    """The user pressed Cancel; not an error to report loudly."""

    def __init__(self, message: str = "Cancelled.", hint: str | None = None) -> None:
        super().__init__(message, hint)
