"""The probes as a training callback: the Trainer adds one when ``settings.probes`` is on.

Every probe runs once after the run's first step, so every view shows data within the first
second of a run. Then each kind runs at the point of a step where the registry says it
belongs: right after backward (the step's gradients), between steps, or after an epoch; on the
last epoch every probe runs once, so that however short the run, every view ends showing the
trained network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.probes.schedule import ProbeRunner
from engine.training.events import Callback, EpochMetrics, RunStarted, StepMetrics
from engine.training.setup import RunSetup

Report = Callable[[str, Any, str | None], None]  # (kind, data, error)


class ProbeCallback(Callback):
    """Runs a :class:`ProbeRunner` during a run and reports what it finds through ``report``."""

    def __init__(self, runner: ProbeRunner) -> None:
        self.runner = runner
        self._epochs = 0  # the run's length, from its RunStarted

    @classmethod
    def for_run(cls, setup: RunSetup, report: Report) -> ProbeCallback:
        """The probes for the run ``setup`` describes, with its probe settings. ValueError (a
        sentence) for a probe sample index outside the data."""
        s, device = setup.settings, setup.device
        return cls(
            ProbeRunner(
                setup.model,
                task=setup.data.task,
                num_classes=setup.data.num_outputs,
                loss_fn=setup.loss_fn,
                x_val=setup.x_val.to(device),
                y_val=setup.y_val.to(device),
                x_train=setup.x_train[: s.val_batch_size].to(device),
                y_train=setup.y_train[: s.val_batch_size].to(device),
                sample_index=s.probe_sample_index,
                kinds=s.probe_kinds,
                intervals=s.probe_intervals,
                budget=s.probe_budget,
                emit=report,
            )
        )

    def on_run_start(self, event: RunStarted) -> None:
        self._epochs = event.total_epochs
        # The views that show the chosen sample need it before its first probe result.
        self.runner.emit("probe_input", self.runner.sample, None)

    def on_after_backward(self) -> None:
        self.runner.after_backward()

    def on_step_end(self, event: StepMetrics) -> None:
        if self.runner.between_steps():
            self.runner.model.train()  # probes restore modes; this guards a probe that did not

    def on_epoch_end(self, event: EpochMetrics) -> None:
        self.runner.after_epoch(final=event.epoch == self._epochs)

    def set_sample(self, index: int) -> bool:
        """Look at sample ``index`` from now on (its probes run at once); False, reported as
        the "probe_input" error, for an index outside the data."""
        try:
            self.runner.set_sample(index)
        except ValueError as exc:  # only for a dataset loaded after update_settings
            self.runner.emit("probe_input", None, str(exc))
            return False
        finally:
            self.runner.model.train()  # probes restore modes; this guards one that did not
        return True

    def costs(self) -> dict[str, tuple[float, float]]:
        """Per kind that ran: (seconds per run, seconds between runs now)."""
        scheduler = self.runner.scheduler
        return {k: (cost, scheduler.interval(k)) for k, cost in scheduler.costs().items()}
