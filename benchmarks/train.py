"""Training throughput: real showers per second through each recipe's full training step
(discriminator on real, on fake, generator once or twice), on showers simulated beforehand
and held in memory. The figure is the second epoch's (the first compiles), from history.csv:
the steps and the host's per-batch work (preprocessing, noise, labels), without the checkpoint.

Usage: python benchmarks/train.py [--models g1-3branch conv3d] [--batch 128] [--steps 5]
                                  [--precision float32] [--workers N]
Prints Markdown rows.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import tempfile

import keras

import calozoo
from calozoo.generation import on_accelerator, tf_uses_xla
from calozoo.train import Trainer, training_data


def measure(name: str, batch: int, steps: int, precision: str, workers: int | None) -> float:
    """Showers/s through the training step over one epoch of ``steps`` batches held in memory
    (simulated beforehand, so the figure is the step's, not the simulator's)."""
    with training_data(name, simulate=batch * steps, batch_size=batch, seed=0,
                       workers=workers) as source:
        showers = list(source.epoch(0))
    trainer = Trainer(name, tempfile.mkdtemp(prefix="calozoo-bench-"), batch_size=batch,
                      precision=precision, seed=0, keep_checkpoints=1)
    data = training_data(name, showers, batch_size=batch, seed=0)
    trainer.train(data, epochs=1, progress=False)           # compiles
    trainer.train(data, epochs=2, progress=False)
    with open(trainer.out_dir / "history.csv") as handle:
        last = list(csv.DictReader(handle))[-1]
    return float(last["showers_per_s"])


def _measure_with(name: str, args, precision: str, xla: bool) -> float:
    os.environ["CALOZOO_XLA"] = "1" if xla else "0"
    try:
        return measure(name, args.batch, args.steps, precision, args.workers)
    finally:
        del os.environ["CALOZOO_XLA"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["g1-3branch", "conv3d"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--workers", type=int, default=None,
                        help="processes simulating the data (default: all cores but one)")
    parser.add_argument("--study", action="store_true",
                        help="CPU study: TensorFlow graph float32 and bfloat16, and XLA "
                             "float32, each model in one run (KERAS_BACKEND=tensorflow)")
    parser.add_argument("--xla-models", nargs="*", default=None,
                        help="models whose XLA step the study measures (default: all; XLA "
                             "compiles a GAN step on a CPU for minutes)")
    args = parser.parse_args()
    if args.xla_models is None:
        args.xla_models = args.models
    device = "GPU" if on_accelerator() else "CPU"
    cores = len(os.sched_getaffinity(0))
    machine = f"{platform.processor() or platform.machine()}, {cores} cores, {device}"
    if args.study:
        print(f"showers/s through a full recipe step, batch {args.batch}, {args.steps} steps "
              f"(second epoch), {keras.backend.backend()}, {machine}, {datetime.date.today()}"
              "\n\n| model | graph float32 | graph bfloat16 | XLA float32 | fastest | "
              "the trainer's choice |\n|---|---|---|---|---|---|")
        for name in args.models:
            calozoo.model_info(name)
            rates = {"graph float32": _measure_with(name, args, "float32", False),
                     "graph bfloat16": _measure_with(name, args, "bfloat16", False)}
            if name in args.xla_models:
                rates["XLA float32"] = _measure_with(name, args, "float32", True)
            fastest = max(rates, key=rates.get)
            chosen = "XLA" if tf_uses_xla() else "graph"
            cells = [f"{rates[key]:,.1f}" if key in rates else "not measured"
                     for key in ("graph float32", "graph bfloat16", "XLA float32")]
            print(f"| {name} | " + " | ".join(cells)
                  + f" | {fastest} | {chosen} |", flush=True)
        return
    print("| model | backend | precision | batch | steps | showers/s | "
          "machine | date |\n|---|---|---|---|---|---|---|---|")
    for name in args.models:
        calozoo.model_info(name)
        rate = measure(name, args.batch, args.steps, args.precision, args.workers)
        print(f"| {name} | {keras.backend.backend()} | {args.precision} | {args.batch} | "
              f"{args.steps} | {rate:,.1f} | {machine} | {datetime.date.today()} |", flush=True)


if __name__ == "__main__":
    main()
