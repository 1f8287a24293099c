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
from collections.abc import Iterator

from engine.model.catalogue import CATALOGUE
from engine.model.ids import id_problem
from engine.model.params import ParamError, shown
from engine.model.shapes import Fix, Shape, shape_kind

FORMAT_NAME = "layerlab-model"
# Version 2 added container blocks (a residual block nests its own "blocks"). A model without
# one is still written as version 1, byte for byte as before, so older LayerLab versions and
# tools written against version 1 keep reading every model they can understand.
FORMAT_VERSION = 2
PLAIN_FORMAT_VERSION = 1
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
# Containers inside containers: deeper than this nobody can read on the canvas, and the limit
# keeps a hostile file from recursing the parser, inference and build into the stack limit.
MAX_NESTING = 8


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
    # The inner stack of a container block (a residual block), input to output; () otherwise.
    blocks: tuple[BlockSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "params": dict(self.params)}
        if self.is_container:
            out["blocks"] = [b.to_dict() for b in self.blocks]
        return out

    @property
    def title(self) -> str:
        return CATALOGUE[self.type].title

    @property
    def is_container(self) -> bool:
        return CATALOGUE[self.type].container is not None

    def walk(self) -> Iterator[BlockSpec]:
        """This block and every block nested in it, outer first."""
        yield self
        for inner in self.blocks:
            yield from inner.walk()

    def with_blocks(self, blocks: tuple[BlockSpec, ...]) -> BlockSpec:
        return replace(self, blocks=tuple(blocks))


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
        taken = self.all_ids()
        prefix = type_id.removesuffix("2d")  # "conv1", "maxpool1": shorter weight names
        n = 1
        while f"{prefix}{n}" in taken:
            n += 1
        return f"{prefix}{n}"

    def all_ids(self) -> set[str]:
        """The ids of every block, nested ones included (ids are unique across the model)."""
        return {b.id for top in self.blocks for b in top.walk()}

    def block_count(self) -> int:
        return sum(1 for top in self.blocks for _ in top.walk())

    def insert(self, index: int, block: BlockSpec) -> ModelSpec:
        taken = self.all_ids()
        for new in block.walk():
            if new.id in taken:
                raise SpecError(f"A block with id '{new.id}' is already in the model.")
            problem = id_problem(new.id)
            if problem:
                raise SpecError(problem)
            taken.add(new.id)
        count = self.block_count() + sum(1 for _ in block.walk())
        if count > MAX_BLOCKS:
            raise SpecError(_too_many_blocks(count))
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
        """Apply the repair that shape inference proposed for block ``index``.

        A fix with a ``path`` repairs a block inside the container at ``index``.
        """
        if fix.path:
            container = self.blocks[index]
            inner = self.inner_spec(index).apply_fix(fix.path[0], replace(fix, path=fix.path[1:]))
            if inner.all_ids() & (self.all_ids() - {b.id for b in container.walk()}):
                raise SpecError("The fix would reuse a block id that is already in the model.")
            return self.with_inner(index, inner.blocks)
        if fix.insert_type:
            return self.insert(index, self.new_block(fix.insert_type))
        return self.with_params(index + fix.target, fix.set_params)

    def inner_spec(self, index: int, input_shape: Shape | None = None) -> ModelSpec:
        """The inner stack of container ``index`` as a spec of its own, so that every edit,
        inference and fix of a model works inside a container too. Block ids chosen inside it
        avoid every id of the whole model."""
        shape = input_shape or self.input.shape
        return _InnerSpec(
            InputSpec(shape_kind(shape), tuple(shape)), self.blocks[index].blocks, self.name,
            outer_ids=frozenset(self.all_ids() - {b.id for b in self.blocks[index].walk()}),
        )  # fmt: skip

    def with_inner(self, index: int, blocks: tuple[BlockSpec, ...]) -> ModelSpec:
        """Replace the inner stack of container ``index``."""
        if not self.blocks[index].is_container:
            raise SpecError(f"Block '{self.blocks[index].id}' holds no blocks.")
        outer = list(self.blocks)
        outer[index] = outer[index].with_blocks(blocks)
        spec = replace(self, blocks=tuple(outer))
        if spec.block_count() > MAX_BLOCKS:
            raise SpecError(_too_many_blocks(spec.block_count()))
        return spec

    def index_of(self, block_id: str) -> int:
        for i, b in enumerate(self.blocks):
            if b.id == block_id:
                return i
        raise KeyError(block_id)

    # ------------------------------------------------------------ JSON

    @property
    def format_version(self) -> int:
        """The oldest format version that holds this model (README: Model files)."""
        nested = any(b.is_container for top in self.blocks for b in top.walk())
        return FORMAT_VERSION if nested else PLAIN_FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": self.format_version,
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
    blocks = _parse_stack(raw_blocks, _StackState(version), "", 0)
    dataset, options = _parse_dataset(data.get("dataset"))
    return ModelSpec(inp, blocks, name, dataset, options)


@dataclass
class _StackState:
    version: int
    seen: set[str] = field(default_factory=set)
    count: int = 0


def _parse_stack(raw_blocks: list, state: _StackState, within: str, depth: int) -> tuple[BlockSpec, ...]:
    blocks: list[BlockSpec] = []
    for index, raw in enumerate(raw_blocks):
        state.count += 1
        if state.count > MAX_BLOCKS:
            raise SpecError(
                f"The model has more than {MAX_BLOCKS:,} blocks counting those inside residual "
                "blocks, more than LayerLab's limit — split it or use fewer blocks."
            )
        block = _parse_block(index, raw, within)
        where = f"{within}Block {index} ('{block.id}')"
        if block.id in state.seen:
            raise SpecError(
                f"{where}: the id '{block.id}' is used twice — block ids must be unique."
            )
        state.seen.add(block.id)
        if block.is_container:
            block = block.with_blocks(_parse_inner(raw, block, state, where, depth))
        elif "blocks" in raw:
            raise SpecError(f"{where}: a {block.title} block holds no 'blocks'; remove the field.")
        blocks.append(block)
    return tuple(blocks)


def _parse_inner(raw: dict, block: BlockSpec, state: _StackState, where: str, depth: int):
    if state.version < 2:
        raise SpecError(
            f"{where}: a {block.title} block needs format version 2 or later, "
            f"but the file says version {state.version}."
        )
    if depth + 1 >= MAX_NESTING:
        raise SpecError(
            f"{where}: blocks are nested more than {MAX_NESTING} deep, deeper than anyone can "
            "follow — flatten the model."
        )
    inner = _require(raw, "blocks", where)
    if not isinstance(inner, list):
        raise SpecError(f"{where}: 'blocks' must be a list of blocks.")
    return _parse_stack(inner, state, f"{where} › ", depth + 1)


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


def _parse_block(index: int, raw: Any, within: str = "") -> BlockSpec:
    if not isinstance(raw, dict):
        raise SpecError(f"{within}Block {index} must be an object with 'id', 'type' and 'params'.")
    block_id = raw.get("id")
    where = f"{within}Block {index}" + (f" ({shown(block_id)})" if isinstance(block_id, str) else "")
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


@dataclass(frozen=True)
class _InnerSpec(ModelSpec):
    """A container's inner stack seen as a model: new ids also avoid the outer model's."""

    outer_ids: frozenset[str] = frozenset()

    def all_ids(self) -> set[str]:
        return super().all_ids() | set(self.outer_ids)
