"""Ship the best-scoring 2017 3DGAN checkpoint as conv3d's default weights, with its record
and validation report.

Reads the table that ``score.py`` wrote, imports the chosen epoch's generator and discriminator
into ``weights/conv3d/`` (tag ``default``), keeps the two original files beside them for
reproducibility, measures what the record states (the real-CLIC facts with errors, the energy
resolution against the reference detector, the effect of Keras 2's BatchNormalization epsilon)
and writes the report to ``benchmarks/reports/conv3d-default/``.

Usage::

    python benchmarks/conv3d_legacy/ship.py --legacy ../shared/legacy/3dgan-2017 \\
        --scores benchmarks/conv3d_legacy/scores.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHOWERS = 3000
ENERGY_RANGE = (100.0, 500.0)
REPOSITORY = "https://github.com/svalleco/3Dgan"
FOLDER = "keras/energy_gan/results/weights/veganweights"
COMMITS = {
    "early": {"commit": "a2246473a48fcaf5418b5dcd20a15a1ebd960792", "date": "2017-09-01",
              "message": "results with generation, auxiliary and ECAL losses, loss weights "
                         "5 / 0.1 / 0.1"},
    "late": {"commit": "ea8fb87eb4f6e05037ab2420d587ed5cb6e7d63c", "date": "2017-09-04",
             "message": "loss weights 6 / 0.1 / 0.1, mean-percentage-error losses, 50 epochs"},
}
DELETED_IN = "1dffbd3f3c0a7284ca6a25172bc5c8d80a81c705 (2017-09-05)"
LICENSE = ("The repository is licensed Apache-2.0 (LICENSE added to its master branch on "
           "2019-02-21, commit 8322b0dbb28d5089993bc08c964dbfb7dfe5c61c); the commits that "
           "hold the original checkpoint files predate that file and carry no licence of their "
           "own. Credit the authors: cite Khattak et al., Eur. Phys. J. C 82 (2022) 386.")
TRAINING_DATA = {
    "detector": "LCD/CLIC W/Si ECAL (Geant4), 25×25×25 cells of ~5 mm, 25 layers",
    "file": "Ele_v1_1_2.h5 (electrons, perpendicular incidence)",
    "particle": "electron",
    "energies": "fake energies drawn uniformly in Ep/100 ∈ [1, 5], i.e. 100–500 GeV",
    "preprocessing": "dataset ECAL, cells in GeV; cells below 1e-6 GeV set to 0; no power "
                     "transform; primary energy target[:, 1] in GeV",
    "split": "90% train / 10% test",
    "source": "the training script of the checkpoints' commit "
              "(keras/energy_gan/ecal_vegantrain.py), as PROVENANCE.md summarises it",
}
RECIPE = {
    "framework": "Keras 2.0.4, TensorFlow backend, channels-last",
    "optimizer": "RMSprop (Keras defaults)",
    "batch_size": 128,
    "losses": "real/fake: binary cross-entropy; auxiliary energy (Ep/100): mean absolute "
              "percentage error; ECAL sum (2·Ep/100 for fakes): mean absolute percentage error",
    "loss_weights": "6 / 0.1 / 0.1 in the training script (the 2017-09-01 commit message says "
                    "5 / 0.1 / 0.1 for epochs 000–029)",
    "label_flipping": 0.05,
    "generator_steps_per_discriminator_step": 2,
    "epochs": "30 (script of 2017-09-01; epochs 000–029) or 50 (2017-09-04; epoch 049); the "
              "two may be different runs",
    "conditioning": "generator input (Ep/100)·z, z ~ N(0, 1)^200; ReLU output in GeV",
}


def _generate(record_path: Path, energies: np.ndarray) -> np.ndarray:
    import calozoo

    return calozoo.load("conv3d", weights=record_path).generate(energies, seed=1)


def _epsilon_effect(record_path: Path) -> float:
    """Max |Δ| / max over a batch when BatchNormalization uses Keras 2's epsilon 1e-3."""
    import calozoo

    generator = calozoo.load("conv3d", weights=record_path)
    rng = np.random.default_rng(3)
    energies = rng.uniform(*ENERGY_RANGE, 64)
    noise = rng.standard_normal((64, 200)).astype(np.float32)
    inputs = (noise * (energies[:, None] / 100)).astype(np.float32)
    ours = np.asarray(generator(inputs, training=False))      # the published layers, eps 1e-6
    for layer in generator.layers:
        if hasattr(layer, "epsilon"):
            layer.epsilon = 1e-3
    keras2 = np.asarray(generator(inputs, training=False))
    return float(np.abs(ours - keras2).max() / np.abs(ours).max())


