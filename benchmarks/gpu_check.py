"""Every CUDA path, exercised and measured on a real GPU; prints each figure.

1. ``device="auto"`` picks the GPU and a run's label names it.
2. Mixed precision: ``amp=True`` trains with bf16 where the GPU supports it, and with fp16 and a
   gradient scaler where it does not (forced here to exercise that path too); both reach the
   accuracy of full precision.
3. Memory: after each of 50 sweep trials, ``torch.cuda.memory_allocated()`` is back at its baseline
   (the data's cached copy on the GPU included in the baseline).
4. Batched: 64 configurations trained as one group against one after another (target >= 20x on an
   H100/H200).
5. The TrainPanel's status line names the GPU.

Without a CUDA GPU it says so and exits 0.

    python benchmarks/gpu_check.py [--epochs 10]
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import torch

import tunewidgets as tw
from tunewidgets.engine.batched import train_batched


def check(label: str, ok: bool, detail: str) -> bool:
    print(f"[{'ok' if ok else 'FAIL'}] {label}: {detail}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU: nothing to check here (run this on a machine with one)")
        return 0
    data = tw.load_dataset("digits")
    name = torch.cuda.get_device_name(0)
    results = []

    run = tw.train(data, epochs=args.epochs, seed=0)
    results.append(check("device auto", run.device.type == "cuda" and name in run.device_label,
                         f"{run.device_label}, val_accuracy {run.best_metric:.4f}"))

    full = run.best_metric
    bf16 = tw.train(data, epochs=args.epochs, seed=0, amp=True)
    with mock.patch("torch.cuda.is_bf16_supported", lambda *a, **k: False):
        fp16 = tw.train(data, epochs=args.epochs, seed=0, amp=True)
    results.append(check("amp", min(bf16.best_metric, fp16.best_metric) > full - 0.03,
                         f"full {full:.4f}, bf16 {bf16.best_metric:.4f}, fp16 + GradScaler {fp16.best_metric:.4f}"))

    tw.train(data, epochs=1)  # the data's copy on the GPU is part of the baseline
    torch.cuda.synchronize()
    baseline = torch.cuda.memory_allocated()
    after: list[int] = []

    def on_event(event):
        if event.kind == "status" and event.values.get("status") not in ("running", None):
            torch.cuda.synchronize()
            after.append(torch.cuda.memory_allocated())

    sw = tw.sweep(data, tw.Space(lr=tw.LogUniform(1e-4, 1e-1), units=tw.Choice([64, 256, 1024])),
                  strategy="random", n_trials=50, base=tw.HParams(epochs=3), seed=0, start=False)
    sw.events.subscribe(on_event)
    sw.start()
    leaks = [a - baseline for a in after if a > baseline]
    results.append(check("memory after each of 50 trials", len(after) == 50 and not leaks,
                         f"baseline {baseline / 2**20:.1f} MiB; {len(after)} trials ended; "
                         f"above baseline: {len(leaks)} (max {max(leaks, default=0) / 2**20:.1f} MiB)"))

    hps = [tw.HParams(lr=lr, dropout=d, seed=s, epochs=args.epochs) for lr in (1e-3, 3e-3, 1e-2, 3e-2)
           for d in (0.0, 0.1, 0.2, 0.3) for s in range(4)]
    train_batched(data, hps[:2])  # warm-up
    torch.cuda.synchronize()
    started = time.perf_counter()
    runs = train_batched(data, hps)
    torch.cuda.synchronize()
    batched = time.perf_counter() - started
    started = time.perf_counter()
    one_by_one = [tw.train(data, hp) for hp in hps]
    torch.cuda.synchronize()
    sequential = time.perf_counter() - started
    same = max(abs(a.best_metric - b.best_metric) for a, b in zip(runs, one_by_one))
    results.append(check("batched 64 configurations", sequential / batched >= 20,
                         f"group {batched:.2f} s, one after another {sequential:.2f} s: {sequential / batched:.1f}x "
                         f"(target >= 20x); largest accuracy difference {same:.4f}"))

    panel = tw.TrainPanel(data, tw.HParams(epochs=2))
    panel.start()
    panel.wait(120)
    results.append(check("TrainPanel status line", name in panel.status.value, panel.status.value))
    print(f"{sum(results)}/{len(results)} checks passed on {name}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
