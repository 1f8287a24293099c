"""Typed block parameters: what a block declares, and how a raw JSON value is checked against it.

A parameter knows its type, default and allowed range, so the same declaration drives strict
file loading, the inspector's widgets (a spin box bounded by ``minimum``/``maximum``, a combo
box for ``choices``) and the error message when a value is wrong.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

# Values from a file are shown in messages through this: a hostile file's 4,000-digit number or
# deeply nested list becomes a short excerpt, never a screenful (or a RecursionError).
_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlong = 2, 40, 40, 24


def shown(value: Any) -> str:
    """A short repr of ``value`` for an error message, bounded in length and depth."""
    return _SHOW.repr(value)


class ParamError(ValueError):
    """A parameter value that is of the wrong type or outside its allowed range."""


@dataclass(frozen=True)
class Param:
    """One parameter of a block or a dataset: ``kind`` is "int", "float", "bool", "choice" or
    "text". With ``none_label`` the value may also be None, "not given", and the label says
    what happens then (a dataset option left to the loader)."""

    name: str
    kind: str
    default: Any
    label: str = ""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    none_label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("int", "float", "bool", "choice", "text"):
            raise ValueError(f"Parameter {self.name!r} has unknown kind {self.kind!r}.")
        if self.kind == "choice" and self.default not in (*self.choices, *self._none):
            raise ValueError(f"Default of {self.name!r} is not one of its choices.")
        self.validate(self.default)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ParamError."""
        if value is None and self.none_label:
            return None
        if self.kind == "text":
            if not isinstance(value, str):
                raise ParamError(f"must be text, not {shown(value)}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ParamError(f"must be true or false, not {shown(value)}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                options = ", ".join(repr(c) for c in self.choices)
                raise ParamError(f"must be one of {options}, not {shown(value)}")
            return value
        # bool is an int subclass in Python; a JSON `true` for a number is a mistake.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamError(f"must be a number, not {shown(value)}")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ParamError(f"must be a whole number, not {shown(value)}")
            value = int(value)
        else:
            try:
                value = float(value)
            except OverflowError:  # a whole number too large for a float
                raise ParamError(f"must be a finite number, not {shown(value)}") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise ParamError(f"must be a finite number, not {shown(value)}")
        if self.minimum is not None and value < self.minimum:
            raise ParamError(f"must be at least {_fmt(self.minimum)}, not {_fmt(value)}")
        if self.maximum is not None and value > self.maximum:
            raise ParamError(f"must be at most {_fmt(self.maximum)}, not {_fmt(value)}")
        return value

    @property
    def _none(self) -> tuple[None, ...]:
        return (None,) if self.none_label else ()


def _fmt(number: float) -> str:
    if isinstance(number, int):
        return shown(number)  # float() of a huge whole number would overflow
    return str(int(number)) if number.is_integer() else f"{number:g}"
