"""Fine-tune a zoo generator to a new detector and compare before/after with calozoo's metrics.

Usage: python examples/finetune_new_detector.py [--model conv3d] [--showers 512]
                                                [--epochs 2] [--weights default|none|PATH]

The new detector is the built-in homogeneous PbWO4 calorimeter ("pbwo4"); the reference
showers come from calozoo's simulator, energies in GeV. Sizes here are small enough for a CPU;
a real fine-tuning runs more showers and epochs (on a GPU).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings

import numpy as np

import calozoo
from calozoo import metrics
from calozoo.sim import simulate


def response(generator, reference) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generated = generator.generate(reference.energies, seed=7)
    result = metrics.compare(reference, (generated, reference.energies), classifier=False)
    return {key: result[key] for key in ("response_mu90/ratio/all", "separation/hits",
                                         "separation/sampling_fraction")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="conv3d")
    parser.add_argument("--showers", type=int, default=512, help="training showers per epoch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--weights", default="default")
    args = parser.parse_args()
    weights = None if args.weights == "none" else args.weights

    rng = np.random.default_rng(0)
    reference = simulate(rng.uniform(10, 400, 200), detector="pbwo4", seed=99)  # held out
    before = response(calozoo.load(args.model, weights=weights), reference)
    run_dir = tempfile.mkdtemp(prefix="calozoo-finetune-example-")
    tuned = calozoo.finetune(args.model, simulate=args.showers, detector="pbwo4",
                             epochs=args.epochs, weights=weights, batch_size=args.batch_size,
                             out_dir=run_dir, progress=False)
    after = response(tuned, reference)
    print(f"{args.model} on pbwo4 ({args.showers} showers × {args.epochs} epochs, run in "
          f"{run_dir})")
    for key in before:
        print(f"  {key:32s} before {before[key]:10.4g}   after {after[key]:10.4g}")


if __name__ == "__main__":
    main()
