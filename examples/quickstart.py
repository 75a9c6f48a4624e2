"""Quickstart: generate showers with a zoo model, simulate reference showers, compare.

Usage: python examples/quickstart.py [--n 200] [--model conv3d] [--weights default|none]

Energies are in GeV. conv3d ships real Geant4 weights (the 3DGAN authors' 2017 checkpoint,
CLIC W/Si ECAL electrons, 100–500 GeV); models without shipped weights need --weights none (a
randomly initialised generator: the comparison then shows how far an untrained model is off).
"""

from __future__ import annotations

import argparse

import numpy as np

import calozoo
from calozoo.sim import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--model", default="conv3d")
    parser.add_argument("--weights", default="default")
    args = parser.parse_args()
    weights = None if args.weights == "none" else args.weights

    energies = np.random.default_rng(0).uniform(100, 500, args.n)      # GeV
    generator = calozoo.load(args.model, weights=weights)
    generated = generator.generate(energies, seed=1)                     # (N, 25, 25, 25) GeV
    reference = simulate(energies, seed=2)                               # the reference detector

    print(f"{args.model} ({'random init' if weights is None else weights}) vs reference, "
          f"{args.n} showers, 100–500 GeV")
    for label, images in (("reference", reference.images), ("generated", generated)):
        total = images.sum(axis=(1, 2, 3))
        longitudinal = images.sum(axis=(0, 1, 2))
        print(f"  {label:9s}  mean ΣE/Ep = {np.mean(total / energies):.4f}   "
              f"mean hits > 1e-5 GeV = {np.mean((images > 1e-5).sum(axis=(1, 2, 3))):7.1f}   "
              f"profile peak at layer {int(longitudinal.argmax())}")


if __name__ == "__main__":
    main()
