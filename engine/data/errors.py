"""The one exception type every dataset loader raises, so the GUI can show it as-is."""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset that cannot be loaded, explained as a full sentence for the user.

    ``path`` names the file or folder at fault (None for built-in data). ``skippable`` lists
    files that could be left out to load the rest (e.g. corrupt images in a folder); when it
    is not empty the GUI can offer "skip these and load the rest".
    """

    def __init__(
        self, message: str, *, path: str | None = None, skippable: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.skippable: list[str] = list(skippable or [])

    def __str__(self) -> str:
        return self.message
