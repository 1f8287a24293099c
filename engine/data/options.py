"""Checking the keyword options a file loader was given."""

from __future__ import annotations

from typing import Any

from .errors import DatasetError


def take_options(
    options: dict[str, Any], defaults: dict[str, Any], path: str, fmt: str
) -> dict[str, Any]:
    """``defaults`` updated with ``options``; an option the format does not know is an error
    rather than silently ignored, so a typo cannot load the wrong data."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise DatasetError(
            f"Option '{unknown[0]}' does not apply to {fmt} files such as '{path}'. "
            f"Options for {fmt}: {allowed}.",
            path=path,
        )
    return {**defaults, **options}


def choice(value: Any, allowed: tuple[Any, ...], option: str, path: str) -> Any:
    if value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise DatasetError(
            f"Option '{option}' must be one of {names}, not {value!r} (loading '{path}').",
            path=path,
        )
    return value


def positive_int(value: Any, option: str, path: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DatasetError(
            f"Option '{option}' must be a whole number of at least {minimum}, not {value!r} "
            f"(loading '{path}').",
            path=path,
        )
    return value
