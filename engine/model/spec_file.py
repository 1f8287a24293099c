"""Strict parsing of model files: a complete, checked ModelSpec or one SpecError sentence that
names the block (its path through residual blocks) and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.model.catalogue import CATALOGUE
from engine.model.ids import id_problem
from engine.model.params import ParamError, shown
from engine.model.spec import (
    FORMAT_NAME,
    FORMAT_VERSION,
    INPUT_BOUNDS,
    INPUT_DIM_NAMES,
    INPUT_KINDS,
    MAX_BLOCKS,
    MAX_NESTING,
    BlockSpec,
    InputSpec,
    ModelSpec,
    SpecError,
    too_many_blocks,
)


def _require(data: dict, key: str, where: str) -> Any:
    if key not in data:
        raise SpecError(f"{where} is missing the field '{key}'.")
    return data[key]


def parse_model(data: Any) -> ModelSpec:
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
    inp = parse_input(_require(data, "input", "The model"))
    raw_blocks = _require(data, "blocks", "The model")
    if not isinstance(raw_blocks, list):
        raise SpecError("'blocks' must be a list of blocks.")
    if len(raw_blocks) > MAX_BLOCKS:
        raise SpecError(too_many_blocks(len(raw_blocks)))
    blocks = _parse_stack(raw_blocks, _StackState(version), "", 0)
    dataset, options = _parse_dataset(data.get("dataset"))
    return ModelSpec(inp, blocks, name, dataset, options)


@dataclass
class _StackState:
    version: int
    seen: set[str] = field(default_factory=set)
    count: int = 0


def _parse_stack(
    raw_blocks: list, state: _StackState, within: str, depth: int
) -> tuple[BlockSpec, ...]:
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


def parse_input(raw: Any) -> InputSpec:
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
    where = f"{within}Block {index}" + (
        f" ({shown(block_id)})" if isinstance(block_id, str) else ""
    )
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
