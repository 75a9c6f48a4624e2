"""Generate showers from an exported calozoo model with ONNX Runtime alone (no Keras).

    calozoo export g1-3branch --format onnx -o g1.onnx
    python examples/onnx_inference.py g1.onnx --n 8 --energy 100

This is what a Geant4 application does in C++ (Ort::Session, as in Geant4's Par04 example):
feed N×latent_size standard-normal values as "noise", the primary energies in GeV as
"energy" (and the polar angles in degrees as "angle" for angle models); read "showers",
N×X×Y×Z cell energies in GeV, already thresholded.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import onnxruntime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="exported .onnx file")
    parser.add_argument("--n", type=int, default=8, help="showers")
    parser.add_argument("--energy", type=float, default=100.0, help="primary energy [GeV]")
    parser.add_argument("--angle", type=float, default=90.0,
                        help="polar angle [degrees], angle models only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    latent_size = int(metadata["latent_size"])
    rng = np.random.default_rng(args.seed)
    feeds = {"noise": rng.standard_normal((args.n, latent_size), dtype=np.float32),
             "energy": np.full(args.n, args.energy, dtype=np.float32)}
    if "angle" in {value.name for value in session.get_inputs()}:
        feeds["angle"] = np.full(args.n, args.angle, dtype=np.float32)
    (showers,) = session.run(["showers"], feeds)
    totals = showers.reshape(args.n, -1).sum(axis=1)
    print(f"{metadata['calozoo_model']} ({metadata['grid']}, trained "
          f"{json.loads(metadata['trained_ranges'])['energy_range']} GeV): "
          f"{args.n} showers of shape {showers.shape[1:]}")
    print(f"mean deposited energy {totals.mean():.4g} GeV, "
          f"cells > 0: {(showers > 0).sum(axis=(1, 2, 3)).mean():.0f} per shower")


if __name__ == "__main__":
    main()
