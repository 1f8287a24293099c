"""ModelSpec: an input and an ordered stack of blocks; strict JSON I/O and edits as new values.

A spec is immutable: every edit returns a new spec, which is what makes undo a matter of keeping
the old value. Loading is all-or-nothing: a file either yields a complete, checked spec or one
SpecError that names the block and the field.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.model.catalogue import CATALOGUE
from engine.model.ids import id_problem
from engine.model.params import ParamError, shown
from engine.model.shapes import Fix, Shape

FORMAT_NAME = "layerlab-model"
FORMAT_VERSION = 1
INPUT_KINDS = {"image": 3, "sequence": 2, "vector": 1}
# Per-dimension bounds of the Input block: (channels, height, width), (steps, features), (features,)
INPUT_BOUNDS = {
    "image": ((1, 64), (1, 2048), (1, 2048)),
    "sequence": ((1, 100_000), (1, 65_536)),
    "vector": ((1, 10_000_000),),
}
INPUT_DIM_NAMES = {
    "image": ("channels", "height", "width"),
    "sequence": ("steps", "features"),
    "vector": ("features",),
}
# More blocks than a person can follow on the canvas; a file with more is refused before any
# block is parsed, so a million-block file costs its JSON parse and nothing else (README: Limits).
MAX_BLOCKS = 1000


class SpecError(ValueError):
    """A model file or spec that cannot be used; the message says where and what to do."""


@dataclass(frozen=True)
class InputSpec:
    kind: str = "image"
    shape: Shape = (1, 28, 28)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": list(self.shape)}


@dataclass(frozen=True)
class BlockSpec:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "params": dict(self.params)}

    @property
    def title(self) -> str:
        return CATALOGUE[self.type].title


@dataclass(frozen=True)
class ModelSpec:
    input: InputSpec = field(default_factory=InputSpec)
    blocks: tuple[BlockSpec, ...] = ()
    name: str = "Untitled model"
    # The dataset this model is meant for (a built-in id or a path), so that opening an example
    # or training headless without --dataset picks the right data. Optional.
    dataset: str | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict, hash=False)

    # ------------------------------------------------------------ edits (each returns a new spec)

    def new_block(self, type_id: str, params: dict[str, Any] | None = None) -> BlockSpec:
        """A block of ``type_id`` with default parameters and an id not used in this spec."""
        block_type = CATALOGUE[type_id]
        return BlockSpec(self.free_id(type_id), type_id, block_type.validate_params(params or {}))

    def free_id(self, type_id: str) -> str:
        taken = {b.id for b in self.blocks}
        prefix = type_id.removesuffix("2d")  # "conv1", "maxpool1": shorter weight names
        n = 1
        while f"{prefix}{n}" in taken:
            n += 1
        return f"{prefix}{n}"

    def insert(self, index: int, block: BlockSpec) -> ModelSpec:
        if any(b.id == block.id for b in self.blocks):
            raise SpecError(f"A block with id '{block.id}' is already in the model.")
        if len(self.blocks) >= MAX_BLOCKS:
            raise SpecError(_too_many_blocks(len(self.blocks) + 1))
        problem = id_problem(block.id)
        if problem:
            raise SpecError(problem)
        blocks = list(self.blocks)
        blocks.insert(index, block)
        return replace(self, blocks=tuple(blocks))

    def remove(self, index: int) -> ModelSpec:
        return replace(self, blocks=self.blocks[:index] + self.blocks[index + 1 :])

    def move(self, src: int, dst: int) -> ModelSpec:
        blocks = list(self.blocks)
        blocks.insert(dst, blocks.pop(src))
        return replace(self, blocks=tuple(blocks))

    def with_params(self, index: int, params: dict[str, Any]) -> ModelSpec:
        """Change some parameters of block ``index``; values are checked against the catalogue."""
        block = self.blocks[index]
        merged = CATALOGUE[block.type].validate_params({**block.params, **params})
        blocks = list(self.blocks)
        blocks[index] = replace(block, params=merged)
        return replace(self, blocks=tuple(blocks))

    def with_input(self, kind: str, shape: Shape) -> ModelSpec:
        return replace(self, input=_parse_input({"kind": kind, "shape": list(shape)}))

    def apply_fix(self, index: int, fix: Fix) -> ModelSpec:
        """Apply the repair that shape inference proposed for block ``index``."""
        if fix.insert_type:
            return self.insert(index, self.new_block(fix.insert_type))
        return self.with_params(index + fix.target, fix.set_params)

    def index_of(self, block_id: str) -> int:
        for i, b in enumerate(self.blocks):
            if b.id == block_id:
                return i
        raise KeyError(block_id)

    # ------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "input": self.input.to_dict(),
            "blocks": [b.to_dict() for b in self.blocks],
            **(
                {"dataset": {"name": self.dataset, "options": dict(self.dataset_options)}}
                if self.dataset
                else {}
            ),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> ModelSpec:
        return _parse_model(data)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SpecError(
                f"The file is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})."
            ) from None
        except RecursionError:
            raise SpecError(
                "The file nests lists or objects too deeply to be a model file "
                "(a model file nests a few levels); check that it is the right file."
            ) from None
        except ValueError:  # Python refuses whole numbers of more than 4,300 digits
            raise SpecError(
                "The file holds a number of more than 4,300 digits, which no model file needs; "
                "check that it is the right file."
            ) from None
        return _parse_model(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelSpec:
        """Read a model file; any problem becomes one SpecError that names the file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(f"Cannot open '{path}': the file does not exist.") from None
        except IsADirectoryError:
            raise SpecError(f"Cannot open '{path}': it is a folder, not a model file.") from None
        except UnicodeDecodeError:
            raise SpecError(f"Cannot open '{path}': it is not a text (JSON) model file.") from None
        except OSError as err:
            raise SpecError(f"Cannot open '{path}': {err.strerror}.") from None
        try:
            return cls.from_json(text)
        except SpecError as err:
            raise SpecError(f"{path.name}: {err}") from None

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(Path(path), self.to_json())


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it over, so a crash loses nothing."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- strict parsing


