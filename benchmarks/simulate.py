"""Throughput of the reference-detector simulator (showers per second, in memory).

Usage: python benchmarks/simulate.py [--n 4000] [--repeats 3]
Prints a Markdown table row per geometry; copy it into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np

from calozoo.sim import simulate


def measure(n: int, repeats: int, geometry: str, angles: bool) -> float:
    rng = np.random.default_rng(0)
    energies = rng.uniform(2, 500, n)
    tilt = rng.uniform(60, 120, n) if angles else None
    simulate(energies[:64], None if tilt is None else tilt[:64], geometry=geometry, seed=0)
    best = 0.0
    for repeat in range(repeats):
        start = time.perf_counter()
        simulate(energies, tilt, geometry=geometry, seed=repeat)
        best = max(best, n / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    date = datetime.date.today().isoformat()
    print("| geometry | energies | angles | showers | showers/s (best of "
          f"{args.repeats}) | machine | date |")
    print("|---|---|---|---|---|---|---|")
    for geometry, angles in (("25x25x25", False), ("51x51x25", False), ("51x51x25", True)):
        rate = measure(args.n, args.repeats, geometry, angles)
        print(f"| {geometry} | U(2, 500) GeV | {'U(60, 120)°' if angles else '90°'} | "
              f"{args.n} | {rate:,.0f} | {machine} | {date} |")


if __name__ == "__main__":
    main()
