"""Draw the comparison of the reference detector with real Geant4 CLIC showers.

Usage: python docs/reference_detector.py  (needs matplotlib: pip install 'calozoo[hep]')
Writes docs/reference-detector.png.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from calozoo.sim import simulate  # noqa: E402
from calozoo.sim import validation as facts  # noqa: E402


def main() -> None:
    energies = np.random.default_rng(3).uniform(13, 480, 3000)
    showers = simulate(energies, particle="photon", seed=11)
    result = facts.compare_with_geant4(showers)
    figure, axes = plt.subplots(1, 3, figsize=(14, 4.2))

    centres = [0.5 * (low + high) for low, high in facts.SAMPLING_FRACTION_BINS]
    axes[0].plot(centres, np.array(result["sampling_fraction"]["geant4"]) * 1e3, "ko",
                 label="Geant4 (real CLIC γ)")
    axes[0].plot(centres, np.array(result["sampling_fraction"]["simulated"]) * 1e3, "rs",
                 label="calozoo clic-wsi")
    axes[0].fill_between(centres, np.array(result["sampling_fraction"]["geant4"]) * 0.9e3,
                         np.array(result["sampling_fraction"]["geant4"]) * 1.1e3, color="0.85",
                         label="±10%")
    axes[0].set(xlabel="primary energy [GeV]", ylabel="ΣE / E [MeV/GeV]",
                title="sampling fraction")
    axes[0].legend()

    centres = [0.5 * (low + high) for low, high in facts.SHOWER_MAX_BINS]
    geant4 = np.array(result["shower_max_layer"]["geant4"])
    axes[1].errorbar(centres, geant4, yerr=1.0, fmt="ko", capsize=4, label="Geant4 ± 1 layer")
    axes[1].plot(centres, result["shower_max_layer"]["simulated"], "rs", label="calozoo")
    axes[1].set(xlabel="primary energy [GeV]", ylabel="layer of the largest deposit",
                title="shower maximum")
    axes[1].legend()

    geant4 = np.array(result["containment"]["geant4"])
    axes[2].errorbar(facts.CONTAINMENT_RADII, geant4, yerr=0.08, fmt="ko", capsize=4,
                     label="Geant4 ± 0.08")
    axes[2].plot(facts.CONTAINMENT_RADII, result["containment"]["simulated"], "rs",
                 label="calozoo")
    axes[2].set(xlabel="radius around the barycentre [cells]", ylabel="energy fraction",
                title="lateral containment")
    axes[2].legend()
    figure.suptitle("Reference detector (GFlash, clic-wsi, 25×25×25, photons 13–480 GeV) "
                    "vs real Geant4 facts")
    figure.tight_layout()
    output = Path(__file__).with_name("reference-detector.png")
    figure.savefig(output, dpi=110)
    for key, value in result.items():
        print(f"{key}: geant4 {value['geant4']}, simulated {np.round(value['simulated'], 5)}")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
