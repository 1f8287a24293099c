"""The Trainer: a plain training loop that reports through callbacks and obeys control flags.

No Qt here. The GUI runs ``Trainer.run()`` in a child process (engine/training/process.py), whose relay
thread calls ``request_pause``, ``request_resume``, ``request_stop`` and ``update_settings`` as
the GUI's messages arrive; those only set flags under a lock, which the loop reads between steps
(a new probe sample is switched to, and its probes run, outside that lock, so the relay never
waits for a probe). Everything an event carries is a CPU numpy copy or a Python number, so
nothing in the GUI ever holds a live tensor.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.data import Dataset, DatasetError, DataSource, check_compatible
from engine.model.inference import infer
from engine.model.spec import ModelSpec, SpecError
from engine.nn.build import build_model
from engine.probes import ProbeError
from engine.probes.schedule import ProbeRunner, sample_index_problem
from engine.training.devices import DeviceError, describe_device, resolve_device
from engine.training.events import (
    Callback,
    EpochMetrics,
    Failed,
    Finished,
    Paused,
    ProbeSnapshot,
    RunStarted,
    SettingsChanged,
    StepMetrics,
    dispatch,
)
from engine.training.optim import apply_live_changes, lr_factor, make_optimizer, set_lr
from engine.training.settings import (
    LOSSES,
    TYPICAL_LR,
    SettingsError,
    TrainSettings,
    check_live_changes,
)

# Whole datasets up to this size are copied to the GPU once; larger ones go batch by batch.
_DEVICE_RESIDENT_BYTES = 1 << 30
# Errors whose message is already a sentence for the user.
_USER_ERRORS = (SpecError, DatasetError, SettingsError, DeviceError, ProbeError)


class _NonFinite(Exception):
    """The loss or the gradient norm stopped being a finite number."""

    def __init__(self, what: str, value: float) -> None:
        super().__init__(what)
        self.what, self.value = what, value


class Trainer:
    """Trains ``spec`` on ``dataset`` (a Dataset, or a DataSource or name loaded in ``run``).

    ``run()`` blocks until the run ends and returns the Finished or Failed event it emitted
    last. The control methods may be called from any thread.
    """

    def __init__(
        self,
        spec: ModelSpec,
        dataset: Dataset | DataSource | str,
        settings: TrainSettings | None = None,
        callbacks: list[Callback] | tuple[Callback, ...] = (),
        *,
        run_id: int = 1,
        dataset_options: dict[str, Any] | None = None,
    ) -> None:
        self.spec, self.dataset, self.run_id = spec, dataset, run_id
        self.settings = settings or TrainSettings()
        self.callbacks = list(callbacks)
        self.dataset_options = dict(dataset_options or {})
        self.model: torch.nn.Module | None = None
        self.data: Dataset | None = None  # the loaded dataset, once run() has it
        self.probes: ProbeRunner | None = None
        self.device: torch.device | None = None
        self.step = 0  # optimiser steps done
        self._cond = threading.Condition(threading.RLock())  # reentrant: hooks may call request_*
        self._attention = False  # any flag or change pending; read without the lock per step
        self._pause_requested = self._paused = self._stop = False
        self._pending: dict[str, Any] = {}

    # ------------------------------------------------------------ control, from any thread

    def request_pause(self) -> None:
        with self._cond:
            self._pause_requested = self._attention = True

    def request_resume(self) -> None:
        with self._cond:
            self._pause_requested = False
            self._attention = True
            self._cond.notify_all()

    def request_stop(self) -> None:
        """Stop after the current step; the run ends with Finished(stopped_early=True)."""
        with self._cond:
            self._stop = self._attention = True
            self._cond.notify_all()

    def update_settings(self, **changes: Any) -> None:
        """Change lr, momentum, weight_decay, grad_clip or probe_sample_index from the next step
        on (also while paused). Raises SettingsError at once for a bad value; the optimiser
        state is kept.

        A new probe_sample_index (into the validation split) re-emits "probe_input" for that
        sample and runs the feature-map, gate and dL/dh_t probes on it right away. Each applied
        change is recorded as a SettingsChanged; the probe sample gets one of its own, apart
        from the optimiser's settings, so the curves can tell the two apart."""
        data = self.data if self.data is not None else self.dataset
        clean = check_settings_changes(self.settings, data, changes)
        with self._cond:
            self._pending.update(clean)
            self._attention = True
            self._cond.notify_all()

    @property
    def is_paused(self) -> bool:
        return self._paused

    # ------------------------------------------------------------ the run

    def run(self) -> Finished | Failed:
        """Train to the end (or Stop, or failure); emits events; never raises for a training error."""
        self._t0 = time.perf_counter()
        self._epoch = 0
        self._good_snapshot: tuple[int, dict[str, torch.Tensor]] | None = None
        try:
            self._setup()
            result = self._loop()
        except _NonFinite as bad:
            result = self._non_finite_failure(bad)
        except Exception as exc:  # becomes an event: a run must never end silently
            result = Failed(
                self.run_id,
                self.step,
                _readable(exc),
                self._current_weights(),
                "" if isinstance(exc, _USER_ERRORS) else traceback.format_exc(),
            )
        self._emit(result)
        return result

    def _setup(self) -> None:
        s = self.settings.checked()
        if s.torch_threads is not None:
            torch.set_num_threads(s.torch_threads)  # per thread for OpenMP: set in the run's thread
        self.device = resolve_device(s.device)
        ds = self.dataset
        if not isinstance(ds, Dataset):
            ds = DataSource.of(ds, self.spec, self.dataset_options).load()
        self.data = ds
        self._check_fit(ds)
        self.model = build_model(self.spec, seed=s.seed).to(self.device)
        if self.device.type == "cpu" and _has_conv2d(self.model):
            # oneDNN's channels-last convolutions train CNNs 18-46 % faster on this project's
            # CPU (bench/channels_last). Only the conv weights' strides change: the weights,
            # probes and exports are C-contiguous copies all the same.
            self.model = self.model.to(memory_format=torch.channels_last)
        self.shuffle_rng = torch.Generator().manual_seed(s.seed)
        self.x_train, self.y_train = self._tensors(ds.x_train, ds.y_train)
        self.x_val, self.y_val = self._tensors(ds.x_val, ds.y_val)
        self.classify = ds.task == "classification"
        self.loss_fn = _loss_fn(s.loss, ds)
        self.optimizer = make_optimizer(
            s.optimizer,
            self.model.parameters(),
            lr=s.lr,
            momentum=s.momentum,
            nesterov=s.nesterov,
            weight_decay=s.weight_decay,
        )
        self.base_lr, self.grad_clip = s.lr, s.grad_clip
        self.y_scale = (
            None
            if ds.y_std is None
            else torch.as_tensor(ds.y_std, dtype=torch.float32, device=self.device)
        )
        self.probes = None
        if s.probes:
            self.probes = ProbeRunner(
                self.model,
                task=ds.task,
                num_classes=ds.num_outputs,
                loss_fn=self.loss_fn,
                x_val=self.x_val.to(self.device),
                y_val=self.y_val.to(self.device),
                x_train=self.x_train[: s.val_batch_size].to(self.device),
                y_train=self.y_train[: s.val_batch_size].to(self.device),
                sample_index=s.probe_sample_index,
                kinds=s.probe_kinds,
                intervals=s.probe_intervals,
                budget=s.probe_budget,
                emit=self._emit_probe,
            )

    def _check_fit(self, ds: Dataset) -> None:
        inference = infer(self.spec)
        if not inference.valid:
            raise SpecError(f"The model cannot be trained: {inference.problem}")
        out = inference.output_shape or ()
        problems = check_compatible(ds, self.spec.input.shape, out[0] if len(out) == 1 else None)
        if len(out) != 1:
            what = (
                "one score per class" if ds.task == "classification" else f"{ds.num_outputs} values"
            )
            problems.append(
                f"The model outputs {'×'.join(map(str, out))} values per sample but "
                f"'{ds.name}' needs {what} — end the model with Flatten and "
                f"Dense({ds.num_outputs})."
            )
        if problems:
            raise SpecError(" ".join(problems))
        for part in ("x_train", "y_train", "x_val", "y_val"):
            array = getattr(ds, part)
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise DatasetError(
                    f"The dataset '{ds.name}' has NaN or infinite values in {part}; "
                    "clean or drop those rows before training."
                )

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        if self.device.type != "cpu" and x.nbytes + y.nbytes <= _DEVICE_RESIDENT_BYTES:
            return xt.to(self.device), yt.to(self.device)
        return xt, yt  # batches are moved one at a time in _batch

    def _loop(self) -> Finished:
        s, model = self.settings, self.model
        n = len(self.x_train)
        steps_per_epoch = math.ceil(n / s.batch_size)
        self.total_steps = steps_per_epoch * s.epochs
        self._paused_seconds, self._samples = 0.0, 0
        self._emit(
            RunStarted(
                self.run_id,
                self.spec.name,
                self.data.name,
                describe_device(self.device),
                s.epochs,
                steps_per_epoch,
                s.to_dict(),
            )
        )
        if self.probes is not None:
            self._emit_probe("probe_input", self.probes.sample, None)
        final: EpochMetrics | None = None
        self._loop_t0 = time.perf_counter()
        for epoch in range(s.epochs):
            self._epoch = epoch + 1
            # One copy per epoch, kept in case a step leaves the weights non-finite.
            self._good_snapshot = (self.step, _state_copy(model))
            set_lr(self.optimizer, self.base_lr * self._factor())
            order = torch.randperm(n, generator=self.shuffle_rng) if s.shuffle else torch.arange(n)
            losses, correct = 0.0, 0
            epoch_t0 = time.perf_counter()
            model.train()
            for b in range(steps_per_epoch):
                if self._attention and self._control():
                    return self._finish(final, stopped=True)
                idx = order[b * s.batch_size : (b + 1) * s.batch_size]
                loss, hits = self._train_step(*self._batch(idx))
                losses += loss * len(idx)
                correct += hits
                self._step_event(loss, hits / len(idx) if self.classify else None, len(idx))
                if self.probes is not None and self.probes.between_steps():
                    model.train()  # probes restore modes; this guards a probe that did not
            final = self._epoch_event(
                losses / n, correct / n if self.classify else None, time.perf_counter() - epoch_t0
            )
            if self.probes is not None:
                self.probes.after_epoch(final=epoch == s.epochs - 1)
        return self._finish(final, stopped=False)

    def _batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.x_train[idx], self.y_train[idx]
        if x.device != self.device:
            x = x.pin_memory() if self.device.type == "cuda" else x
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        return x, y

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        out = self.model(x)
        loss = self.loss_fn(out, y)
        parts = [loss.detach().float()]
        if self.classify:
            parts.append((out.detach().argmax(1) == y).sum().float())
        values = torch.stack(parts).tolist()  # one host sync per step, needed for the NaN check
        if not math.isfinite(values[0]):
            # Checked before the optimiser step, so the weights are still the last good ones.
            raise _NonFinite("loss", values[0])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            if not math.isfinite(float(norm)):
                raise _NonFinite("gradient norm", float(norm))
        if self.probes is not None:
            self.probes.after_backward()
        self.optimizer.step()
        self.step += 1
        return values[0], int(values[1]) if self.classify else 0

    def _step_event(self, loss: float, accuracy: float | None, batch: int) -> None:
        self._samples += batch
        elapsed = max(time.perf_counter() - self._loop_t0 - self._paused_seconds, 1e-9)
        rate = self._samples / elapsed
        eta = (self.total_steps - self.step) * elapsed / self.step
        self._emit(
            StepMetrics(
                self.run_id,
                self.step,
                self._epoch,
                loss,
                self.optimizer.param_groups[0]["lr"],
                rate,
                eta,
                accuracy,
            )
        )

    def _epoch_event(
        self, train_loss: float, train_acc: float | None, seconds: float
    ) -> EpochMetrics:
        val_loss, val_acc, val_mae = self._validate()
        event = EpochMetrics(
            self.run_id,
            self._epoch,
            self.step,
            train_loss,
            val_loss,
            train_acc,
            val_acc,
            val_mae,
            seconds,
        )
        self._emit(event)
        return event

    def _validate(self) -> tuple[float, float | None, float | None]:
        n = len(self.x_val)
        if n == 0:
            return float("nan"), None, None
        total = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss, hits, abs error
        size = self.settings.val_batch_size
        self.model.eval()
        with torch.no_grad():
            for i in range(0, n, size):
                x, y = self.x_val[i : i + size], self.y_val[i : i + size]
                x, y = x.to(self.device), y.to(self.device)
                out = self.model(x)
                total[0] += self.loss_fn(out, y).double() * len(x)
                if self.classify:
                    total[1] += (out.argmax(1) == y).sum()
                else:
                    err = (out.reshape(y.shape) - y).abs()
                    total[2] += (
                        (err * self.y_scale if self.y_scale is not None else err).mean(1).sum()
                    )
        self.model.train()
        loss, hits, abs_err = (v / n for v in total.tolist())
        return loss, (hits if self.classify else None), (None if self.classify else abs_err)

    def _control(self) -> bool:
        """Apply pending changes; wait while paused. True when the run should stop."""
        while True:
            with self._cond:
                sample = self._pending.pop("probe_sample_index", _NO_CHANGE)
                if self._pending:
                    self._apply_changes(self._pending)
                    self._pending = {}
                if sample is _NO_CHANGE:
                    if self._stop:
                        return True
                    if self._pause_requested and not self._paused:
                        self._paused, paused_at = True, time.perf_counter()
                        self._emit(Paused(self.run_id, self.step, True))
                    if not self._pause_requested:
                        if self._paused:
                            self._paused = False
                            self._paused_seconds += time.perf_counter() - paused_at
                            self._emit(Paused(self.run_id, self.step, False))
                        self._attention = False
                        return False
                    self._cond.wait()
                    continue
                if self._stop:
                    return True
            # Outside the lock: the probes take a moment, and update_settings or Pause from the
            # GUI thread must not wait for them. Then look at the flags again (also when paused,
            # so that a sample picked during a pause shows at once).
            self._switch_probe_sample(sample)

    def _switch_probe_sample(self, index: int) -> None:
        if self.probes is not None:
            try:
                self.probes.set_sample(index)
            except ValueError as exc:  # only for a dataset loaded after update_settings
                self._emit_probe("probe_input", None, str(exc))
                return
            finally:
                self.model.train()  # probes restore modes; this guards one that did not
        self._emit(SettingsChanged(self.run_id, self.step, {"probe_sample_index": index}))

    def _apply_changes(self, changes: dict[str, Any]) -> None:
        if "lr" in changes:
            # The change is the learning rate now; the schedule goes on from it.
            self.base_lr = changes["lr"] / self._factor()
            set_lr(self.optimizer, changes["lr"])
        if "grad_clip" in changes:
            self.grad_clip = changes["grad_clip"]
        apply_live_changes(self.optimizer, self.settings.optimizer, changes)
        self._emit(SettingsChanged(self.run_id, self.step, dict(changes)))

    def _factor(self) -> float:
        s = self.settings
        return lr_factor(s.lr_schedule, self._epoch - 1, s.epochs, s.lr_step_epochs, s.lr_gamma)

    def _finish(self, final: EpochMetrics | None, *, stopped: bool) -> Finished:
        seconds = time.perf_counter() - self._t0
        active = max(time.perf_counter() - self._loop_t0 - self._paused_seconds, 1e-9)
        epochs_done = final.epoch if final is not None else 0
        return Finished(
            self.run_id,
            self.step,
            epochs_done,
            stopped,
            seconds,
            self._samples / active,
            final,
            self._current_weights(),
            self._probe_costs(),
        )

    def _probe_costs(self) -> dict[str, tuple[float, float]]:
        if self.probes is None:
            return {}
        scheduler = self.probes.scheduler
        return {k: (cost, scheduler.interval(k)) for k, cost in scheduler.costs().items()}

    def _non_finite_failure(self, bad: _NonFinite) -> Failed:
        word = "NaN" if math.isnan(bad.value) else "infinite"
        step = self.step + 1
        s = self.settings
        lr = self.optimizer.param_groups[0]["lr"]
        typical = TYPICAL_LR[s.optimizer]
        if lr > typical:
            advice = f"the learning rate {lr:g} is probably too high; try {min(lr / 10, typical):g}"
        else:
            advice = f"try a lower learning rate ({lr / 10:g}) or gradient clipping"
        weights = self._current_weights()
        if weights and all(np.isfinite(w).all() for w in weights.values() if w.dtype.kind == "f"):
            kept = (
                f"The weights from step {self.step} are kept."
                if self.step
                else "The initial weights are kept."
            )
        else:
            snap_step, snapshot = self._good_snapshot
            weights = {k: v.detach().cpu().numpy().copy() for k, v in snapshot.items()}
            kept = f"The weights from the start of epoch {self._epoch} (step {snap_step}) are kept."
        subject = "loss" if bad.what == "loss" else "gradient norm"
        message = (
            f"The {subject} became {word} at step {step} (epoch {self._epoch}) — {advice}. {kept}"
        )
        return Failed(self.run_id, self.step, message, weights)

    def _current_weights(self) -> dict[str, np.ndarray]:
        if self.model is None:
            return {}
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def _emit_probe(self, kind: str, data: Any, error: str | None) -> None:
        self._emit(ProbeSnapshot(self.run_id, self.step, kind, data, error))

    def _emit(self, event) -> None:
        dispatch(self.callbacks, event)


