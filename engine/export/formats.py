"""Export a model in the formats the PyTorch world reads, each file written atomically.

Every export first copies the weights into a fresh CPU model built from the spec (checking that
they fit it), so a model on a GPU or in training mode is exported as the spec says, in eval mode,
and the live model is never touched.

ONNX uses the TorchScript-based exporter (``dynamo=False``), on purpose: it writes nn.LSTM,
nn.GRU and nn.RNN as ONNX's own LSTM/GRU/RNN operators, with the batch as the only dynamic
dimension, in ~0.1 s. The torch.export-based exporter (torch 2.13's default) also gives correct
results, but takes 2–4 s for a small model and unrolls nn.RNN step by step (a 100-step two-layer
bidirectional RNN became 2,435 nodes and took 34 s), and it prints logging and warnings we would
have to silence anyway.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.model.spec import ModelSpec, SpecError

if TYPE_CHECKING:
    from torch import nn

# The newest opset the TorchScript-based exporter writes; onnxruntime 1.17 and later run it.
ONNX_OPSET = 20
# "layerlab_format" in .safetensors metadata; bump it if the meaning of the file changes.
LAYERLAB_WEIGHTS_FORMAT = "1"


class ExportError(ValueError):
    """An export that cannot be written; the message names the file and what to do."""


@dataclass(frozen=True)
class ExportFormat:
    id: str
    extension: str
    description: str
    has_weights: bool


@dataclass(frozen=True)
class ExportResult:
    path: Path
    fmt: str
    message: str


_FORMATS = (
    ExportFormat("state_dict", ".pt", "PyTorch state_dict", True),
    ExportFormat("safetensors", ".safetensors", "safetensors (weights + model spec)", True),
    ExportFormat("onnx", ".onnx", "ONNX", True),
    ExportFormat("torchscript", ".torchscript", "TorchScript", True),
    ExportFormat("python", ".py", "Python module (architecture only)", False),
    ExportFormat("spec", ".json", "LayerLab model spec (architecture only)", False),
)


def export_formats() -> tuple[ExportFormat, ...]:
    """Every export format: id, file extension, a description for a file dialog's filter."""
    return _FORMATS


def format_for_path(path: str | os.PathLike) -> ExportFormat:
    """The format a file name's extension stands for; ExportError naming it when none does."""
    path = Path(path)
    suffix = path.suffix.lower()
    for fmt in _FORMATS:
        if fmt.extension == suffix:
            return fmt
    supported = ", ".join(f"{f.extension} ({f.description})" for f in _FORMATS)
    what = f"the extension '{path.suffix}'" if path.suffix else "a name without an extension"
    raise ExportError(
        f"Cannot export to '{path.name}': {what} is not an export format. Supported: {supported}."
    )


def export_model(
    model: nn.Module,
    spec: ModelSpec,
    path: str | os.PathLike,
    *,
    fmt: str | None = None,
    trained: bool = True,
) -> ExportResult:
    """Write ``model`` (built from ``spec``) to ``path`` in ``fmt`` (default: from the extension).

    ``trained`` says whether the weights are trained, for the message; ExportError on failure.
    """
    path = Path(path)
    chosen = _format_by_id(fmt, path) if fmt else format_for_path(path)
    if chosen.id == "spec":
        with _atomic_path(path) as tmp:
            tmp.write_text(spec.to_json(), encoding="utf-8")
        return ExportResult(
            path,
            chosen.id,
            f"Exported the model spec (architecture only, no weights) to {path.name}.",
        )
    cpu_model = _cpu_copy(model, spec, path)
    writer = _WRITERS[chosen.id]
    try:
        with _atomic_path(path) as tmp:
            writer(cpu_model, spec, tmp)
    except ExportError:
        raise
    except Exception as err:  # the exporter's own failure, whatever its type: one readable error
        raise ExportError(
            f"Could not export to '{path.name}' as {chosen.description}: {err}"
        ) from err
    return ExportResult(path, chosen.id, _message(chosen, path, trained))


