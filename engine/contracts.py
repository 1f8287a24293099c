"""Reading the JSON files of LayerLab's public formats (run.json, project.json, a checkpoint's
description, recovery.json): one reader, so each says the same sentences about a file that is
missing, unreadable, not JSON, of another format or of a newer version. No torch, no Qt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_contract(
    file: Path,
    *,
    format: str,  # noqa: A002 - the files' own key
    version: int,
    what: str,
    error: type[Exception],
    missing: str,
) -> dict[str, Any]:
    """``file``'s JSON object, when its ``format`` is ``format`` and its ``version`` at most
    ``version``; else ``error`` with a sentence naming the file (``missing`` when there is no
    file). ``what`` names the thing in the sentences: "run description", "project"."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(missing) from None
    except OSError as err:
        raise error(f"Cannot read '{file}': {err.strerror or err}.") from None
    except (ValueError, RecursionError) as err:  # RecursionError: nested past Python's limit
        raise error(f"'{file}' is not valid JSON ({err}); the {what} cannot be opened.") from None
    return check_contract(data, f"'{file}'", format=format, version=version, what=what,
                          error=error)  # fmt: skip


def check_contract(
    data: Any,
    source: str,
    *,
    format: str,  # noqa: A002 - the files' own key
    version: int,
    what: str,
    error: type[Exception],
) -> dict[str, Any]:
    """``data`` (read from ``source``, named so in the sentences) when it is a JSON object of
    ``format`` at a version up to ``version``; else ``error`` with the sentence."""
    if not isinstance(data, dict) or data.get("format") != format:
        raise error(f"{source} is not a LayerLab {what} (format {format}).")
    found = data.get("version")
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise error(f"{source} has no valid {what} format version; it cannot be opened.")
    if found > version:
        raise error(
            f"{source} was written by a newer LayerLab ({what} format version {found}; this one "
            f"reads up to {version}). Update LayerLab to open it."
        )
    return data
