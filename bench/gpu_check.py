"""The CUDA paths, checked on a machine with NVIDIA GPUs in a few minutes: training, probes and
export on `cuda`, and `main.py train --nproc N` with NCCL across the GPUs present.

1. The digits CNN and the memory LSTM train on cuda:0 through the Trainer with every probe on
   (each probe must report at least once, without an error), and the loss must fall.
2. Each trained model is exported to every format; each file is read back on the CPU
   (safetensors and .pt into a fresh model, TorchScript with torch.jit.load, ONNX in
   onnxruntime, the generated .py module) and its outputs compared with the CUDA model's.
3. With two or more GPUs: `main.py train --nproc <GPUs> --device cuda` (NCCL), which must end
   with every rank's weights the same.

    python -m bench.gpu_check [--epochs E] [--device cpu]

`--device cpu` runs checks 1 and 2 on the CPU: a test of this script where there is no GPU.

Prints one line per check and exits 0 when all pass, 1 when one fails, 2 without CUDA.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from engine.data import load_builtin
from engine.export.formats import export_formats, export_model
from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.nn.build import build_model
from engine.probes.registry import PROBE_KINDS
from engine.training.events import Callback, Finished, ProbeSnapshot
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
# Outputs of the same weights on a GPU and a CPU differ by rounding (TF32, fused kernels).
TOLERANCE = 2e-3
CASES = {"digits_cnn": {}, "memory_lstm": {"seq_len": 40}}


class _Probes(Callback):
    def __init__(self) -> None:
        self.kinds: dict[str, str | None] = {}

    def on_probe(self, event: ProbeSnapshot) -> None:
        self.kinds[event.kind] = event.error


def _line(ok: bool, text: str) -> bool:
    print(f"{'ok  ' if ok else 'FAIL'} {text}", flush=True)
    return ok


def train_on(
    device: str, case: str, epochs: int
) -> tuple[bool, torch.nn.Module, ModelSpec, torch.Tensor]:
    spec = ModelSpec.load(example_path(case))
    data = load_builtin(spec.dataset, **{**spec.dataset_options, **CASES[case]})
    if case == "memory_lstm":  # the same model on shorter sequences: minutes, not tens
        spec = spec.with_input("sequence", (CASES[case]["seq_len"], spec.input.shape[1]))
    probes = _Probes()
    settings = TrainSettings(
        device=device, epochs=epochs, probe_intervals={k: 0.2 for k in PROBE_KINDS}
    )
    started = time.perf_counter()
    result = Trainer(spec, data, settings, [probes]).run()
    seconds = time.perf_counter() - started
    ok = isinstance(result, Finished)
    ok = _line(ok, f"{case}: trained {epochs} epoch(s) on {device} in {seconds:.1f} s"
               + ("" if ok else f": {result.message}")) and ok  # fmt: skip
    failed = {k: e for k, e in probes.kinds.items() if e}
    ok = _line(bool(probes.kinds) and not failed,
               f"{case}: probes on {device} {sorted(probes.kinds)}"
               + (f", errors: {failed}" if failed else "")) and ok  # fmt: skip
    model = build_model(spec)
    if ok:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in result.weights.items()})
    x = torch.from_numpy(np.ascontiguousarray(data.x_val[:8]))
    return ok, model.to(device).eval(), spec, x


def check_exports(case: str, model: torch.nn.Module, spec: ModelSpec, x: torch.Tensor) -> bool:
    with torch.no_grad():
        expected = model(x.to(next(model.parameters()).device)).float().cpu().numpy()
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for fmt in export_formats():
            if fmt.id == "spec":
                continue
            path = Path(folder) / f"{case}{fmt.extension}"
            try:
                export_model(model, spec, path)
                if fmt.id == "python":  # the module is the architecture; load() takes weights
                    export_model(model, spec, path.with_name(f"{case}_weights.safetensors"))
                got = _read_back(fmt.id, path, spec, x)
                err = float(np.abs(got - expected).max())
                ok = _line(err < TOLERANCE, f"{case}: {path.name} read back on the CPU, "
                           f"largest difference {err:.2e}") and ok  # fmt: skip
            except Exception as exc:  # a check script: every failure is a line, then go on
                ok = _line(False, f"{case}: {path.name}: {type(exc).__name__}: {exc}") and False
    return ok


def _read_back(fmt: str, path: Path, spec: ModelSpec, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        if fmt in ("safetensors", "state_dict"):
            fresh = build_model(spec).eval()
            if fmt == "safetensors":
                from safetensors.torch import load_file

                state = load_file(path)
            else:
                state = torch.load(path, weights_only=True)
            fresh.load_state_dict(state)
            return fresh(x).numpy()
        if fmt == "torchscript":
            return torch.jit.load(path, map_location="cpu")(x).numpy()
        if fmt == "onnx":
            import onnxruntime

            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            name = session.get_inputs()[0].name
            return session.run(None, {name: x.numpy()})[0]
        if fmt == "python":
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            return module.load(path.with_name(f"{path.stem}_weights.safetensors"))(x).numpy()
    raise ValueError(f"no reader for {fmt}")


def check_nccl(epochs: int) -> bool:
    gpus = torch.cuda.device_count()
    if gpus < 2:
        print(f"skip one GPU here: --nproc with NCCL needs two or more (found {gpus})")
        return True
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "main.py", "train", str(example_path("digits_cnn")), "--nproc",
             str(gpus), "--device", "cuda", "--epochs", str(epochs), "--quiet", "--run-dir",
             f"{folder}/run"],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    same = f"processes: {gpus} processes (nccl), the same weights on every rank"
    ok = done.returncode == 0 and same in done.stdout
    return _line(ok, f"digits_cnn: --nproc {gpus} with NCCL in {time.perf_counter() - started:.1f} s"
                 + ("" if ok else f"\n{done.stdout}\n{done.stderr}"))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cuda:0", help="cuda:0, or cpu to test this script")
    args = parser.parse_args(argv)
    if args.device != "cpu" and not torch.cuda.is_available():
        print(f"No CUDA device here (torch {torch.__version__}, CUDA build: "
              f"{torch.version.cuda or 'none'}): run this on a machine with NVIDIA GPUs.")  # fmt: skip
        return 2
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(count)) or "no GPU"
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}: {names}")
    ok = True
    for case in CASES:
        trained, model, spec, x = train_on(args.device, case, args.epochs)
        ok = trained and ok
        if trained:
            ok = check_exports(case, model, spec, x) and ok
    if args.device != "cpu":
        ok = check_nccl(args.epochs) and ok
    print("all checks passed" if ok else "some checks FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
