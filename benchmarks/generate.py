"""Generation throughput per zoo model: the paper's protocol, generate() end to end, the bare
compiled forward pass and the device→host bandwidth, all measured in one run.

Usage:
    python benchmarks/generate.py [--models g1-3branch conv3d] [--precision float32]
                                  [--batch 128] [--scale 0.05] [--out results.md]

--scale shrinks the paper's protocol (20 warm-up batches, then 100 steps of 20 batches of 128)
for the CPU; the printed table says which scale ran. Prints Markdown rows.

On CPUs, benchmarks/cpu.py is the fuller study: every compiled path (graph or XLA, folded or
not), float32 against bfloat16, and ONNX Runtime, each model in one run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
import warnings

import keras
import numpy as np

import calozoo
from calozoo import generation


def _sync(array):
    if hasattr(array, "block_until_ready"):
        return array.block_until_ready()
    return keras.ops.convert_to_numpy(array) if keras.backend.backend() == "tensorflow" \
        else array


def paper_protocol(model, batch: int, precision: str, scale: float) -> tuple[float, str]:
    """Seconds per measurement (100 steps of 20 batches) → showers/s, the paper's Table."""
    decoder = generation.decoder_for(model, model.conditioning, precision, "float32")
    inputs = np.random.default_rng(0).normal(size=(batch, model.input_shape[-1]))
    inputs = inputs.astype(np.float32)
    warmup = max(2, int(20 * scale))
    steps = max(1, int(100 * scale))
    for _ in range(warmup):
        _sync(decoder(inputs))
    start = time.perf_counter()
    for _ in range(steps):
        for _ in range(20):
            out = decoder(inputs)
        _sync(out)
    seconds = time.perf_counter() - start
    return steps * 20 * batch / seconds, f"{warmup} warm-up, {steps}×20 batches"


def bare_forward(model, batch: int, precision: str, batches: int) -> float:
    decoder = generation.decoder_for(model, model.conditioning, precision, "float32")
    inputs = np.random.default_rng(1).normal(size=(batch, model.input_shape[-1]))
    inputs = inputs.astype(np.float32)
    _sync(decoder(inputs))
    start = time.perf_counter()
    for _ in range(batches):
        out = decoder(inputs)
    _sync(out)
    return batches * batch / (time.perf_counter() - start)


def end_to_end(model, batch: int, precision: str, batches: int, **output) -> float:
    energies = np.random.default_rng(2).uniform(2, 500, batch * batches)
    angles = (np.random.default_rng(3).uniform(60, 120, len(energies))
              if "angle" in model.conditioning.conditions else None)
    model.generate(energies[:batch], None if angles is None else angles[:batch], seed=0,
                   batch_size=batch, precision=precision, **output)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # sparse truncation of untrained generators
        model.generate(energies, angles, seed=1, batch_size=batch, precision=precision,
                       **output)
    return len(energies) / (time.perf_counter() - start)


def bandwidth(shape, batch: int, repeats: int = 5) -> tuple[float, float | None]:
    """Device→host GB/s for one batch of float32 showers: through pageable memory (the plain
    copy) and, on JAX, into pinned host memory (what generate() uses on accelerators)."""
    array = keras.ops.ones((batch, *shape), dtype="float32")
    _sync(array)
    size = batch * int(np.prod(shape)) * 4

    def best_of(copy) -> float:
        copy(array * 1.0)
        best = 0.0
        for _ in range(repeats):
            fresh = array * 1.0
            _sync(fresh)
            start = time.perf_counter()
            copy(fresh)
            best = max(best, size / (time.perf_counter() - start) / 1e9)
        return best

    pageable = best_of(generation.to_host)
    sharding = generation.pinned_host_sharding()
    if sharding is None:
        return pageable, None
    import jax
    to_pinned = jax.jit(lambda x: x, out_shardings=sharding)
    return pageable, best_of(lambda x: np.asarray(to_pinned(x).block_until_ready()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=calozoo.list_models())
    parser.add_argument("--precision", default="float32", choices=generation.PRECISIONS)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--scale", type=float, default=1.0 if generation.on_accelerator()
                        else 0.05)
    parser.add_argument("--batches", type=int, default=None,
                        help="batches for the bare/end-to-end comparison")
    parser.add_argument("--out", help="also append the rows to this file")
    args = parser.parse_args()
    batches = args.batches or (200 if generation.on_accelerator() else 6)
    device = "GPU" if generation.on_accelerator() else "CPU"
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {device}"
    header = ("| model | backend | precision | batch | paper protocol [showers/s] | "
              "bare forward | generate() | generate/bare | D→H GB/s pageable / pinned | "
              "D→H-bound showers/s (best) | "
              "generate/min(bare, bound) | generate(), float16 out | generate(), sparse float16 "
              "| machine | date |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [header]
    print(header, flush=True)
    for name in args.models:
        model = calozoo.load(name, weights=None)
        paper, protocol = paper_protocol(model, args.batch, args.precision, args.scale)
        bare = bare_forward(model, args.batch, args.precision, batches)
        full = end_to_end(model, args.batch, args.precision, batches)
        pageable, pinned = bandwidth(model.shape, args.batch)
        gbps = max(pageable, pinned or 0.0)
        bound = gbps * 1e9 / (4 * np.prod(model.shape))
        half = end_to_end(model, args.batch, args.precision, batches, output_dtype="float16")
        sparse = end_to_end(model, args.batch, args.precision, batches, output="sparse",
                            output_dtype="float16")
        line = (f"| {name} | {keras.backend.backend()} | {args.precision} | {args.batch} | "
                f"{paper:,.0f} ({protocol}) | {bare:,.0f} | {full:,.0f} | {full / bare:.2f} | "
                f"{pageable:.1f} / {'–' if pinned is None else f'{pinned:.1f}'} | {bound:,.0f} | "
                f"{full / min(bare, bound):.2f} | {half:,.0f} | "
                f"{sparse:,.0f} | "
                f"{machine} | {datetime.date.today()} |")
        lines.append(line)
        print(line, flush=True)
        if args.out:
            with open(args.out, "w") as handle:
                handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