_NO_CHANGE = object()  # no pending probe sample change (None is no valid index either)


def check_settings_changes(
    settings: TrainSettings, dataset: Dataset | str, changes: dict[str, Any]
) -> dict[str, Any]:
    """The live changes of :meth:`Trainer.update_settings`, checked and normalised; raises
    SettingsError for a bad value. A probe sample index is checked against ``dataset`` when it
    is loaded (a name or path is checked when the run applies the change)."""
    changes = dict(changes)
    sample = changes.pop("probe_sample_index", _NO_CHANGE)
    clean = check_live_changes(settings.optimizer, changes)
    if sample is not _NO_CHANGE:
        if isinstance(dataset, Dataset):
            split = _probe_split(dataset, settings.val_batch_size)
            problem = sample_index_problem(sample, *split)
        else:
            problem = sample_index_problem(sample, None)
        if problem:
            raise SettingsError(problem)
        clean["probe_sample_index"] = int(sample)
    return clean


def _probe_split(ds: Dataset, val_batch_size: int) -> tuple[int, str]:
    """How many samples the probe sample index ranges over, and from which split (the probes
    use the validation set, or the first val_batch_size training samples when there is none)."""
    if len(ds.x_val):
        return len(ds.x_val), "validation"
    return min(len(ds.x_train), val_batch_size), "training"


def _has_conv2d(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def _state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _loss_fn(name: str, ds: Dataset):
    classify = ds.task == "classification"
    if name == "auto":
        name = "cross_entropy" if classify else "mse"
    if name == "cross_entropy":
        if not classify:
            raise SettingsError(
                f"Cross-entropy needs class labels but '{ds.name}' is a {ds.task} "
                "dataset; choose the MSE loss (or 'auto')."
            )
        return F.cross_entropy
    if classify:
        classes = ds.num_outputs
        return lambda out, y: F.mse_loss(out, F.one_hot(y, classes).to(out.dtype))
    return lambda out, y: F.mse_loss(out.reshape(y.shape), y)


def _readable(exc: BaseException) -> str:
    if isinstance(exc, _USER_ERRORS):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return "The device ran out of memory — lower the batch size or use a smaller model."
    return f"Training stopped because of an unexpected error ({type(exc).__name__}: {text})."


__all__ = ["LOSSES", "SettingsError", "TrainSettings", "Trainer", "check_settings_changes"]
