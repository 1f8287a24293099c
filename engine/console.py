"""What `python main.py train` shows on a terminal while it trains: a tqdm progress bar (one
line per epoch when the output is not a terminal), the summary line, and Ctrl+C as Stop."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import TextIO

from engine.training.events import Callback, EpochMetrics, Failed, Finished, RunStarted, StepMetrics


class ProgressPrinter(Callback):
    """A tqdm progress bar on a terminal; one line per epoch otherwise."""

    def __init__(self, out: TextIO, *, tty: bool, quiet: bool = False) -> None:
        self.out, self.tty, self.quiet = out, tty, quiet
        self.bar = None  # the tqdm bar, on a terminal
        self.last_postfix = 0.0

    def on_run_start(self, event: RunStarted) -> None:
        resumed = f", from step {event.first_step}" if event.first_step else ""
        epochs = (
            "until stopped (Ctrl+C)"
            if event.total_epochs is None
            else f"{event.total_epochs} epochs"
        )
        self._line(
            f"Training '{event.model_name}' on '{event.dataset_name}' ({event.device}), "
            f"{epochs} × {event.steps_per_epoch} steps{resumed}"
        )
        if self.tty and not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(
                total=None  # a count with no end
                if event.total_epochs is None
                else max(1, event.total_epochs * event.steps_per_epoch),
                initial=event.first_step,
                file=self.out,
                unit="step",
                dynamic_ncols=True,
                leave=False,
            )

    def on_step_end(self, event: StepMetrics) -> None:
        if self.bar is None:
            return
        self.bar.update(event.step - self.bar.n)
        now = time.perf_counter()
        if now - self.last_postfix >= 0.2:  # the postfix is dearer than the bar itself
            self.last_postfix = now
            self.bar.set_postfix(
                epoch=event.epoch, loss=f"{event.loss:.4f}",
                samples_s=f"{event.samples_per_second:.0f}", refresh=False,
            )  # fmt: skip

    def on_epoch_end(self, event: EpochMetrics) -> None:
        metric = (
            f"val acc {event.val_accuracy:.4f}"
            if event.val_accuracy is not None
            else f"val MAE {event.val_mae:.4g}"
            if event.val_mae is not None
            else ""
        )
        self._line(
            f"epoch {event.epoch}: train loss {event.train_loss:.4f}  "
            f"val loss {event.val_loss:.4f}  {metric}  ({event.seconds:.1f}s)"
        )

    def on_finish(self, event: Finished) -> None:
        self._close_bar()

    def on_fail(self, event: Failed) -> None:
        self._close_bar()

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.out)
        else:
            self.out.write(text + "\n")
            self.out.flush()


def summary(result: Finished) -> str:
    final = result.final
    parts = [f"done: {result.epochs_done} epoch{'s' * (result.epochs_done != 1)}"]
    if final is not None:
        parts.append(f"val loss {final.val_loss:.4f}")
        if final.val_accuracy is not None:
            parts.append(f"val accuracy {final.val_accuracy:.2%}")
        if final.val_mae is not None:
            parts.append(f"val MAE {final.val_mae:.4g}")
    parts += [f"{result.seconds:.1f}s", f"{result.samples_per_second:.0f} samples/s"]
    return ", ".join(parts) + (" (stopped early)" if result.stopped_early else "")


@contextlib.contextmanager
def ctrl_c_stops(trainer, err: TextIO | None):
    """The first Ctrl+C stops the run after its current step, as the window's Stop does (the
    checkpoint, the run folder's status and the exports are then written); a second one
    interrupts at once. ``err`` None: say nothing (a distributed run's other ranks). Only the
    main thread can take signals (tests call us from others)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: float | None = None

    def on_sigint(signum, frame) -> None:
        nonlocal first
        now = time.monotonic()
        # Under torchrun a key press reaches a process twice, from the terminal and forwarded
        # by the launcher: presses within a second are one.
        if first is not None and now - first > 1.0:
            raise KeyboardInterrupt
        if first is None:
            first = now
            if err is not None:
                err.write("\nlayerlab: stopping after this step (Ctrl+C again to quit at once)\n")
            trainer.request_stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
