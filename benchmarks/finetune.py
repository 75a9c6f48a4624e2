"""Fine-tuning against training from scratch on a new detector, on the same step budget.

Both runs train the same model with its recipe on showers of the target detector (default:
``pbwo4``) for ``--steps`` batches, and are scored every ``--eval-every`` steps against
reference showers of that detector simulated with a seed used by neither run. The score is the
mean separation power of the shower observables (total energy, hits, shower depth, widths,
cell spectrum: 0 = identical distributions, 1 = disjoint; lower is better). The result is the
number of steps fine-tuning needs to reach the best score that training from scratch reaches
within the budget.

Fine-tuning starts from the model's default weights (trained on ``clic-wsi``). Without shipped
weights the script first trains that starting point itself, ``--pretrain-steps`` batches on
``clic-wsi``, and says so.

Usage: python benchmarks/finetune.py [--model g1-3branch] [--steps 120] [--eval-every 20]
                                     [--batch 32] [--reference 600] [--out DIR]
Prints the score curves and a Markdown row for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import calozoo
from calozoo import registry
from calozoo.metrics import compare
from calozoo.sim import simulate
from calozoo.train import Trainer, training_data

REFERENCE_SEED = 424242


def score(generator, reference) -> float:
    """Mean separation power of the observables between reference and generated showers."""
    generated = generator.generate(reference.energies, reference.angles, seed=1)
    result = compare(reference, (generated, reference.energies, reference.angles),
                     classifier=False)
    values = [value for key, value in result.items()
              if key.startswith("separation/") and key.count("/") == 1 and np.isfinite(value)]
    return float(np.mean(values))


def curve(trainer: Trainer, data, steps: int, eval_every: int, reference) -> list[tuple]:
    """(steps, score, seconds) before training and after every ``eval_every`` steps."""
    points = [(0, score(trainer.generator, reference), 0.0)]
    print(f"  {trainer.name}     0 steps: score {points[0][1]:.3f}", flush=True)
    seconds = 0.0
    for epoch in range(1, steps // eval_every + 1):
        start = time.perf_counter()
        trainer.train(data, epochs=epoch, progress=False)
        seconds += time.perf_counter() - start
        points.append((epoch * eval_every, score(trainer.generator, reference), seconds))
        print(f"  {trainer.name} {points[-1][0]:5d} steps: score {points[-1][1]:.3f}",
              flush=True)
    return points


def starting_point(name: str, args, work: Path):
    """The default weights, or (none shipped) a generator pretrained here on clic-wsi."""
    try:
        generator = calozoo.load(name)
        discriminator = calozoo.load(name, part="discriminator")
        return generator, discriminator, "default weights"
    except FileNotFoundError:          # no weights shipped for this model yet
        pass
    trainer = Trainer(name, work / "pretrain", batch_size=args.batch, seed=args.seed + 1,
                      keep_checkpoints=1)
    data = training_data(name, simulate=args.pretrain_steps * args.batch,
                         detector="clic-wsi", batch_size=args.batch, seed=args.seed + 1,
                         workers=args.workers)
    with data:
        trainer.train(data, epochs=1, progress=False)
    return (trainer.generator, trainer.discriminator,
            f"pretrained here: {args.pretrain_steps} steps on clic-wsi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="g1-3branch")
    parser.add_argument("--detector", default="pbwo4", help="target detector")
    parser.add_argument("--steps", type=int, default=120, help="budget of each run (batches)")
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--pretrain-steps", type=int, default=240)
    parser.add_argument("--reference", type=int, default=600,
                        help="reference showers of the target detector")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"],
                        help="training precision of both runs")
    parser.add_argument("--out", help="write the curves here as JSON")
    args = parser.parse_args()
    if args.steps % args.eval_every:
        parser.error("--steps must be a multiple of --eval-every")
    name = args.model
    info = calozoo.model_info(name)
    conditioning = registry.entry(name).conditioning
    work = Path(tempfile.mkdtemp(prefix="calozoo-finetune-bench-"))
    rng = np.random.default_rng(REFERENCE_SEED)
    energies = rng.uniform(*conditioning.energy_range, args.reference)
    angles = (rng.uniform(*conditioning.angle_range, args.reference)
              if "angle" in info.conditions else None)
    geometry = "x".join(map(str, info.shape))
    reference = simulate(energies, angles, geometry=geometry, detector=args.detector,
                         seed=REFERENCE_SEED)
    # The same target data for both runs: eval_every batches per epoch, reseeded per epoch.
    target = training_data(name, simulate=args.eval_every * args.batch,
                           detector=args.detector, batch_size=args.batch, seed=args.seed,
                           workers=args.workers)
    with target:
        print(f"{name}: from scratch on {args.detector}", flush=True)
        scratch = curve(Trainer(name, work / "scratch", batch_size=args.batch, seed=args.seed,
                                precision=args.precision, keep_checkpoints=1),
                        target, args.steps, args.eval_every, reference)
        generator, discriminator, origin = starting_point(name, args, work)
        print(f"{name}: fine-tuned on {args.detector} from {origin}", flush=True)
        tuned = curve(Trainer(name, work / "tuned", generator=generator,
                              discriminator=discriminator, batch_size=args.batch,
                              seed=args.seed, precision=args.precision, keep_checkpoints=1),
                      target, args.steps, args.eval_every, reference)
    goal = min(value for _, value, _ in scratch)      # the best score scratch reached
    reached = next((steps for steps, value, _ in tuned if value <= goal), None)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"{keras.backend.backend()}, {args.precision}")
    reached_text = (f"{reached}" if reached is not None
                    else f"not within {args.steps}")
    print("\n| model | target | start | batch | budget [steps] | scratch's best score | "
          "fine-tune score at 0 / budget | fine-tune steps to scratch's best | machine | "
          "date |\n|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {name} | {args.detector} | {origin} | {args.batch} | {args.steps} | "
          f"{goal:.3f} | {tuned[0][1]:.3f} / {tuned[-1][1]:.3f} | {reached_text} | {machine} | "
          f"{datetime.date.today()} |")
    if args.out:
        Path(args.out).write_text(json.dumps(
            {"model": name, "detector": args.detector, "start": origin, "batch": args.batch,
             "scratch": scratch, "finetune": tuned, "steps_to_scratch_score": reached},
            indent=2) + "\n")


if __name__ == "__main__":
    main()