def export_weights(
    spec: ModelSpec,
    weights: Mapping[str, Any] | None,
    path: str | os.PathLike,
    *,
    fmt: str | None = None,
) -> ExportResult:
    """Export ``spec`` with ``weights`` (numpy arrays by name, as the GUI holds them).

    ``None`` exports freshly initialised weights, and the message says they are untrained.
    """
    from engine.export.weights import WeightsError, apply_state

    path = Path(path)
    model = _build(spec, path)
    if weights is not None:
        try:
            apply_state(model, weights, source="the weights")
        except WeightsError as err:
            raise ExportError(f"Cannot export to '{path.name}': {err}") from None
    return export_model(model, spec, path, fmt=fmt, trained=weights is not None)


def _format_by_id(fmt: str, path: Path) -> ExportFormat:
    for f in _FORMATS:
        if f.id == fmt:
            return f
    known = ", ".join(f.id for f in _FORMATS)
    raise ExportError(f"Cannot export to '{path.name}': unknown format {fmt!r} (known: {known}).")


def _message(fmt: ExportFormat, path: Path, trained: bool) -> str:
    if fmt.id == "python":
        return (
            f"Wrote the Python module {path.name}. It holds the architecture only: export the "
            "weights too (.safetensors or .pt) and load them with its load(path) function."
        )
    weights = "the trained weights" if trained else "initial (untrained) weights"
    return f"Exported {weights} to {path.name} ({fmt.description})."


# ---------------------------------------------------------------- the copy that gets written


def _build(spec: ModelSpec, path: Path) -> nn.Module:
    import torch

    from engine.nn.build import build_model

    try:
        # Forking the RNG keeps a running training's random stream where it was.
        with torch.random.fork_rng(devices=[]):
            return build_model(spec)
    except SpecError as err:
        raise ExportError(f"Cannot export to '{path.name}': {err}") from None


def _cpu_copy(model: nn.Module, spec: ModelSpec, path: Path) -> nn.Module:
    from engine.export.weights import WeightsError, apply_state

    fresh = _build(spec, path)
    state = {name: t.detach().to("cpu", copy=True) for name, t in model.state_dict().items()}
    try:
        apply_state(fresh, state, source="the model's weights")
    except WeightsError as err:
        raise ExportError(
            f"Cannot export to '{path.name}': the model does not match its spec. {err}"
        ) from None
    return fresh.eval()


def _example_input(spec: ModelSpec, batch: int = 2):
    import torch

    # Batch 2, not 1: a trace at batch 1 could hide an operation that treats the batch as size 1.
    return torch.randn(batch, *spec.input.shape, generator=torch.Generator().manual_seed(0))


# ---------------------------------------------------------------- writers (model on CPU, eval)


def _write_state_dict(model: nn.Module, spec: ModelSpec, tmp: Path) -> None:
    import torch

    torch.save(_plain_state(model), tmp)


def _write_safetensors(model: nn.Module, spec: ModelSpec, tmp: Path) -> None:
    from safetensors.torch import save

    # "format": "pt" is what transformers and the safetensors tools expect of a torch file.
    metadata = {
        "format": "pt",
        "layerlab_format": LAYERLAB_WEIGHTS_FORMAT,
        "layerlab_spec": spec.to_json(),
    }
    tmp.write_bytes(_sorted_header(save(_plain_state(model), metadata=metadata)))


def _sorted_header(data: bytes) -> bytes:
    """The same .safetensors file with its JSON header's keys sorted: safetensors writes its
    metadata in a per-process hash order, so the same weights gave different bytes about half
    the time. The tensor data, and the offsets into it, are unchanged."""
    size = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + size]), sort_keys=True, separators=(",", ":"))
    encoded = header.encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the format pads the header to 8 bytes with spaces
    return len(encoded).to_bytes(8, "little") + encoded + data[8 + size :]


