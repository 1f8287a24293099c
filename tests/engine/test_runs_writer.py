"""The recorder's writer thread: checkpoints are real copies, the end waits for the writes,
and a write that fails (or a bug in one) becomes the recorder's problem, never a hang."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch

import engine.runs.recorder as recorder_module
from engine.runs.checkpoint import Progress, copy_checkpoint, read_checkpoint
from engine.runs.folder import new_run_folder, read_metrics, read_run
from engine.runs.recorder import RunRecorder
from engine.training.events import Callback
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer
from tests.engine._train_fixtures import cnn_spec, image_data, mlp_spec, vector_data

FAST = dict(device="cpu", torch_threads=1, batch_size=8, probes=False)


def test_a_checkpoint_copy_is_not_changed_by_the_steps_after_it():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2)
    )
    model(torch.randn(2, 1, 6, 6))
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters())

    def step():
        optimizer.zero_grad()
        model(torch.randn(4, 1, 6, 6)).sum().backward()
        optimizer.step()

    step()
    taken = copy_checkpoint(model=model, optimizer=optimizer, shuffle_rng=torch.Generator(),
                            progress=Progress(1, 1, 4, 1e-3, None), metrics=None, reason="epoch")  # fmt: skip
    frozen = {k: v.clone() for k, v in taken.tensors.items()}
    originals = {**{f"model/{k}": v for k, v in model.state_dict().items()}}
    for index, values in optimizer.state_dict()["state"].items():
        originals.update({f"optimizer/{index}/{k}": v for k, v in values.items()})
    for name, original in originals.items():
        assert (
            taken.tensors[name].untyped_storage().data_ptr()
            != original.untyped_storage().data_ptr()
        ), name
        assert taken.tensors[name].is_contiguous(), name  # the conv weight trains channels-last
    step()
    step()
    changed = [k for k in originals if not torch.equal(originals[k], frozen[k])]
    assert "model/0.weight" in changed and "optimizer/0/exp_avg" in changed
    for name, value in frozen.items():
        assert torch.equal(taken.tensors[name], value), name


class SeesTheEnd(Callback):
    """A callback after the recorder: what is on disk when the run's end reaches it."""

    def __init__(self, folder) -> None:
        self.folder, self.seen = folder, None

    def on_event(self, event) -> None:
        if type(event).__name__ in ("Finished", "Failed"):
            self.seen = (event.step, read_run(self.folder), read_checkpoint(self.folder))


class FailsAtStep(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, event) -> None:
        if event.step == self.step:
            raise RuntimeError("boom")


@pytest.mark.parametrize("fail", [False, True])
def test_the_final_checkpoint_and_status_are_on_disk_when_the_end_is_emitted(
    tmp_path, monkeypatch, fail
):
    real = recorder_module.write_checkpoint
    on_thread = []

    def slow(folder, taken):  # a slow disk: the end must wait for it
        on_thread.append(threading.current_thread().name)
        time.sleep(0.2)
        return real(folder, taken)

    monkeypatch.setattr(recorder_module, "write_checkpoint", slow)
    folder = new_run_folder(tmp_path, "m")
    trainer = Trainer(mlp_spec(), vector_data(n=64), TrainSettings(epochs=3, **FAST))
    end = SeesTheEnd(folder)
    recorder = RunRecorder(folder, trainer, checkpoint_gap=0.0)  # a checkpoint each epoch end
    trainer.callbacks += [recorder, end] + ([FailsAtStep(10)] if fail else [])  # mid epoch 2
    result = trainer.run()
    assert recorder.problem is None
    assert set(on_thread) == {"layerlab-run-writer"}
    step, info, checkpoint = end.seen
    assert step == result.step and info.status == ("failed" if fail else "finished")
    assert checkpoint.progress.step == result.step
    assert checkpoint.info["reason"] == ("failed" if fail else "epoch")
    assert result.step == (10 if fail else 18)
    assert info.get("checkpoint")["step"] == result.step
    assert [r["step"] for r in read_metrics(folder).steps][-1] == result.step
    assert not any(t.name == "layerlab-run-writer" for t in threading.enumerate())


