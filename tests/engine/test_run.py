"""The training engine on real data: it learns, it stops, pauses, diverges and fails cleanly."""

import time

import pytest
import torch

import tunewidgets as tw
from helpers.waiting import TEST_TIMEOUT, wait_for, wait_until

FAST = dict(epochs=3, units=32)


def test_seeded_mlp_reaches_95_percent_on_digits_within_30_epochs(digits):
    run = tw.train(digits, tw.HParams(lr=3e-3, epochs=30, seed=0, early_stopping=5))
    assert run.status in ("completed", "early_stopped")
    assert run.history["val_accuracy"].max() >= 0.95
    assert list(run.history.columns[:4]) == ["epoch", "train_loss", "val_loss", "val_accuracy"]
    assert {"val_f1", "val_recall", "lr", "seconds"} <= set(run.history.columns)


@pytest.mark.parametrize("model", ["cnn", "resnet"])
def test_conv_models_learn_digit_images(digits_images, model):
    run = tw.train(digits_images, model=model, layers=2, units=16, epochs=4, lr=3e-3)
    assert run.status == "completed"
    assert run.history["val_accuracy"].iloc[-1] > 0.8
    assert run.history["train_loss"].iloc[-1] < run.history["train_loss"].iloc[0]


def test_regression_mse_falls(regression_data):
    run = tw.train(regression_data, epochs=8, lr=3e-3, units=32)
    h = run.history
    assert {"val_mse", "val_mae", "val_r2"} <= set(h.columns)
    assert h["val_mse"].iloc[-1] < h["val_mse"].iloc[0]
    assert h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]
    assert run.metric == "val_loss" and run.best_metric == h["val_loss"].min()


def test_seeded_runs_are_reproducible_on_cpu(digits):
    hp = tw.HParams(epochs=3, units=32, dropout=0.3, seed=7)
    a, b = tw.train(digits, hp), tw.train(digits, hp)
    cols = ["train_loss", "val_loss", "val_accuracy"]
    assert a.history[cols].equals(b.history[cols])
    c = tw.train(digits, hp.replace(seed=8))
    assert not a.history[cols].equals(c.history[cols])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
def test_every_optimizer_learns(digits, optimizer):
    lr = {"sgd": 0.3, "momentum": 0.05}.get(optimizer, 3e-3)
    run = tw.train(digits, optimizer=optimizer, lr=lr, **FAST)
    assert run.history["val_accuracy"].iloc[-1] > 0.85, run.history


def test_schedules_shape_the_learning_rate(digits):
    step = tw.train(digits, schedule="step", step_size=2, gamma=0.1, lr=1e-2, epochs=4, units=16)
    assert step.history["lr"].round(8).tolist() == [1e-2, 1e-3, 1e-3, 1e-4]
    cosine = tw.train(digits, schedule="cosine", lr=1e-2, epochs=3, units=16)
    assert cosine.history["lr"].iloc[-1] < 1e-6
    onecycle = tw.train(digits, schedule="onecycle", lr=1e-2, epochs=3, units=16)
    assert onecycle.history["lr"].iloc[0] > onecycle.history["lr"].iloc[-1]
    exp = tw.train(digits, schedule="exponential", gamma=0.5, lr=1e-2, epochs=2, units=16)
    assert exp.history["lr"].tolist() == pytest.approx([5e-3, 2.5e-3])


def test_l1_and_l2_shrink_the_weights(digits):
    def weight_norm(run):
        return sum(p.abs().sum().item() for p in run.model.parameters() if p.ndim > 1)

    plain = tw.train(digits, **FAST)
    l1 = tw.train(digits, l1=3e-3, **FAST)
    l2 = tw.train(digits, weight_decay=1e-1, optimizer="adamw", **FAST)
    assert weight_norm(l1) < 0.8 * weight_norm(plain)
    assert weight_norm(l2) < weight_norm(plain)


def test_early_stopping_stops_and_restores_the_best_weights(digits):
    run = tw.train(digits, epochs=60, lr=1e-2, early_stopping=2)
    assert run.status == "early_stopped" and len(run.history) < 60
    x, y = digits.x_val, digits.y_val
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(run.model.eval()(x), y).item()
    assert loss == pytest.approx(run.history["val_loss"].min(), rel=1e-4)


class StopAt(tw.Callback):
    def __init__(self, step):
        self.step, self.seen = step, []

    def on_batch_end(self, run, step, loss):
        self.seen.append(step)
        if step == self.step:
            run.stop()


def test_stop_takes_effect_within_one_batch_and_keeps_the_history(digits):
    cb = StopAt(60)  # 23 batches an epoch: stop during the third epoch
    run = tw.train(digits, epochs=10, callbacks=[cb])
    assert run.status == "stopped"
    assert cb.seen[-1] == 60
    assert len(run.history) == 2  # the two finished epochs are kept


def test_stop_from_another_thread_ends_a_background_run_quickly(digits):
    run = tw.train(digits, epochs=500, batch_size=8, background=True)
    wait_until(lambda: run.epochs_done >= 1, TEST_TIMEOUT, "an epoch", interval=0.01)
    asked = time.perf_counter()
    run.stop()
    assert run.wait(timeout=2) == "stopped"
    assert time.perf_counter() - asked < 0.5
    assert run.epochs_done >= 1