def _write_onnx(model: nn.Module, spec: ModelSpec, tmp: Path) -> None:
    import torch

    with warnings.catch_warnings():
        _ignore_tracer_warnings()
        # We choose the TorchScript-based exporter deliberately (module docstring); its
        # deprecation notice is for us, not for the person exporting.
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, message=".*legacy TorchScript-based ONNX"
        )
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx\.")
        # Warns about running a recurrent model at another batch size with user-supplied
        # initial states; ours start from zeros shaped from the input at run time (the tests run
        # the exported file at a batch size other than the export's).
        warnings.filterwarnings(
            "ignore",
            category=UserWarning,
            message="Exporting a model to ONNX with a batch_size other than 1",
        )
        torch.onnx.export(
            model,
            (_example_input(spec),),
            str(tmp),
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )


def _write_torchscript(model: nn.Module, spec: ModelSpec, tmp: Path) -> None:
    import torch

    # Tracing, not scripting: the recurrent blocks call super().forward(), which TorchScript's
    # compiler cannot follow; a trace records the same aten::lstm/gru/rnn calls.
    with warnings.catch_warnings():
        _ignore_tracer_warnings()
        # torch.jit is deprecated in favour of torch.export, but TorchScript is the format asked
        # for, and torch.jit.save is the only way to write it.
        warnings.filterwarnings("ignore", category=DeprecationWarning, message="`torch.jit.")
        traced = torch.jit.trace(model, (_example_input(spec),))
        torch.jit.save(traced, str(tmp))


def _write_python(model: nn.Module, spec: ModelSpec, tmp: Path) -> None:
    from engine.export.codegen import generate_module

    source = generate_module(spec, model)  # a CodegenError names the block it cannot write
    _check_generated(source, model, spec)
    tmp.write_text(source, encoding="utf-8")


def _check_generated(source: str, model: nn.Module, spec: ModelSpec) -> None:
    """Run the generated code once against ``model``: same names, same outputs, or no file."""
    import torch

    namespace: dict = {"__name__": "layerlab_generated"}
    exec(compile(source, "<generated model>", "exec"), namespace)  # our own generated code only
    generated = namespace["Model"]()
    generated.load_state_dict(model.state_dict(), strict=True)
    generated.eval()
    x = _example_input(spec)
    with torch.no_grad():
        same = torch.allclose(generated(x), model(x), rtol=1e-5, atol=1e-6)
    if not same:
        raise ExportError(
            "The generated Python code does not reproduce the model's outputs; this is a LayerLab "
            "bug — please report it, and export as ONNX or TorchScript meanwhile."
        )


_WRITERS: dict[str, Callable[[nn.Module, ModelSpec, Path], None]] = {
    "state_dict": _write_state_dict,
    "safetensors": _write_safetensors,
    "onnx": _write_onnx,
    "torchscript": _write_torchscript,
    "python": _write_python,
}


def _plain_state(model: nn.Module) -> dict:
    # Each tensor gets its own contiguous storage: torch.save would otherwise write whole shared
    # storages, and safetensors refuses tensors that share memory.
    return {name: t.detach().cpu().contiguous().clone() for name, t in model.state_dict().items()}


def _ignore_tracer_warnings() -> None:
    import torch

    # Tracing warns where Python reads a tensor's size: nn.RNN's own checks and the recurrent
    # blocks' last-step selection over directions. Those sizes are fixed by the architecture; the
    # batch, the one dynamic dimension, is tested at other sizes for every block type.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)


# ---------------------------------------------------------------- atomic files


@contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed over it once written and flushed to disk."""
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"Cannot export to '{path}': the folder '{folder}' does not exist.")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise ExportError(f"Cannot write '{path}': {err.strerror or err}.") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600), and some writers recreate it; an export should
        # get the permissions any new file gets, or keep those of the file it replaces.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"Cannot write '{path}': {err.strerror or err}.") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    # os.umask can only be read by setting it, which races with other threads creating files;
    # Linux reports it in /proc instead.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022