def _too_many_blocks(count: int) -> str:
    return (
        f"The model has {count:,} blocks, more than LayerLab's limit of {MAX_BLOCKS:,} — "
        "a model this long cannot be read on the canvas; split it or use fewer blocks."
    )


def _require(data: dict, key: str, where: str) -> Any:
    if key not in data:
        raise SpecError(f"{where} is missing the field '{key}'.")
    return data[key]


def _parse_model(data: Any) -> ModelSpec:
    if not isinstance(data, dict):
        raise SpecError(
            "A model file must hold a JSON object with 'format', 'version', 'input' and 'blocks'."
        )
    fmt = _require(data, "format", "The model")
    if fmt != FORMAT_NAME:
        raise SpecError(
            f"This is not a LayerLab model: 'format' is {shown(fmt)}, expected {FORMAT_NAME!r}."
        )
    version = _require(data, "version", "The model")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SpecError(f"'version' must be a positive whole number, not {shown(version)}.")
    if version > FORMAT_VERSION:
        raise SpecError(
            f"This model file has format version {shown(version)}, newer than this LayerLab reads "
            f"(up to {FORMAT_VERSION}) — update LayerLab to open it."
        )
    name = data.get("name", "Untitled model")
    if not isinstance(name, str):
        raise SpecError(f"'name' must be text, not {shown(name)}.")
    _check_unicode(name, "'name'")
    inp = _parse_input(_require(data, "input", "The model"))
    raw_blocks = _require(data, "blocks", "The model")
    if not isinstance(raw_blocks, list):
        raise SpecError("'blocks' must be a list of blocks.")
    if len(raw_blocks) > MAX_BLOCKS:
        raise SpecError(_too_many_blocks(len(raw_blocks)))
    blocks: list[BlockSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_blocks):
        block = _parse_block(index, raw)
        if block.id in seen:
            raise SpecError(
                f"Block {index} ('{block.id}'): the id '{block.id}' is used twice — block ids must be unique."
            )
        seen.add(block.id)
        blocks.append(block)
    dataset, options = _parse_dataset(data.get("dataset"))
    return ModelSpec(inp, tuple(blocks), name, dataset, options)


def _parse_dataset(raw: Any) -> tuple[str | None, dict[str, Any]]:
    if raw is None:
        return None, {}
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise SpecError(
            "'dataset' must be an object with a 'name' (a built-in dataset id or a path)."
        )
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise SpecError(f"'dataset' 'options' must be an object, not {shown(options)}.")
    if not raw["name"].strip():
        raise SpecError(
            "'dataset' 'name' is empty — give a built-in dataset id or a path, "
            "or leave 'dataset' out."
        )
    _check_unicode(raw["name"], "'dataset' 'name'")
    return raw["name"], options


def _check_unicode(text: str, what: str) -> None:
    # JSON may escape half of a surrogate pair ("\ud800"); such a string loads but cannot be
    # saved or printed as UTF-8, so the file is refused here rather than at the first save.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise SpecError(
            f"{what} holds {shown(text[err.start : err.end])}, which is not a character "
            "(half of a UTF-16 surrogate pair) — retype it."
        ) from None


def _parse_input(raw: Any) -> InputSpec:
    if not isinstance(raw, dict):
        raise SpecError("'input' must be an object with 'kind' and 'shape'.")
    kind = _require(raw, "kind", "The input")
    if not isinstance(kind, str) or kind not in INPUT_KINDS:
        raise SpecError(f"Input 'kind' must be one of image, sequence, vector, not {shown(kind)}.")
    shape = _require(raw, "shape", "The input")
    names = INPUT_DIM_NAMES[kind]
    if not isinstance(shape, list | tuple) or len(shape) != len(names):
        raise SpecError(
            f"Input 'shape' of {kind!r} must list {len(names)} numbers ({'×'.join(names)}), not {shown(shape)}."
        )
    for dim, name, (lo, hi) in zip(shape, names, INPUT_BOUNDS[kind], strict=True):
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise SpecError(f"Input 'shape': {name} must be a whole number, not {shown(dim)}.")
        if not lo <= dim <= hi:
            raise SpecError(
                f"Input 'shape': {name} must be between {lo} and {hi}, not {shown(dim)}."
            )
    return InputSpec(kind, tuple(shape))


def _parse_block(index: int, raw: Any) -> BlockSpec:
    if not isinstance(raw, dict):
        raise SpecError(f"Block {index} must be an object with 'id', 'type' and 'params'.")
    block_id = raw.get("id")
    where = f"Block {index}" + (f" ({shown(block_id)})" if isinstance(block_id, str) else "")
    block_id = _require(raw, "id", where)
    problem = id_problem(block_id)
    if problem:
        raise SpecError(f"{where}: {problem}")
    type_id = _require(raw, "type", where)
    if not isinstance(type_id, str) or type_id not in CATALOGUE:
        raise SpecError(
            f"{where}: unknown block type {shown(type_id)}; "
            f"known types are {', '.join(CATALOGUE.ids())}."
        )
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise SpecError(f"{where}: 'params' must be an object, not {shown(params)}.")
    try:
        checked = CATALOGUE[type_id].validate_params(params)
    except ParamError as err:
        raise SpecError(f"{where}: {err}.") from None
    return BlockSpec(block_id, type_id, checked)