def test_pause_and_resume(digits):
    run = tw.train(digits, epochs=12, batch_size=16, background=True)
    wait_until(lambda: run.epochs_done >= 1, TEST_TIMEOUT, "an epoch", interval=0.01)
    run.pause()
    wait_for(lambda: run.status == "paused", 2, interval=0.01)
    assert run.status == "paused"
    frozen = run.epochs_done
    time.sleep(0.3)
    assert run.epochs_done == frozen
    run.resume()
    assert run.wait(timeout=60) == "completed" and run.epochs_done == 12


def test_a_diverging_run_ends_diverged_without_raising(digits):
    run = tw.train(digits, optimizer="sgd", lr=50, epochs=5)
    assert run.status == "diverged" and run.error is None


def poisoned(fail_after, mode):
    """A factory whose model turns bad after ``fail_after`` training forward passes."""
    class Poisoned(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(64, 10)
            self.calls = 0

        def forward(self, x):
            self.calls += self.training
            if self.calls > fail_after:
                if mode == "raise":
                    raise RuntimeError("boom in forward")
                return self.lin(x) * float("nan")
            return self.lin(x)

    def factory(hp, data):
        return Poisoned()
    return factory


def test_divergence_mid_run_keeps_the_finished_epochs(digits):
    run = tw.train(digits, model=poisoned(50, "nan"), epochs=5)  # 23 batches an epoch
    assert run.status == "diverged" and len(run.history) == 2


def test_an_exception_ends_failed_with_the_error_kept(digits):
    with pytest.warns(UserWarning, match="boom"):
        run = tw.train(digits, model=poisoned(30, "raise"), epochs=5)
    assert run.status == "failed" and "boom in forward" in str(run.error)
    assert "RuntimeError" in run.traceback and len(run.history) == 1


@pytest.mark.parametrize("changes, words", [
    (dict(batch_size=5000), "batch_size=5000 is not allowed: must be >= 1 and <= the 1437 training samples"),
    (dict(model="cnn"), "model='cnn' needs image data"),
    (dict(model=lambda hp, data: "not a module"), "must return a torch.nn.Module"),
])
def test_bad_input_raises_before_training(digits, changes, words):
    with pytest.raises(ValueError, match=words):
        tw.train(digits, **changes)


def test_events_and_callbacks_report_every_epoch(digits):
    calls = []

    class Recorder(tw.Callback):
        def on_train_start(self, run):
            calls.append("start")

        def on_epoch_end(self, run, metrics):
            calls.append(metrics["epoch"])

        def on_train_end(self, run):
            calls.append(run.status)

    run = tw.Run(digits, tw.HParams(epochs=3, units=16), callbacks=[Recorder()])
    queue = run.events.listen()
    seen = []
    run.events.subscribe(seen.append)
    run.start()
    assert calls == ["start", 1, 2, 3, "completed"]
    drained = queue.drain()
    assert [e.epoch for e in drained if e.kind == "epoch"] == [1, 2, 3]
    assert [e.values["status"] for e in drained if e.kind == "status"] == ["running", "completed"]
    assert len(seen) == len(drained) and queue.drain() == []


def test_long_epochs_publish_running_losses_within_the_epoch(digits):
    run = tw.Run(digits, tw.HParams(epochs=2, batch_size=1, units=16))
    queue = run.events.listen()
    run.start()
    batches = [e for e in queue.drain() if e.kind == "batch"]
    assert batches and all(e.values["train_loss"] > 0 for e in batches)
    # Each point says where in training it stands (a fraction of epochs), so a chart can place it.
    at = [e.values["at"] for e in batches]
    assert all(e.epoch - 1 < e.values["at"] <= e.epoch for e in batches)
    assert at == sorted(at) and {e.epoch for e in batches} == {1, 2}


def test_device_is_resolved_and_described(digits):
    run = tw.train(digits, epochs=1, units=8)
    assert run.device.type in ("cpu", "cuda", "mps")
    assert run.device_label.startswith(run.device.type)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_runs_release_gpu_memory(digits):
    hp = tw.HParams(device="cuda", epochs=2, amp=True)
    tw.train(digits, hp)
    before = torch.cuda.memory_allocated()
    runs = [tw.train(digits, hp.replace(seed=s)) for s in range(5)]
    assert all(r.status == "completed" for r in runs)
    assert torch.cuda.memory_allocated() <= before
    assert next(runs[0].model.parameters()).device.type == "cpu"


def test_background_cpu_runs_train_with_the_kernels_threads_and_leave_them(digits):
    """A background run takes the kernel's torch thread count (no pinning to one thread), and says so."""
    seen = []

    class Threads(tw.Callback):
        def on_epoch_end(self, run, metrics):
            seen.append(torch.get_num_threads())

    suite_threads = torch.get_num_threads()
    torch.set_num_threads(2)  # as in a kernel on a 2-core machine
    try:
        torch.ones(10_000).sum()  # the main thread has used torch: its OpenMP team exists
        run = tw.train(digits, epochs=1, units=8, device="cpu", background=True, callbacks=[Threads()])
        run.wait()
        assert seen == [2] and run.device_label == "cpu (2 threads)"
        assert torch.get_num_threads() == 2  # the kernel's own setting is untouched
    finally:
        torch.set_num_threads(suite_threads)
