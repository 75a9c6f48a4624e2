"""Training throughput: real showers per second through each recipe's full training step
(discriminator on real, on fake, generator once or twice), simulated data in memory.

Usage: python benchmarks/train.py [--models g1-3branch conv3d] [--batch 128] [--steps 5]
                                  [--precision float32]
Prints Markdown rows (first epoch excluded: it compiles).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time

import keras

import calozoo
from calozoo.generation import on_accelerator
from calozoo.train import Trainer, training_data


def measure(name: str, batch: int, steps: int, precision: str) -> float:
    trainer = Trainer(name, tempfile.mkdtemp(prefix="calozoo-bench-"), batch_size=batch,
                      precision=precision, seed=0)
    data = training_data(name, simulate=batch * steps, batch_size=batch, seed=0)
    trainer.train(data, epochs=1, progress=False)           # compiles
    start = time.perf_counter()
    trainer.train(data, epochs=2, progress=False)
    seconds = time.perf_counter() - start
    # the second epoch also simulates its showers; report the history's own figure too
    return batch * steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["g1-3branch", "conv3d"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    args = parser.parse_args()
    device = "GPU" if on_accelerator() else "CPU"
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {device}"
    print("| model | backend | precision | batch | steps | showers/s (incl. simulation) | "
          "machine | date |\n|---|---|---|---|---|---|---|---|")
    for name in args.models:
        calozoo.model_info(name)
        rate = measure(name, args.batch, args.steps, args.precision)
        print(f"| {name} | {keras.backend.backend()} | {args.precision} | {args.batch} | "
              f"{args.steps} | {rate:,.1f} | {machine} | {datetime.date.today()} |", flush=True)


if __name__ == "__main__":
    main()
