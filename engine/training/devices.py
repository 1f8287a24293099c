"""Pick the torch device a run trains on: "auto", "cpu", "cuda:N" or "mps", checked at run time."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


class DeviceError(ValueError):
    """A device that this machine does not have; the message says which ones it has."""


def available_devices() -> list[str]:
    """Every device name this machine can train on, CPU first."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return names


def resolve_device(name: str) -> torch.device:
    """The torch.device for ``name``; "auto" prefers CUDA, then Apple MPS, then the CPU."""
    text = (name or "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available():
            raise DeviceError(_missing("mps", "Apple's Metal (MPS) backend is not available"))
        return torch.device("mps")
    if text == "cuda" or text.startswith("cuda:"):
        index_text = text.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise DeviceError(f"'{name}' is not a device name; write cuda:0, cuda:1, ...")
        index = int(index_text)
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= count:
            have = "no CUDA GPU" if count == 0 else f"{count} CUDA GPU{'s' * (count != 1)}"
            raise DeviceError(_missing(f"cuda:{index}", f"this machine has {have}"))
        return torch.device("cuda", index)
    raise DeviceError(f"Unknown device '{name}'. Use one of: auto, cpu, cuda:N, mps.")


def describe_device(device: torch.device) -> str:
    """'cpu', 'cuda:0 (NVIDIA H100)' — what the dashboard and the CLI print."""
    if device.type == "cuda":
        index = device.index or 0
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that timings measure the work and not its queueing."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _missing(name: str, why: str) -> str:
    return (
        f"The device '{name}' cannot be used: {why}. "
        f"Choose one of {', '.join(available_devices())} or 'auto'."
    )
