"""The training loop of one run: epochs of shuffled batches, validation, and its events.

Between steps it looks at the run's :class:`~engine.training.control.RunControl` (one flag read
per step) and applies what was asked for. Everything an event carries is a CPU numpy copy or a
Python number, so no receiver ever holds a live tensor. This is the hot path: it binds what it
reads every step to its own attributes, once.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from engine.runs.checkpoint import Progress
from engine.training.control import RunControl
from engine.training.devices import describe_device
from engine.training.distributed import ProcessGroup
from engine.training.events import (
    EpochMetrics,
    Event,
    Failed,
    Finished,
    Paused,
    RunStarted,
    SettingsChanged,
    StepMetrics,
)
from engine.training.optim import (
    apply_live_changes,
    bare_step,
    grad_clearer,
    lr_factor,
    set_lr,
)
from engine.training.probe_callback import ProbeCallback
from engine.training.settings import TYPICAL_LR
from engine.training.setup import RunSetup

# A loss above this has exploded: no dataset LayerLab loads (targets are standardised) gives a
# loss near it, and a run that goes on from there ends with float32 overflow, or with "finished"
# weights that predict nothing (an lr of 1e30 on one Dense layer ends at a loss of 1e29).
LOSS_LIMIT = 1e15


class _NonFinite(Exception):
    """The loss or the gradient norm stopped being a finite number (or the loss exploded)."""

    def __init__(self, what: str, value: float) -> None:
        super().__init__(what)
        self.what, self.value = what, value


class TrainingLoop:
    """Trains ``setup`` to the end, a Stop, or a non-finite loss; reports through ``emit``.

    ``after_backward`` are called between backward and the optimiser step; ``probes`` (when
    on) is told when the probe sample changes. ``started``: when the run began (perf_counter),
    for the run's total seconds. ``start``: where a resumed run goes on from (its weights and
    optimiser state are already loaded)."""

    def __init__(
        self,
        setup: RunSetup,
        control: RunControl,
        *,
        run_id: int,
        model_name: str,
        run_folder: str | None = None,
        emit: Callable[[Event], None],
        after_backward: tuple[Callable[[], None], ...] = (),
        probes: ProbeCallback | None = None,
        started: float,
        start: Progress | None = None,
        group: ProcessGroup | None = None,
    ) -> None:
        self.setup, self.control, self.run_id, self.model_name = setup, control, run_id, model_name
        self.run_folder = run_folder
        self.emit, self.after_backward, self.probes, self.started = (
            emit, after_backward, probes, started,
        )  # fmt: skip
        self.model, self.optimizer, self.loss_fn = setup.model, setup.optimizer, setup.loss_fn
        self.x_train, self.y_train, self.device = setup.x_train, setup.y_train, setup.device
        # The data stays on the CPU when it does not fit on the device: each batch goes over.
        self._copy_batches = self.x_train.device != self.device
        # On the CPU a number is read from a tensor for free, and two .item() calls cost less
        # than stacking the loss and the hits into one tensor; on a GPU each read is a sync.
        self._read_each = self.device.type == "cpu"
        # zero_grad and step without torch's profiler ranges: ~15 µs of a small model's step.
        self._clear_grads, self._optimizer_step = (
            grad_clearer(self.optimizer),
            bare_step(self.optimizer),
        )
        self.classify = setup.classify
        s = setup.settings
        # A distributed run (engine/training/distributed.py): this rank trains its share of
        # each batch through DDP, and the step's sums are reduced over every rank.
        self.group = group
        self.train_model = group.wrap(self.model) if group is not None else self.model
        self.steps_per_epoch = math.ceil(len(self.x_train) / s.batch_size)
        if group is not None and 0 < len(self.x_train) % s.batch_size < group.world_size:
            # A last batch smaller than the number of processes would leave a rank with nothing
            # to train on: the epoch ends before it (the run's one difference from one process).
            self.steps_per_epoch -= 1
        # None when the run goes on until stopped (no end, so no ETA either).
        self.total_steps = None if s.epochs is None else self.steps_per_epoch * s.epochs
        start = start or Progress(0, 0, 0, s.lr, s.grad_clip)
        self.first_epoch, self.first_step, self.samples_before = (
            start.epochs_done, start.step, start.samples,
        )  # fmt: skip
        self.base_lr, self.grad_clip = start.base_lr, start.grad_clip  # live settings change them
        self.step = start.step  # optimiser steps done, over every part of a resumed run
        self.epoch = start.epochs_done  # the epoch in progress, from 1
        self.samples = 0  # in this part of the run, for its rate
        self.loop_started = started
        # One copy per epoch, kept in case a step leaves the weights non-finite.
        self.good_state: tuple[int, dict[str, torch.Tensor]] | None = None

    def run(self) -> Finished | Failed:
        try:
            return self._epochs()
        except _NonFinite as bad:
            return self._non_finite_failure(bad)

    def _epochs(self) -> Finished:
        s, model, control = self.setup.settings, self.model, self.control
        n = len(self.x_train)
        self.emit(RunStarted(
            self.run_id, self.model_name, self.setup.data.name, describe_device(self.device),
            s.epochs, self.steps_per_epoch, s.to_dict(), self.first_step, self.first_epoch,
            self.run_folder, self.group.world_size if self.group is not None else 1,
        ))  # fmt: skip
        final: EpochMetrics | None = None
        self.loop_started = time.perf_counter()
        epochs = (
            itertools.count(self.first_epoch)
            if s.epochs is None
            else range(self.first_epoch, s.epochs)
        )
        for epoch in epochs:
            self.epoch = epoch + 1
            self.good_state = (self.step, _state_copy(model))
            set_lr(self.optimizer, self.base_lr * self._factor())
            order = (
                torch.randperm(n, generator=self.setup.shuffle_rng)
                if s.shuffle
                else torch.arange(n)
            )
            losses, correct = 0.0, 0
            epoch_t0 = time.perf_counter()
            model.train()
            # The batches' indices, and their sizes as numbers: a tensor's len() and slicing
            # cost a few microseconds each, where a small model's whole step takes ~500.
            batches = order.split(s.batch_size)[: self.steps_per_epoch]
            sizes = [min(s.batch_size, n - b * s.batch_size) for b in range(len(batches))]
            for idx, size in zip(batches, sizes, strict=True):
                stop = control.attention and control.between_steps(
                    self._apply_changes, self._switch_probe_sample, self._paused_changed
                )
                if stop and self.group is None:
                    return self._finish(final, stopped=True)
                if self.group is None:
                    loss, hits = self._train_step(*self._batch(idx))
                else:  # every rank stops after the same step, whichever was asked
                    loss, hits, stop = self._shared_step(idx, stop)
                losses += loss * size
                correct += hits
                self._step_event(loss, hits / size if self.classify else None, size)
                if stop:
                    return self._finish(final, stopped=True)
            final = self._epoch_event(
                losses / n, correct / n if self.classify else None, time.perf_counter() - epoch_t0
            )
        return self._finish(final, stopped=False)

    def _batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.x_train[idx], self.y_train[idx]
        if self._copy_batches:
            x = x.pin_memory() if self.device.type == "cuda" else x
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        return x, y

    def _shared_step(self, idx: torch.Tensor, stop: bool) -> tuple[float, int, bool]:
        """One step of a distributed run: this rank's share of the batch ``idx``, the loss and
        hits of the whole batch, and whether any rank was asked to stop."""
        mine = self.group.shard(idx)
        # DDP averages the ranks' gradients; weighting each rank's mean loss by its share makes
        # that average the gradient of the whole batch's mean loss, also for unequal shares.
        weight = len(mine) * self.group.world_size / len(idx)
        loss, hits, stop = self._train_step(*self._batch(mine), weight=weight, stop=stop)
        return loss, hits, stop

    def _train_step(
        self, x: torch.Tensor, y: torch.Tensor, *, weight: float = 1.0, stop: bool = False
    ) -> tuple:
        out = self.train_model(x)
        loss = self.loss_fn(out, y)
        if self._read_each and self.group is None:
            values = [loss.item(), _hits_on_cpu(out, y) if self.classify else 0]
        else:
            hits = (out.detach().argmax(1) == y).sum() if self.classify else None
            parts = [loss.detach().float()] + ([hits.float()] if hits is not None else [])
            if self.group is None:
                values = torch.stack(parts).tolist()  # one host sync a step, for the NaN check
            else:
                # One collective a step: the whole batch's loss and hits, and the stop flag (a
                # rank that stopped alone would leave the others waiting in the next all-reduce).
                hits = parts[1] if self.classify else torch.zeros((), device=x.device)
                sums = torch.stack([parts[0] * len(x), hits, torch.tensor(float(len(x))).to(hits),
                                    torch.tensor(float(stop)).to(hits)]).double()  # fmt: skip
                total = self.group.sum(sums).tolist()
                values, stop = [total[0] / total[2], total[1]], total[3] > 0
                loss = loss * weight
        if not math.isfinite(values[0]) or values[0] > LOSS_LIMIT:
            # Checked before the optimiser step, so the weights are still the last good ones.
            raise _NonFinite("loss", values[0])
        self._clear_grads()
        loss.backward()
        if self.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            if not math.isfinite(float(norm)):
                raise _NonFinite("gradient norm", float(norm))
        for hook in self.after_backward:
            hook()
        self._optimizer_step()
        self.step += 1
        hits = int(values[1]) if self.classify else 0
        return (values[0], hits) if self.group is None else (values[0], hits, stop)

    def _step_event(self, loss: float, accuracy: float | None, batch: int) -> None:
        self.samples += batch
        elapsed = self._active_seconds()
        rate = self.samples / elapsed
        eta = (
            None
            if self.total_steps is None
            else (self.total_steps - self.step) * elapsed / (self.step - self.first_step)
        )
        lr = self.optimizer.param_groups[0]["lr"]
        self.emit(StepMetrics(self.run_id, self.step, self.epoch, loss, lr, rate, eta, accuracy))

    def _epoch_event(
        self, train_loss: float, train_acc: float | None, seconds: float
    ) -> EpochMetrics:
        val_loss, val_acc, val_mae = self._validate()
        event = EpochMetrics(
            self.run_id, self.epoch, self.step, train_loss, val_loss, train_acc, val_acc, val_mae,
            seconds,
        )  # fmt: skip
        self.emit(event)
        return event

    def _validate(self) -> tuple[float, float | None, float | None]:
        setup = self.setup
        n = len(setup.x_val)
        if n == 0:
            return float("nan"), None, None
        total = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss, hits, abs error
        size = setup.settings.val_batch_size
        x_val, y_val = setup.x_val, setup.y_val
        if self.group is not None:  # each rank its part; the sums are reduced below
            x_val = x_val.tensor_split(self.group.world_size)[self.group.rank]
            y_val = y_val.tensor_split(self.group.world_size)[self.group.rank]
        self.model.eval()
        with torch.no_grad():
            for i in range(0, len(x_val), size):
                x, y = x_val[i : i + size], y_val[i : i + size]
                x, y = x.to(self.device), y.to(self.device)
                out = self.model(x)
                total[0] += self.loss_fn(out, y).double() * len(x)
                if self.classify:
                    total[1] += (out.argmax(1) == y).sum()
                else:
                    err = (out.reshape(y.shape) - y).abs()
                    scale = setup.y_scale
                    total[2] += (err * scale if scale is not None else err).mean(1).sum()
        self.model.train()
        if self.group is not None:
            self.group.sum(total)
        loss, hits, abs_err = (v / n for v in total.tolist())
        return loss, (hits if self.classify else None), (None if self.classify else abs_err)

    def drop_ddp(self) -> None:
        """Let go of the DDP wrapper at the run's end, while the process group is still there:
        destroyed after the group (at interpreter exit), its reducer's threads abort the
        process ("terminate called without an active exception")."""
        import gc

        self.train_model = self.model
        gc.collect()  # DDP holds reference cycles

    def progress(self, epochs_done: int) -> Progress:
        """Where the run is, for a checkpoint taken after ``epochs_done`` whole epochs."""
        return Progress(
            epochs_done, self.step, self.samples_before + self.samples, self.base_lr,
            self.grad_clip,
        )  # fmt: skip

    # ------------------------------------------------------------ what RunControl applies

    def _apply_changes(self, changes: dict[str, Any]) -> None:
        if "lr" in changes:
            # The change is the learning rate now; the schedule goes on from it.
            self.base_lr = changes["lr"] / self._factor()
            set_lr(self.optimizer, changes["lr"])
        if "grad_clip" in changes:
            self.grad_clip = changes["grad_clip"]
        apply_live_changes(self.optimizer, self.setup.settings.optimizer, changes)
        self.emit(SettingsChanged(self.run_id, self.step, dict(changes)))

    def _switch_probe_sample(self, index: int) -> None:
        if self.probes is not None and not self.probes.set_sample(index):
            return
        # Its own marker, apart from the optimiser's settings, so the curves tell them apart.
        self.emit(SettingsChanged(self.run_id, self.step, {"probe_sample_index": index}))

    def _paused_changed(self, paused: bool) -> None:
        self.emit(Paused(self.run_id, self.step, paused))

    def _factor(self) -> float:
        s = self.setup.settings
        return lr_factor(s.lr_schedule, self.epoch - 1, s.epochs, s.lr_step_epochs, s.lr_gamma)

    # ------------------------------------------------------------ the end

    def _active_seconds(self) -> float:
        """Seconds of training so far, pauses left out."""
        now = time.perf_counter()
        return max(now - self.loop_started - self.control.paused_seconds, 1e-9)

    def _finish(self, final: EpochMetrics | None, *, stopped: bool) -> Finished:
        return Finished(
            self.run_id,
            self.step,
            final.epoch if final is not None else 0,
            stopped,
            time.perf_counter() - self.started,
            self.samples / self._active_seconds(),
            final,
            self.setup.weights(),
            self.probes.costs() if self.probes is not None else {},
        )

    def _non_finite_failure(self, bad: _NonFinite) -> Failed:
        if math.isfinite(bad.value):
            what = f"exploded to {bad.value:.3g} (a run stops when its loss passes {LOSS_LIMIT:g})"
        else:
            what = f"became {'NaN' if math.isnan(bad.value) else 'infinite'}"
        lr = self.optimizer.param_groups[0]["lr"]
        typical = TYPICAL_LR[self.setup.settings.optimizer]
        if lr > typical:
            advice = f"the learning rate {lr:g} is probably too high; try {min(lr / 10, typical):g}"
        elif self.grad_clip is None:
            # An exploding gradient (a recurrent network on long sequences, README "The exploding
            # gradient, and clipping"): clipping bounds the step where a lower rate only delays it.
            advice = (
                f"clip the gradient norm at 1 (Gradient clip in the Training panel, --grad-clip 1 "
                f"on the command line) or try a lower learning rate ({lr / 10:g})"
            )
        else:
            advice = (
                f"try a lower learning rate ({lr / 10:g}) or a smaller gradient clip than "
                f"{self.grad_clip:g}"
            )
        weights = self.setup.weights()
        if weights and all(np.isfinite(w).all() for w in weights.values() if w.dtype.kind == "f"):
            kept = (
                f"The weights from step {self.step} are kept."
                if self.step
                else "The initial weights are kept."
            )
        else:
            good_step, state = self.good_state
            weights = {k: v.detach().cpu().numpy().copy() for k, v in state.items()}
            kept = f"The weights from the start of epoch {self.epoch} (step {good_step}) are kept."
        subject = "loss" if bad.what == "loss" else "gradient norm"
        message = (
            f"The {subject} {what} at step {self.step + 1} (epoch {self.epoch}) — {advice}. {kept}"
        )
        return Failed(self.run_id, self.step, message, weights)


def _hits_on_cpu(out: torch.Tensor, y: torch.Tensor) -> int:
    """How many rows of ``out`` have their largest score at ``y``'s class. In numpy, on views of
    the same memory: three torch calls and an .item() cost ~12 µs, this ~6."""
    if out.dtype not in (torch.float32, torch.float64):
        return int((out.detach().argmax(1) == y).sum())
    return int(np.count_nonzero(out.detach().numpy().argmax(1) == y.numpy()))


def _state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
