"""ModelSpec: an input and an ordered stack of blocks; strict JSON I/O and edits as new values.

A spec is immutable: every edit returns a new spec, which is what makes undo a matter of keeping
the old value. Loading is all-or-nothing: a file either yields a complete, checked spec or one
SpecError that names the block and the field.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.model.catalogue import CATALOGUE
from engine.model.ids import id_problem
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
BlockPath = tuple[int, ...]


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

    def copy_of(self, block: BlockSpec) -> BlockSpec:
        """``block`` with the same parameters, and the blocks inside it copied too, under ids
        not used in this spec (Duplicate)."""
        taken = set(self.all_ids())

        def copy(source: BlockSpec) -> BlockSpec:
            prefix, n = source.type.removesuffix("2d"), 1
            while f"{prefix}{n}" in taken:
                n += 1
            taken.add(f"{prefix}{n}")
            inner = tuple(copy(b) for b in source.blocks)
            return BlockSpec(f"{prefix}{n}", source.type, dict(source.params), inner)

        return copy(block)

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
            raise SpecError(too_many_blocks(count))
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
        from engine.model.spec_file import parse_input

        return replace(self, input=parse_input({"kind": kind, "shape": list(shape)}))

    def apply_fix(self, index: int, fix: Fix) -> ModelSpec:
        """Apply the repair that shape inference proposed for block ``index``.

        A fix with a ``path`` repairs a block inside the container at ``index``.
        """
        if fix.path:
            # The inner spec knows the outer ids, so a block the fix inserts gets a free id.
            inner = self.inner_spec(index).apply_fix(fix.path[0], replace(fix, path=fix.path[1:]))
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
            outer_ids=frozenset(self.all_ids() - _inner_ids(self.blocks[index])),
        )  # fmt: skip

    def with_inner(self, index: int, blocks: tuple[BlockSpec, ...]) -> ModelSpec:
        """Replace the inner stack of container ``index``."""
        if not self.blocks[index].is_container:
            raise SpecError(f"Block '{self.blocks[index].id}' holds no blocks.")
        outer = list(self.blocks)
        outer[index] = outer[index].with_blocks(blocks)
        spec = replace(self, blocks=tuple(outer))
        if spec.block_count() > MAX_BLOCKS:
            raise SpecError(too_many_blocks(spec.block_count()))
        return spec

    # ------------------------------------------------------------ edits at a path
    # A path names a block at any depth: (2,) is the third block, (2, 0) the first block inside
    # it. Each edit at a path is the flat edit applied to the inner spec of each container on
    # the way down, so ids, limits and checks are the same inside a container as outside.

    def path_of(self, block_id: str) -> BlockPath:
        for index, block in enumerate(self.blocks):
            if block.id == block_id:
                return (index,)
            if block.blocks and any(b.id == block_id for b in block.walk()):
                return (index, *self.inner_spec(index).path_of(block_id))
        raise KeyError(block_id)

    def block_at(self, path: BlockPath) -> BlockSpec:
        block = self.blocks[path[0]]
        for index in path[1:]:
            block = block.blocks[index]
        return block

    def _at(self, path: BlockPath, edit) -> ModelSpec:
        if len(path) == 1:
            return edit(self, path[0])
        inner = self.inner_spec(path[0])._at(path[1:], edit)
        return self.with_inner(path[0], inner.blocks)

    def insert_at(self, path: BlockPath, block: BlockSpec) -> ModelSpec:
        """Insert ``block`` so that it ends up at ``path`` (inside a container: its inner stack)."""
        if len(path) > 1 and not self.block_at(path[:-1]).is_container:
            raise SpecError(f"Block '{self.block_at(path[:-1]).id}' holds no blocks.")
        if len(path) + _depth(block) > MAX_NESTING:
            raise SpecError(f"Blocks cannot be nested more than {MAX_NESTING} deep.")
        return self._at(path, lambda spec, i: spec.insert(i, block))

    def remove_at(self, path: BlockPath) -> ModelSpec:
        return self._at(path, lambda spec, i: spec.remove(i))

    def with_params_at(self, path: BlockPath, params: dict[str, Any]) -> ModelSpec:
        return self._at(path, lambda spec, i: spec.with_params(i, params))

    def move_to(self, src: BlockPath, dst: BlockPath) -> ModelSpec:
        """Move the block at ``src`` to the gap ``dst`` names in this spec (before the block
        now at ``dst``), into or out of containers alike."""
        if dst[: len(src)] == src and len(dst) > len(src):
            raise SpecError(f"Block '{self.block_at(src).id}' cannot be put inside itself.")
        block, level = self.block_at(src), len(src) - 1
        target = list(dst)
        # Removing the block first shifts the gaps after it in the same stack up by one.
        if len(dst) > level and tuple(dst[:level]) == src[:level] and dst[level] > src[level]:
            target[level] -= 1
        return self.remove_at(src).insert_at(tuple(target), block)

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
        from engine.model.spec_file import parse_model

        return parse_model(data)

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
        from engine.model.spec_file import parse_model

        return parse_model(data)

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


def _depth(block: BlockSpec) -> int:
    """Levels of nesting inside ``block`` (0 for a plain block or an empty container)."""
    return max((1 + _depth(b) for b in block.blocks), default=0)


def too_many_blocks(count: int) -> str:
    return (
        f"The model has {count:,} blocks, more than LayerLab's limit of {MAX_BLOCKS:,} — "
        "a model this long cannot be read on the canvas; split it or use fewer blocks."
    )


def _inner_ids(container: BlockSpec) -> set[str]:
    return {b.id for inner in container.blocks for b in inner.walk()}


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


@dataclass(frozen=True)
class _InnerSpec(ModelSpec):
    """A container's inner stack seen as a model: new ids also avoid the outer model's."""

    outer_ids: frozenset[str] = frozenset()

    def all_ids(self) -> set[str]:
        return super().all_ids() | set(self.outer_ids)
