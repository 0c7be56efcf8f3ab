"""What tunewidgets' Lightning and Hugging Face callbacks cost: an epoch of each library's own trainer
with ``TuneCallback`` inside ``tw.train`` against the same trainer run bare, on the models of
``notebooks/12_lightning_and_transformers.ipynb`` (a LightningModule on the digits, a two-layer BERT
over token ids, both from ``tests/library_fits.py``).

An epoch is the time between two epoch starts (validation and the callback's row included); the first
is left out (set-up). Both arms run interleaved in one process, which goes first alternating; prints,
per library, the median ratio of the median epoch times and the share of the tuned run's time spent
inside the callback's hooks (target <= 1.03, that is <= 3%). The ratio carries the machine's noise
(a few percent either way on a 2-core host); the share is the callback's own cost, measured exactly.

    python benchmarks/bench_integrations.py [--epochs 12] [--repeats 9]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import lightning.pytorch as L  # noqa: E402
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments, set_seed  # noqa: E402

import tunewidgets as tw  # noqa: E402
from library_fits import (LIGHTNING, TRANSFORMER, TokenDocuments, accuracy, digits_loaders,  # noqa: E402
                          lightning_module, quiet, tiny_transformer, token_corpus)
from tunewidgets.integrations import lightning as tw_lightning, transformers as tw_transformers  # noqa: E402


class LightningClock(L.Callback):
    def __init__(self):
        self.starts = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.starts.append(time.perf_counter())


class TransformersClock(TrainerCallback):
    def __init__(self):
        self.starts = []

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.starts.append(time.perf_counter())


def train_lightning(p, callbacks):
    L.seed_everything(0, verbose=False)
    train, val = digits_loaders(p.batch_size)
    trainer = L.Trainer(max_epochs=p.epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
    trainer.fit(lightning_module(L, p), train, val)


def train_transformer(p, callbacks):
    set_seed(0)
    train, val = token_corpus()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, num_train_epochs=p.epochs, learning_rate=p.lr,
                                 per_device_train_batch_size=p.batch_size, per_device_eval_batch_size=150,
                                 eval_strategy="epoch", logging_strategy="epoch", save_strategy="no",
                                 report_to="none", use_cpu=True, disable_tqdm=True)
        trainer = Trainer(model=tiny_transformer(p), args=args, train_dataset=TokenDocuments(train),
                          eval_dataset=TokenDocuments(val), compute_metrics=accuracy, callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)
        trainer.train()


LIBRARIES = {  # name: (train, base, the library's clock, tunewidgets' callback)
    "lightning": (train_lightning, LIGHTNING, LightningClock, tw_lightning.TuneCallback),
    "transformers": (train_transformer, TRANSFORMER, TransformersClock, tw_transformers.TuneCallback),
}


def epoch_seconds(starts):
    return statistics.median(b - a for a, b in zip(starts[1:], starts[2:]))


def bare(library, params):
    train, _, clock_type, _ = LIBRARIES[library]
    clock = clock_type()
    train(tw.Params.of(params), [clock])
    return epoch_seconds(clock.starts)


def timed(callback_type, spent):
    """``callback_type`` with every ``on_*`` hook adding its time to ``spent[0]``."""

    def clocked(hook):
        def wrapper(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return hook(self, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start
        return wrapper

    hooks = {name: clocked(getattr(callback_type, name)) for name in dir(callback_type) if name.startswith("on_")}
    return type(f"Timed{callback_type.__name__}", (callback_type,), hooks)


def tuned(library, params):
    """The median epoch with the callback, and the share of the run's time spent in its hooks."""
    train, _, clock_type, callback = LIBRARIES[library]
    clock, spent = clock_type(), [0.0]
    callback = timed(callback, spent)

    def fit(p, report):
        train(p, [callback(report), clock])  # the clock last: its epoch includes the callback's work

    start = time.perf_counter()
    run = tw.train(fit, params)
    elapsed = time.perf_counter() - start
    assert run.status == "completed", run.traceback
    assert len(run.history) == params["epochs"]
    return epoch_seconds(clock.starts), spent[0] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    quiet()
    for library, (_, base, _, _) in LIBRARIES.items():
        params = {**base, "epochs": args.epochs}
        bare(library, params)  # warm-up: imports, first-call costs
        ratios, epochs, shares = [], [], []
        for repeat in range(args.repeats):
            if repeat % 2:
                (with_callback, share), plain = tuned(library, params), bare(library, params)
            else:
                plain, (with_callback, share) = bare(library, params), tuned(library, params)
            ratios.append(with_callback / plain)
            epochs.append(plain)
            shares.append(share)
        print(f"{library}: epoch {statistics.median(epochs) * 1000:.1f} ms bare; with TuneCallback in tw.train "
              f"{statistics.median(ratios):.3f}x median (min {min(ratios):.3f}, max {max(ratios):.3f}); "
              f"time in the callback's hooks {statistics.median(shares):.2%} of the run (target <= 3%)")


if __name__ == "__main__":
    main()
