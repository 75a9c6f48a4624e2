"""Generation on the CPU, every path measured in one run per model: TensorFlow's graph
kernels (oneDNN) against XLA, float32 against bfloat16, generate() against the bare forward
pass, and ONNX Runtime on the exported file.

Usage: python benchmarks/cpu.py [--models conv3d g1-3branch] [--batch 128] [--batches 4]
Prints a Markdown table for benchmarks/RESULTS.md. Needs the onnx extra for the ONNX column.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
import warnings

import keras
import numpy as np

import calozoo
from calozoo import generation


REPEATS = 3


def _rate(call, batch: int, batches: int) -> float:
    """Best of REPEATS timings of ``batches`` calls, after one warm-up call."""
    call()                                               # compiles / warms up
    best = 0.0
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(batches):
            call()
        best = max(best, batch * batches / (time.perf_counter() - start))
    return best


class _Paths:
    """Force generation's compiled path (XLA or not, folded or not) for a while."""

    def __init__(self, model, xla: bool | None = None, fold: bool | None = None):
        self.model, self.settings = model, {"CALOZOO_XLA": xla, "CALOZOO_FOLD": fold}

    def __enter__(self):
        for key, value in self.settings.items():
            if value is not None:
                os.environ[key] = "1" if value else "0"
        generation._DECODERS.pop(self.model, None)

    def __exit__(self, *exc):
        for key, value in self.settings.items():
            if value is not None:
                del os.environ[key]
        generation._DECODERS.pop(self.model, None)


def bare(model, precision: str, inputs: np.ndarray, batches: int, *, xla: bool,
         fold: bool) -> float:
    """The compiled network + inverse preprocessing alone, on one fixed input batch."""
    with _Paths(model, xla, fold):
        decoder = generation.CompiledDecoder(model, model.conditioning, precision, "float32")
    return _rate(lambda: np.asarray(decoder(inputs)), len(inputs), batches)


def end_to_end(model, precision: str, batch: int, batches: int, xla: bool | None = None,
               fold: bool | None = None) -> float:
    energies = np.random.default_rng(2).uniform(100, 500, batch * batches)
    angles = (np.random.default_rng(3).uniform(60, 120, len(energies))
              if "angle" in model.conditioning.conditions else None)
    with _Paths(model, xla, fold):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.generate(energies[:batch], None if angles is None else angles[:batch],
                           seed=0, batch_size=batch, precision=precision)
            best = 0.0
            for _ in range(REPEATS):
                start = time.perf_counter()
                model.generate(energies, angles, seed=1, batch_size=batch, precision=precision)
                best = max(best, len(energies) / (time.perf_counter() - start))
            return best


def onnx_runtime(model, name: str, inputs: np.ndarray, batches: int, *, xla: bool,
                 fold: bool) -> tuple[float, float] | None:
    """ONNX Runtime on the exported file and, interleaved with it, TensorFlow's fastest bare
    path (``xla``, ``fold``): (ORT rate, TF rate), each the best of REPEATS rounds.

    The two alternate round by round because this shared machine's speed drifts by up to
    25 % over minutes: ONNX Runtime alone measured 880-900/s and 670-690/s on conv3d ten
    minutes apart, so a ratio of rates taken minutes apart says little.
    """
    try:
        import onnxruntime
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = calozoo.export_onnx(model, os.path.join(folder, "g.onnx"), name=name)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = len(inputs)
    rng = np.random.default_rng(4)
    feeds = {"noise": rng.standard_normal((batch, model.latent_size)).astype(np.float32),
             "energy": rng.uniform(100, 500, batch).astype(np.float32)}
    if "angle" in model.conditioning.conditions:
        feeds["angle"] = rng.uniform(60, 120, batch).astype(np.float32)
    with _Paths(model, xla, fold):
        decoder = generation.CompiledDecoder(model, model.conditioning, "float32", "float32")
    calls = {"ort": lambda: session.run(None, feeds),
             "tf": lambda: np.asarray(decoder(inputs))}
    best = dict.fromkeys(calls, 0.0)
    for call in calls.values():
        call()                                            # warm-up
    for _ in range(REPEATS):
        for key, call in calls.items():
            start = time.perf_counter()
            for _ in range(batches):
                call()
            best[key] = max(best[key], batch * batches / (time.perf_counter() - start))
    return best["ort"], best["tf"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=calozoo.list_models())
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    args = parser.parse_args()
    global REPEATS
    REPEATS = args.repeats
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("this study compares TensorFlow's paths: KERAS_BACKEND=tensorflow")
    cores = len(os.sched_getaffinity(0))
    machine = f"{platform.processor() or platform.machine()}, {cores} cores"
    print(f"showers/s, batch {args.batch}, best of {args.repeats} timings of {args.batches} "
          "batches after one warm-up, "
          f"tensorflow {__import__('tensorflow').__version__}, {machine}, "
          f"{datetime.date.today()}\n")
    print("| model | bare f32: graph | graph, folded | XLA | XLA, folded | fastest bare f32 | "
          "generate() f32 | generate / fastest bare | generate() f32 before (XLA, unfolded) "
          "| speed-up | generate() bf16 | bf16 / f32 | ONNX Runtime f32 | ORT / fastest TF f32, "
          "interleaved "
          "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        model = calozoo.load(name, weights=None)
        inputs = np.random.default_rng(1).standard_normal(
            (args.batch, model.input_shape[-1])).astype(np.float32)
        paths = {}
        foldable = generation.folded_call(model) is not None
        for xla in (False, True):
            for fold in (False, True) if foldable else (False,):
                label = ("XLA" if xla else "graph") + (", folded" if fold else "")
                paths[label] = bare(model, "float32", inputs, args.batches, xla=xla, fold=fold)
        which = max(paths, key=paths.get)
        fastest = paths[which]
        full = end_to_end(model, "float32", args.batch, args.batches)
        before = end_to_end(model, "float32", args.batch, args.batches, xla=True, fold=False)
        full_bf16 = end_to_end(model, "bfloat16", args.batch, args.batches)
        measured = onnx_runtime(model, name, inputs, args.batches, xla="XLA" in which,
                                fold="folded" in which)
        ort_text = "–" if measured is None else f"{measured[0]:,.0f}"
        # against the fastest TF path timed in the same rounds (see onnx_runtime)
        ratio_text = "–" if measured is None else \
            f"{measured[0] / measured[1]:.2f} (TF {measured[1]:,.0f})"
        cells = [f"{paths[label]:,.0f}" if label in paths else "–"
                 for label in ("graph", "graph, folded", "XLA", "XLA, folded")]
        print(f"| {name} | {' | '.join(cells)} | {fastest:,.0f} ({which}) | {full:,.0f} | "
              f"{full / fastest:.2f} | {before:,.0f} | {full / before:.1f}× | "
              f"{full_bf16:,.0f} | {full_bf16 / full:.2f} | {ort_text} | {ratio_text} |",
              flush=True)


if __name__ == "__main__":
    main()
