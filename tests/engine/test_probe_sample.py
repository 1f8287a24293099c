"""Changing the probe sample during a run: new probe_input, sample probes at once, checks."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from engine import probes
from engine.probes.registry import PROBE_KINDS
from engine.training.events import Paused, ProbeSnapshot, SettingsChanged
from engine.training.settings import SettingsError, TrainSettings
from engine.training.trainer import Trainer
from tests.engine._train_fixtures import (
    Recorder,
    cnn_spec,
    image_data,
    mlp_spec,
    rnn_spec,
    sequence_data,
)

# Intervals far longer than the run: any sample probe seen mid-run after the first look (every
# probe once after the first step) came from the change.
SLOW = {kind: 1000.0 for kind in PROBE_KINDS}
FAST = dict(device="cpu", torch_threads=1, batch_size=8, probes=True, probe_intervals=SLOW)


class SampleRecorder(Recorder):
    """Also computes, when a feature_maps snapshot arrives, what the maps of x_val[i] are on
    the model as it is at that moment (the callback runs in the Trainer's thread)."""

    def __init__(self, on_step=None, check_index=None, x_val=None):
        super().__init__(on_step)
        self.check_index, self.x_val = check_index, x_val
        self.expected = {}  # step -> feature maps of x_val[check_index] then

    def on_event(self, event):
        super().on_event(event)
        if isinstance(event, ProbeSnapshot) and event.kind == "feature_maps":
            x = torch.from_numpy(self.x_val[self.check_index : self.check_index + 1])
            self.expected[event.step] = probes.feature_maps(self.trainer.model, x)


def run(spec, data, on_step, recorder=None, **settings):
    rec = recorder or Recorder(on_step)
    trainer = Trainer(spec, data, TrainSettings(**{**FAST, **settings}), [rec])
    rec.trainer = trainer
    return trainer, rec, trainer.run()


def probe_events(rec, kind):
    return [e for e in rec.of(ProbeSnapshot) if e.kind == kind]


def test_changing_the_sample_mid_run_re_emits_its_input_and_feature_maps_at_once():
    data = image_data()

    def change(trainer, event):
        if event.step == 3:
            trainer.update_settings(probe_sample_index=5)

    rec = SampleRecorder(change, check_index=5, x_val=data.x_val)
    trainer, rec, result = run(cnn_spec(), data, None, recorder=rec, epochs=2)
    assert result.step == 10  # 36 samples / 8 = 5 steps × 2 epochs

    inputs = probe_events(rec, "probe_input")
    assert [(e.step, e.data.index) for e in inputs] == [(0, 0), (3, 5)]
    np.testing.assert_array_equal(inputs[1].data.x, data.x_val[5])
    assert inputs[1].data.y == data.y_val[5] and inputs[1].data.split == "val"
    # The feature maps of the new sample come in the same step, not after their interval.
    first_look, *maps = probe_events(rec, "feature_maps")
    assert first_look.step == 1  # every probe runs once after the run's first step
    assert maps[0].step == 3 and rec.events.index(maps[0]) > rec.events.index(inputs[1])
    expected = rec.expected[3]
    assert [m.block_id for m in maps[0].data] == [m.block_id for m in expected]
    for got, want in zip(maps[0].data, expected, strict=True):
        np.testing.assert_allclose(got.maps, want.maps, rtol=1e-6, atol=1e-6)
    other = probes.feature_maps(trainer.model, torch.from_numpy(data.x_val[:1]))
    assert not np.allclose(maps[-1].data[0].maps, other[0].maps)  # the last run used sample 5
    np.testing.assert_allclose(maps[-1].data[0].maps, rec.expected[10][0].maps, atol=1e-6)
    # Recorded like other changes, on its own (not mixed into an optimiser marker).
    assert [(c.step, dict(c.changes)) for c in rec.of(SettingsChanged)] == [
        (3, {"probe_sample_index": 5})
    ]
    assert trainer.model.training  # back in training mode after the probes


def test_gates_and_time_gradients_follow_the_new_sequence_even_while_paused():
    data = sequence_data()
    shown = threading.Event()

    class PauseRecorder(Recorder):
        def on_step_end(self, event):
            if event.step == 2:
                self.trainer.request_pause()

        def on_pause(self, event):
            # From another thread while the run waits: the views must not wait for Resume.
            if event.paused:
                threading.Thread(target=change_then_resume, args=(self.trainer,)).start()

        def on_probe(self, event):
            if event.kind == "time_gradients" and event.step == 2:
                shown.set()

    def change_then_resume(trainer):
        trainer.update_settings(probe_sample_index=7, lr=0.01)
        assert shown.wait(30)
        trainer.request_resume()

    _, rec, result = run(rnn_spec("lstm"), data, None, recorder=PauseRecorder(), epochs=1)
    assert result.step == 4
    kinds = [(type(e).__name__, getattr(e, "kind", None)) for e in rec.events]
    paused = kinds.index(("Paused", None))
    resumed = [i for i, e in enumerate(rec.events) if isinstance(e, Paused) and not e.paused][0]
    between = [e for e in rec.events[paused:resumed] if isinstance(e, ProbeSnapshot)]
    expected = ["probe_input", "block_outputs", "gates", "time_gradients"]
    assert [e.kind for e in between] == expected
    np.testing.assert_array_equal(between[0].data.x, data.x_val[7])
    assert between[2].data[0].layers[0].gates["hidden"].shape == (6, 5)  # T × units
    changes = [dict(c.changes) for c in rec.of(SettingsChanged)]
    assert changes == [{"lr": 0.01}, {"probe_sample_index": 7}]


def test_a_bad_index_is_a_settings_error_at_once():
    trainer = Trainer(cnn_spec(), image_data(), TrainSettings(**{**FAST, "epochs": 1}))
    with pytest.raises(SettingsError, match="outside the 12 samples of the validation set"):
        trainer.update_settings(probe_sample_index=12)
    with pytest.raises(SettingsError, match="outside"):
        trainer.update_settings(probe_sample_index=-1)
    with pytest.raises(SettingsError, match="whole number"):
        trainer.update_settings(probe_sample_index=1.5)
    with pytest.raises(SettingsError, match="whole number"):
        trainer.update_settings(probe_sample_index=True)
    # Nothing was queued: a bad change in one call leaves the others out too.
    with pytest.raises(SettingsError):
        trainer.update_settings(lr=0.1, probe_sample_index=99)
    trainer.update_settings(probe_sample_index=np.int64(11))
    rec = Recorder()
    trainer.callbacks.append(rec)
    trainer.run()
    changes = [dict(c.changes) for c in rec.of(SettingsChanged)]
    assert changes == [{"probe_sample_index": 11}]
    assert type(changes[0]["probe_sample_index"]) is int  # plain, so it pickles and prints
    assert [e.data.index for e in probe_events(rec, "probe_input")] == [0, 11]


def test_an_index_for_data_not_loaded_yet_is_checked_when_applied():
    trainer = Trainer(
        mlp_spec(),
        "moons",
        TrainSettings(**{**FAST, "epochs": 1}),
        dataset_options={"n_samples": 64},
    )
    with pytest.raises(SettingsError, match="0 or more"):
        trainer.update_settings(probe_sample_index=-2)
    trainer.update_settings(probe_sample_index=10_000)  # the size is not known before run()
    rec = Recorder()
    trainer.callbacks.append(rec)
    result = trainer.run()
    assert result.epochs_done == 1  # the run goes on with its sample
    bad = [e for e in probe_events(rec, "probe_input") if e.error]
    assert len(bad) == 1 and "probe sample index 10000 is outside" in bad[0].error
    assert rec.of(SettingsChanged) == []