def test_a_bug_in_a_write_is_the_recorders_problem_and_the_run_goes_on(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(recorder_module, "write_probe", broken)
    folder = new_run_folder(tmp_path, "cnn")
    settings = TrainSettings(epochs=2, **{**FAST, "probes": True},
                             probe_intervals={"filters": 0.0})  # fmt: skip
    trainer = Trainer(cnn_spec(), image_data(n=48), settings)
    recorder = RunRecorder(folder, trainer)
    trainer.callbacks.append(recorder)
    result = trainer.run()
    assert type(result).__name__ == "Finished" and result.epochs_done == 2
    assert "internal error (ValueError: a bug)" in recorder.problem
    assert str(folder) in recorder.problem
    assert read_run(folder).get("status") == "running"  # nothing written after the failure


def test_a_checkpoint_file_reads_back_in_safetensors_with_every_dtype_and_shape(tmp_path):
    from safetensors import safe_open

    from engine.runs.checkpoint import _pack, write_safetensors

    tensors = {
        "f64": torch.randn(3, dtype=torch.float64), "f32": torch.randn(2, 3, 4),
        "bf16": torch.randn(5).to(torch.bfloat16), "f16": torch.randn(3).half(),
        "i64": torch.arange(7), "i32": torch.arange(3, dtype=torch.int32),
        "u8": torch.get_rng_state(), "flag": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 4),
        "strided": torch.randn(4, 6).t(),  # not contiguous: packed as its values
    }  # fmt: skip
    data, layout = _pack(tensors)
    for name, entry in layout.items():  # every tensor starts on a multiple of its size
        assert entry["data_offsets"][0] % tensors[name].element_size() == 0, name
    write_safetensors(tmp_path / "x.safetensors", layout, data, {"format": "pt", "k": "v"})
    with safe_open(str(tmp_path / "x.safetensors"), framework="pt") as fh:
        assert fh.metadata() == {"format": "pt", "k": "v"}
        assert set(fh.keys()) == set(tensors)
        for name, original in tensors.items():
            back = fh.get_tensor(name)
            assert back.dtype == original.dtype and back.shape == original.shape, name
            assert torch.equal(back, original), name


def test_step_records_are_the_json_and_csv_a_reader_expects():
    import csv
    import io
    import json
    import math

    from engine.runs.logs import CSV_COLUMNS, _step_texts
    from engine.training.events import StepMetrics

    cases = [
        StepMetrics(1, 12, 2, 0.1 + 0.2, 1e-3, 1234.56, None, 0.75),
        StepMetrics(1, 13, 2, 3e-9, 2.5e-07, 99999.95, None, None),  # regression: no accuracy
        StepMetrics(1, 14, 2, float("nan"), 1e-3, 10.0, None, float("inf")),
    ]
    for e in cases:
        line, row = _step_texts(e, 1764590000.123456)
        assert line.endswith("\n") and row.endswith("\n")
        record = json.loads(line)
        assert record == {**record, "type": "step", "step": e.step, "epoch": e.epoch,
                          "time": 1764590000.123, "lr": e.lr,
                          "samples_per_second": round(e.samples_per_second, 1)}  # fmt: skip
        assert record["loss"] == e.loss or (math.isnan(record["loss"]) and math.isnan(e.loss))
        assert record["accuracy"] == e.accuracy
        cells = next(csv.reader(io.StringIO(row)))
        assert len(cells) == len(CSV_COLUMNS)
        assert cells[:3] == ["step", str(e.step), str(e.epoch)]
        assert cells[5] == ("" if e.accuracy is None else str(e.accuracy))
        assert float(cells[4]) == e.loss or math.isnan(e.loss)


def test_short_epochs_rewrite_run_json_at_most_once_a_flush_and_the_end_is_complete(
    tmp_path, monkeypatch
):
    written = []
    real = recorder_module.write_json_atomic

    def counting(path, data):
        if path.name == "run.json":
            written.append(data["epochs_done"])
        return real(path, data)

    monkeypatch.setattr(recorder_module, "write_json_atomic", counting)
    folder = new_run_folder(tmp_path, "m")
    trainer = Trainer(mlp_spec(), vector_data(n=64), TrainSettings(epochs=6, **FAST))
    trainer.callbacks.append(RunRecorder(folder, trainer, flush_seconds=60.0))
    trainer.run()
    assert written == [0, 6]  # the start, and the end with everything in it
    info = read_run(folder)
    assert info.status == "finished" and info.get("epochs_done") == 6
    assert info.get("checkpoint")["epochs_done"] == 6 and info.get("best")["epoch"] >= 1

    written.clear()
    folder = new_run_folder(tmp_path, "m")
    trainer = Trainer(mlp_spec(), vector_data(n=64), TrainSettings(epochs=3, **FAST))
    trainer.callbacks.append(RunRecorder(folder, trainer, flush_seconds=0.0))
    trainer.run()
    assert written == [0, 1, 2, 3, 3]  # slow epochs (here: any) rewrite it at each end


