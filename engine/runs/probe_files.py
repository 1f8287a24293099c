"""The newest snapshot of each probe kind, on disk: ``probes/<kind>.npz`` holds its arrays,
``probes/<kind>.json`` its structure (the dataclasses of engine/probes/snapshots.py, by name,
with each array replaced by its key in the npz). No pickle: the npz is read with
allow_pickle=False and only the snapshot classes named there can be rebuilt.

No torch here: the window reads these to show a run's views again.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from engine.probes import snapshots
from engine.runs.folder import PROBES, RunFolderError, write_bytes_atomic, write_json_atomic

# The npz entry that repeats the JSON's token: a reader that finds them different caught the
# pair between its two writes (the npz is replaced first) and reads it again later.
TOKEN_KEY = "__token__"

_CLASSES = {
    name: cls
    for name, cls in vars(snapshots).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls)
}


def write_probe(run_folder: Path, kind: str, step: int, data: Any, error: str | None) -> None:
    """Write one probe snapshot, replacing the older one of its kind (atomically, npz first)."""
    folder = run_folder / PROBES
    folder.mkdir(exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(data, arrays)
    token = secrets.token_hex(8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{TOKEN_KEY: np.array(token)})
    write_bytes_atomic(folder / f"{kind}.npz", buffer.getbuffer())
    write_json_atomic(
        folder / f"{kind}.json",
        {
            "kind": kind,
            "step": step,
            "error": error,
            "data": structure,
            "arrays": len(arrays),
            "token": token,
        },
    )


class ProbeFileTorn(RunFolderError):
    """A probe file pair read between its two writes: the same files read later are whole."""


def read_probes(run_folder: str | os.PathLike) -> tuple[dict[str, tuple[int, Any]], list[str]]:
    """Every saved probe snapshot of a run: {kind: (step, data)}, and a sentence for each file
    that could not be read (the views show the rest)."""
    folder = Path(run_folder) / PROBES
    found: dict[str, tuple[int, Any]] = {}
    problems: list[str] = []
    for meta in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            step, data, _error = read_probe(meta)
            found[meta.stem] = (step, data)
        except RunFolderError as err:
            problems.append(str(err))
    return found, problems


def read_probe(meta: Path) -> tuple[int, Any, str | None]:
    """One saved snapshot, from ``probes/<kind>.json`` and its npz: (step, data, error).
    ProbeFileTorn when the two files are of different snapshots (caught mid-write), another
    RunFolderError naming the file when it cannot be read."""
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        with np.load(meta.with_suffix(".npz"), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        token = arrays.pop(TOKEN_KEY, None)
        # Files written before the token was added have none: taken as whole.
        torn = "token" in info and (token is None or str(token) != info["token"])
        result = None if torn else (int(info["step"]), _decode(info["data"], arrays))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunFolderError(
            f"The saved probe snapshot '{meta}' cannot be read ({err}); skipped."
        ) from None
    if result is None:
        raise ProbeFileTorn(
            f"The saved probe snapshot '{meta}' and its .npz are of different snapshots "
            "(written while read, or torn by a crash); skipped."
        )
    return (*result, info.get("error"))


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"$array": key}
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _CLASSES.get(name) is not type(value):
            raise RunFolderError(f"A {name} probe result cannot be saved with the run.")
        fields = {
            f.name: _encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value)
        }
        return {"$class": name, "fields": fields}
    if isinstance(value, Mapping):
        return {"$map": [[str(k), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, (tuple, list)):
        return {"$tuple": [_encode(v, arrays) for v in value]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise RunFolderError(f"A {type(value).__name__} probe result cannot be saved with the run.")


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if not isinstance(value, dict):
        return value
    if "$array" in value:
        array = arrays[value["$array"]]
        array.flags.writeable = False  # snapshots hold read-only arrays
        return array
    if "$class" in value:
        cls = _CLASSES[value["$class"]]  # only the snapshot classes: KeyError for anything else
        return cls(**{k: _decode(v, arrays) for k, v in value["fields"].items()})
    if "$map" in value:
        return MappingProxyType({k: _decode(v, arrays) for k, v in value["$map"]})
    if "$tuple" in value:
        return tuple(_decode(v, arrays) for v in value["$tuple"])
    raise ValueError(f"unknown entry {sorted(value)}")