def _resolution(images: np.ndarray, energies: np.ndarray, edges) -> list[dict]:
    from calozoo.metrics.observables import mu90_sigma90

    rows = []
    response = images.reshape(len(images), -1).sum(axis=1) / energies
    rng = np.random.default_rng(0)
    for low, high in zip(edges[:-1], edges[1:]):
        values = response[(energies >= low) & (energies <= high)]
        mu, sigma = mu90_sigma90(values)
        boot = [np.divide(*mu90_sigma90(rng.choice(values, len(values)))[::-1])
                for _ in range(200)]
        rows.append({"bin_gev": [float(low), float(high)], "showers": int(len(values)),
                     "mu90": float(mu), "sigma90_over_mu90": float(sigma / mu),
                     "sigma90_over_mu90_error": float(np.std(boot, ddof=1))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legacy", required=True)
    parser.add_argument("--scores", required=True)
    args = parser.parse_args()

    import calozoo
    from calozoo import registry
    from calozoo import weights as weights_lib
    from calozoo.sim import simulate, validation

    table = json.loads(Path(args.scores).read_text())
    if "shipped" not in table:
        raise SystemExit("run gate.py first: it chooses the checkpoint to ship")
    ranked = sorted(table["candidates"], key=lambda row: row["score"])
    best = next(row for row in ranked if row["file"] == table["shipped"])
    passing = [row for row in ranked if row["gate_passed"]]
    epoch = best["epoch"]
    legacy = Path(args.legacy)
    files = {part: legacy / f"params_{part}_epoch_{epoch:03d}.hdf5"
             for part in ("generator", "discriminator")}
    commit = COMMITS["late" if epoch == 49 else "early"]
    source = {"repository": REPOSITORY, **commit,
              "paths": {part: f"{FOLDER}/{path.name}" for part, path in files.items()},
              "deleted_in": DELETED_IN, "epoch": epoch,
              "selection": "the best score (benchmarks/conv3d_legacy/score.py, written "
                           "before any candidate was scored) among the 31 generator "
                           "checkpoints (epochs 000–029, 049) that pass the response gate of "
                           "issue #13 (gate.py); the best score overall, epoch "
                           f"{ranked[0]['epoch']:03d}, fails that gate; full table in "
                           "benchmarks/conv3d_legacy/scores.json",
              "bn_epsilon": "Keras 2.0 BatchNormalization used epsilon 1e-3, calozoo's layers "
                            "1e-6"}
    energies = np.random.default_rng(11).uniform(*ENERGY_RANGE, SHOWERS)
    with tempfile.TemporaryDirectory() as scratch:
        trial = weights_lib.import_legacy("conv3d", generator=files["generator"],
                                          tag="trial", out=scratch)
        trial_path = trial.folder / "trial.json"
        images = _generate(trial_path, energies)
        epsilon_effect = _epsilon_effect(trial_path)
    generated = calozoo.data.Showers(images, energies)
    reference = simulate(energies, particle="electron", seed=12)
    facts = validation.measure_facts(generated, validation.real_facts(*ENERGY_RANGE))
    edges = np.linspace(*ENERGY_RANGE, 5)
    resolution = {"generated": _resolution(images, energies, edges),
                  "reference_detector_electrons": _resolution(reference.images, energies,
                                                              edges)}
    metrics = {
        "selection_score": round(best["score"], 4),
        "selection_score_error": round(best["score_error"], 4),
        "selection_rank": f"{ranked.index(best) + 1} of {len(ranked)} by score, 1 of "
                          f"{len(passing)} passing the gate",
        "gate_response_deviation": best["gate_response_deviation"],
        "showers": SHOWERS, "energies_gev": list(ENERGY_RANGE),
        "real_clic_facts": [{key: (round(value, 5) if isinstance(value, float) else value)
                             for key, value in row.items()} for row in facts],
        "energy_resolution": resolution,
        "bn_epsilon_1e-3_max_relative_change": float(f"{epsilon_effect:.3g}"),
    }
    response = [row for row in facts if row["fact"] == "response"]
    depth = [row for row in facts if row["fact"] == "mean depth"]
    gen_res = resolution["generated"]
    ref_res = resolution["reference_detector_electrons"]
    notes = [
        "Real Geant4 physics: the authors' own checkpoint of the 3DGAN trained on CLIC W/Si "
        "ECAL electrons, 100–500 GeV, perpendicular incidence; energies outside 100–500 GeV "
        "are extrapolation (generate() warns).",
        "Response ΣE/E per 100 GeV bin: " + ", ".join(
            f"{row['value'] * 1e3:.1f} ± {row['error'] * 1e3:.1f}" for row in response)
        + " MeV/GeV (real CLIC photons: " + ", ".join(
            f"{row['geant4'] * 1e3:.1f}" for row in response) + ").",
        "Energy resolution is poor: σ90/μ90 of ΣE/E is " + ", ".join(
            f"{row['sigma90_over_mu90']:.1%} ± {row['sigma90_over_mu90_error']:.1%}"
            for row in gen_res) + " in 100 GeV bins from 100 to 500 GeV, against " + ", ".join(
            f"{row['sigma90_over_mu90'] * 100:.1f}%" for row in ref_res)
        + " for the reference detector's electrons (real CLIC: 6–9% spread within 100 GeV "
          "bins of mixed γ and π0, an upper bound). Use these "
          "weights for shower shapes, not for energy resolution studies.",
        "Mean shower depth: " + ", ".join(
            f"{row['value']:.2f} ± {row['error']:.2f}" for row in depth)
        + " layers in the 100–200 / 200–300 / 300–500 GeV bins (real photons "
        + ", ".join(f"{row['geant4']:.2f}" for row in depth)
        + "; electrons start about one radiation length, ~1.4 layers, earlier).",
        "BatchNormalization epsilon: calozoo uses 1e-6, Keras 2.0 used 1e-3; the largest "
        f"change of any cell is {epsilon_effect:.1g} of the largest cell (negligible).",
    ]
    out = REPO / "weights"
    record = weights_lib.import_legacy(
        "conv3d", generator=files["generator"], discriminator=files["discriminator"],
        tag="default", out=out, source=source, training_data=TRAINING_DATA, recipe=RECIPE,
        metrics=metrics, trained_ranges={"energy_range": [100.0, 500.0], "angle_range": None},
        notes=notes, license=LICENSE,
        citation=[registry.KHATTAK, "calozoo (see CITATION.cff)"], overwrite=True)
    originals = out / "conv3d" / "original"
    originals.mkdir(exist_ok=True)
    for path in files.values():
        shutil.copyfile(path, originals / path.name)
    print(f"shipped epoch {epoch:03d}: {record.folder / 'default.json'}")
    for note in notes:
        print(" -", note)

    report_dir = REPO / "benchmarks" / "reports" / "conv3d-default"
    calozoo.report(reference, generated, report_dir, overwrite=True,
                   title=f"conv3d default weights (3DGAN 2017, epoch {epoch:03d}) vs the "
                         "reference detector's electrons",
                   real_facts=True, notes=notes + [
                       f"{SHOWERS} showers each, primary energies uniform in 100–500 GeV; "
                       "reference: calozoo.sim clic-wsi electrons (GFlash), not Geant4."])
    _selection_page(report_dir, table)
    print(f"report: {report_dir / 'index.html'}")


def _selection_page(report_dir: Path, table: dict) -> None:
    """The full candidate table beside the report, linked from its index.html."""
    import html

    facts = [name for name, _ in table["tolerances"].items()]
    head = ("<tr><th>file</th><th>score</th>" + "".join(f"<th>{html.escape(f)}</th>"
                                                       for f in facts)
            + "<th>response at 100 / 300 / 500 GeV (gate)</th><th>gate</th></tr>")
    rows = []
    for row in sorted(table["candidates"], key=lambda r: r["epoch"]):
        gate = row["gate_response_deviation"]
        mark = " (shipped)" if row["file"] == table["shipped"] else \
            " (best score)" if row["file"] == table["best"] else ""
        rows.append(
            f"<tr><td>{row['file']}{mark}</td><td>{row['score']:.3f} ± "
            f"{row['score_error']:.3f}</td>"
            + "".join(f"<td>{row['fact_scores'][f]:.2f}</td>" for f in facts)
            + "<td>" + " / ".join(f"{gate[e]['deviation']:+.1%} ± {gate[e]['error']:.1%}"
                                  for e in ("100", "300", "500")) + "</td>"
            f"<td>{'pass' if row['gate_passed'] else 'fail'}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>conv3d: choosing the epoch</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px}}</style></head><body>
<h1>conv3d: choosing the 2017 checkpoint to ship</h1>
<p>Score (lower is better; written down before any candidate was scored,
benchmarks/conv3d_legacy/score.py): the mean over six real-CLIC facts of the RMS of
(generated − target) / tolerance over energy bins, 1,500 showers per candidate at
100–500 GeV, error from 100 bootstrap resamples. Per-fact columns are those RMS pulls.
Gate (benchmarks/conv3d_legacy/gate.py, added after the first scoring run because the best
score failed it): the mean response at 100, 300 and 500 GeV within 10% of the real sampling
fraction, including two standard errors. Shipped: the best score among candidates that pass
the gate.</p>
<table>{head}{''.join(rows)}</table></body></html>
"""
    (report_dir / "selection.html").write_text(page)
    index = report_dir / "index.html"
    text = index.read_text()
    link = ('<p>How the epoch was chosen: <a href="selection.html">all 31 candidates, '
            'their scores and the response gate</a>.</p>\n<h2>Verdict</h2>')
    index.write_text(text.replace("<h2>Verdict</h2>", link, 1))


if __name__ == "__main__":
    main()