def test_short_epochs_write_a_checkpoint_a_gap_and_keep_the_best_epochs_weights(
    tmp_path, monkeypatch
):
    """Epochs of a few ms: a checkpoint at the first epoch's end, then none until the end (the
    gap is a minute), yet best.* holds the best epoch, written from the copy taken at its end,
    and the records are all there, in order."""
    real_write, real_best = recorder_module.write_checkpoint, recorder_module.keep_as_best
    written, best = [], []

    def write(folder, taken):
        written.append(taken.info["progress"]["epochs_done"])
        return real_write(folder, taken)

    def keep(folder, info=None):
        best.append(written[-1])
        return real_best(folder, info)

    monkeypatch.setattr(recorder_module, "write_checkpoint", write)
    monkeypatch.setattr(recorder_module, "keep_as_best", keep)
    folder = new_run_folder(tmp_path, "m")
    trainer = Trainer(mlp_spec(), vector_data(n=64), TrainSettings(epochs=12, lr=0.05, **FAST))
    recorder = RunRecorder(folder, trainer, checkpoint_gap=60.0, flush_seconds=60.0)
    trainer.callbacks.append(recorder)
    trainer.run()

    metrics = read_metrics(folder)
    epochs = metrics.epochs
    assert [e["epoch"] for e in epochs] == list(range(1, 13))
    accuracy = [e["val_accuracy"] for e in epochs]
    best_epoch = 1 + accuracy.index(max(accuracy))  # the first to reach it: later ties are no gain
    assert best_epoch > 1, "the run should improve after its first epoch"
    assert written[0] == 1 and written[-1] == 12 and len(written) <= 3
    assert best[-1] == best_epoch
    info = read_run(folder)
    assert info.get("best")["epoch"] == best_epoch
    assert info.get("checkpoint")["epochs_done"] == 12
    kept = read_checkpoint(folder, "best")
    assert kept.progress.epochs_done == best_epoch
    assert kept.info["metrics"]["val_accuracy"] == max(accuracy)
    # Every record, in the order it happened: each epoch after its steps.
    steps = [r["step"] for r in metrics.steps]
    assert steps == list(range(1, 12 * 6 + 1))
    lines = (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    order = [(r["type"], r["step"]) for r in map(json.loads, lines)]
    assert order == sorted(order, key=lambda t: (t[1], t[0] == "epoch"))


def test_a_pause_writes_the_best_epoch_that_waits_for_its_turn(tmp_path):
    """Paused mid-run with a best epoch waiting in memory: its checkpoint is on disk while the
    run is paused (the window may be closed then), not only at the run's end."""
    folder = new_run_folder(tmp_path, "m")
    trainer = Trainer(mlp_spec(), vector_data(n=64), TrainSettings(epochs=12, lr=0.05, **FAST))
    recorder = RunRecorder(folder, trainer, checkpoint_gap=60.0, flush_seconds=60.0)
    accuracy: list[float] = []

    class PauseAtEpoch8(Callback):
        def on_epoch_end(self, event):
            accuracy.append(event.val_accuracy)
            if event.epoch == 8:
                trainer.request_pause()

    trainer.callbacks += [recorder, PauseAtEpoch8()]
    seen = {}

    def look_while_paused():
        deadline = time.monotonic() + 30
        while not trainer.is_paused and time.monotonic() < deadline:
            time.sleep(0.01)
        best = 1 + accuracy.index(max(accuracy))
        while time.monotonic() < deadline:  # the writer thread writes it
            try:
                seen["best"] = (best, read_checkpoint(folder, "best").progress.epochs_done)
                if seen["best"][0] == seen["best"][1]:
                    break
            except Exception:  # not written yet
                pass
            time.sleep(0.01)
        seen["paused"] = trainer.is_paused
        trainer.request_resume()

    looker = threading.Thread(target=look_while_paused)
    looker.start()
    trainer.run()
    looker.join()
    assert seen["paused"]
    best, on_disk = seen["best"]
    assert best > 1 and on_disk == best
