"""``calozoo.report(reference, generated, out_dir)``: plots, index.html and summary.json.

Needs matplotlib (``pip install 'calozoo[hep]'``); uses mplhep's style when installed.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from calozoo import _files
from calozoo.metrics import comparison as compare_module
from calozoo.metrics.observables import mu90_sigma90
from calozoo.metrics.summary import CELL_EDGES, Summary, summarise

COLOURS = {"reference": "black", "generated": "tab:red"}
FACTS_NOTE = ("<p>Real facts: 100 Geant4 showers of the CLIC W/Si ECAL (photons and π0, 15–38 "
              "per bin; calozoo.sim.validation). Errors: statistical, from the showers in the "
              "bin. Electrons start about one radiation length earlier than photons.</p>")


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("calozoo.report needs matplotlib: pip install 'calozoo[hep]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    try:
        import mplhep
        plt.style.use(mplhep.style.CMS)
    except ImportError:
        pass
    return plt


def _energy_grid(ref: Summary, gen: Summary, bins: int = 10) -> np.ndarray:
    low = min(ref.energies.min(), gen.energies.min())
    high = max(ref.energies.max(), gen.energies.max())
    return np.linspace(low, high * (1 + 1e-9), bins + 1)


def _binned_mu_sigma(summary: Summary, edges: np.ndarray):
    mus, resolutions = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        selected = (summary.energies >= low) & (summary.energies < high)
        if selected.sum() < 3:
            mus.append(np.nan)
            resolutions.append(np.nan)
            continue
        mu, sigma = mu90_sigma90(summary.features["sampling_fraction"][selected])
        mus.append(mu)
        resolutions.append(sigma / mu if mu else np.nan)
    return np.array(mus), np.array(resolutions)


def _profile_plots(plt, out: Path, ref: Summary, gen: Summary, title: str) -> list[str]:
    files = []
    for kind, attr, xlabel in (("longitudinal", "longitudinal", "layer"),
                               ("lateral", "lateral", "distance from the barycentre [cells]")):
        for scale in ("linear", "log"):
            figure, axis = plt.subplots(figsize=(7, 5))
            for label, summary in (("reference", ref), ("generated", gen)):
                profile = getattr(summary, attr).mean(axis=0)
                axis.step(np.arange(len(profile)), profile, where="mid",
                          color=COLOURS[label], label=label)
            axis.set(xlabel=xlabel, ylabel="mean energy [GeV]", yscale=scale,
                     title=f"{title}: {kind} profile")
            axis.legend()
            name = f"{kind}_profile_{scale}.png"
            figure.savefig(out / name, dpi=90, bbox_inches="tight")
            plt.close(figure)
            files.append(name)
    return files


def _response_plots(plt, out: Path, ref: Summary, gen: Summary, title: str) -> list[str]:
    edges = _energy_grid(ref, gen)
    centres = 0.5 * (edges[1:] + edges[:-1])
    ref_mu, ref_res = _binned_mu_sigma(ref, edges)
    gen_mu, gen_res = _binned_mu_sigma(gen, edges)
    files = []
    for name, ylabel, ref_values, gen_values in (
            ("response", "response μ90(ΣE/Ep)", ref_mu, gen_mu),
            ("resolution", "resolution σ90/μ90", ref_res, gen_res)):
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True,
                                             gridspec_kw={"height_ratios": (3, 1)})
        top.plot(centres, ref_values, "o", color=COLOURS["reference"], label="reference")
        top.plot(centres, gen_values, "s", color=COLOURS["generated"], label="generated")
        top.set(ylabel=ylabel, title=f"{title}: {name} vs primary energy")
        top.legend()
        bottom.plot(centres, gen_values / ref_values, "s", color=COLOURS["generated"])
        bottom.axhline(1.0, color="grey", lw=1)
        bottom.set(xlabel="primary energy [GeV]", ylabel="gen / ref")
        figure.savefig(out / f"{name}.png", dpi=90, bbox_inches="tight")
        plt.close(figure)
        files.append(f"{name}.png")
    return files


def _histogram(plt, out: Path, name: str, ref_values, gen_values, xlabel: str, title: str,
               bins=40, log_x: bool = False, log_y: bool = False) -> str:
    figure, axis = plt.subplots(figsize=(7, 5))
    both = np.concatenate([ref_values, gen_values])
    both = both[np.isfinite(both)]
    if isinstance(bins, int):
        low, high = np.percentile(both, [0.5, 99.5]) if both.size else (0, 1)
        bins = np.linspace(low, high if high > low else low + 1, bins + 1)
    for label, values in (("reference", ref_values), ("generated", gen_values)):
        axis.hist(values[np.isfinite(values)], bins=bins, histtype="step", density=True,
                  color=COLOURS[label], label=label)
    axis.set(xlabel=xlabel, ylabel="normalised", title=title)
    if log_x:
        axis.set_xscale("log")
    if log_y:
        axis.set_yscale("log")
    axis.legend()
    figure.savefig(out / name, dpi=90, bbox_inches="tight")
    plt.close(figure)
    return name


def _cell_spectrum(plt, out: Path, ref: Summary, gen: Summary, title: str) -> str:
    figure, axis = plt.subplots(figsize=(7, 5))
    widths = np.diff(CELL_EDGES)
    for label, summary in (("reference", ref), ("generated", gen)):
        density = summary.cell_counts / max(summary.cell_counts.sum(), 1) / widths
        axis.stairs(density, CELL_EDGES, color=COLOURS[label], label=label)
    axis.set(xscale="log", yscale="log", xlabel="cell energy [GeV]",
             ylabel="normalised", title=f"{title}: single-cell energy spectrum")
    axis.legend()
    figure.savefig(out / "cell_spectrum.png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return "cell_spectrum.png"


def _energy_bins(plt, out: Path, ref: Summary, gen: Summary, title: str) -> str:
    ref_bins, gen_bins = compare_module.energy_bins(ref), compare_module.energy_bins(gen)
    labels = [label for label in ref_bins if label in gen_bins]
    figure, axes = plt.subplots(1, len(labels), figsize=(4.5 * len(labels), 4), squeeze=False)
    for axis, label in zip(axes[0], labels):
        ref_values = ref.features["total_energy"][ref_bins[label]]
        gen_values = gen.features["total_energy"][gen_bins[label]]
        both = np.concatenate([ref_values, gen_values])
        edges = np.linspace(both.min(), both.max() + 1e-12, 30)
        for name, values in (("reference", ref_values), ("generated", gen_values)):
            axis.hist(values, bins=edges, histtype="step", density=True, color=COLOURS[name],
                      label=name)
        axis.set(xlabel="ΣE [GeV]", title=f"Ep: {label}")
    axes[0][0].legend()
    figure.suptitle(f"{title}: total deposited energy per energy bin")
    figure.savefig(out / "total_energy_bins.png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return "total_energy_bins.png"


RESPONSE_TOLERANCE = 0.10
"""Physics tolerance on the response and resolution ratios, stated beside the statistics."""


def significance(value: float, expected: float, error: float) -> str:
    """"consistent within 2σ" or "differs by Nσ" for a value and its standard error."""
    if not np.isfinite(error) or error <= 0:
        return "no error estimate"
    pulls = abs(value - expected) / error
    return "consistent within 2σ" if pulls < 2 else f"differs by {pulls:.0f}σ"


def _ratio_line(results: dict[str, float], key: str, name: str) -> str | None:
    ratio = results.get(key)
    if ratio is None:
        return None
    error = results.get(f"{key}_error", float("nan"))
    tolerance = "within" if abs(ratio - 1) <= RESPONSE_TOLERANCE else "outside"
    return (f"{name}: generated/reference = {ratio:.3f} ± {error:.3f}: "
            f"{significance(ratio, 1.0, error)} of 1 (physics tolerance "
            f"±{RESPONSE_TOLERANCE:.0%}: {tolerance}).")


def _verdict(results: dict[str, float]) -> list[str]:
    lines = [line for line in (
        _ratio_line(results, "response_mu90/ratio/all", "Response (μ90 of ΣE/Ep)"),
        _ratio_line(results, "response_rms90/ratio/all", "Response (rms90 mean of ΣE/Ep)"),
        _ratio_line(results, "resolution/ratio/all", "Resolution (σ90/μ90)"),
        _ratio_line(results, "resolution_rms90/ratio/all", "Resolution (rms90/mean)"),
    ) if line]
    auc = results.get("classifier_auc")
    if auc is not None:
        error = results.get("classifier_auc_error", float("nan"))
        quality = ("indistinguishable" if auc < 0.6 else "close" if auc < 0.75 else
                   "distinguishable" if auc < 0.95 else "clearly different")
        lines.append(f"Classifier AUC = {auc:.3f} ± {error:.3f} (0.5 = indistinguishable): "
                     f"{significance(auc, 0.5, error)} of 0.5; {quality}.")
    separations = {key: value for key, value in results.items()
                   if key.startswith("separation/") and key.count("/") == 1
                   and not key.endswith("_error")}
    if separations:
        worst = max(separations, key=separations.get)
        error = results.get(f"{worst}_error", float("nan"))
        lines.append(f"Largest separation power: {worst.split('/')[1]} = "
                     f"{separations[worst]:.3f} ± {error:.3f} (0 = identical, 1 = disjoint; "
                     f"two samples of one distribution give about (bins − 1)/(2N)).")
    return lines


def _error_text(error: float | None) -> str:
    if error is None:
        return ""
    return f"± {error:.2g}" if np.isfinite(error) else "not estimated"


def _label(role: str, sample) -> str:
    return f"{role} ({sample})" if isinstance(sample, (str, os.PathLike)) else role


def _as_showers(sample):
    from calozoo.data import Showers, load

    if isinstance(sample, Showers):
        return sample
    if isinstance(sample, (str, os.PathLike)):
        return load(sample)
    return Showers(*sample)


def _facts_rows(reference, generated) -> list[dict]:
    """The real-CLIC facts beside both samples' values (25×25×25 CLIC-like showers)."""
    from calozoo.sim import validation

    rows = []
    for ref_row, gen_row in zip(validation.measure_facts(_as_showers(reference)),
                                validation.measure_facts(_as_showers(generated))):
        if ref_row["showers"] < 2 and gen_row["showers"] < 2:
            continue
        rows.append({"fact": ref_row["fact"], "bin_gev": ref_row["bin_gev"],
                     "unit": ref_row["unit"], "geant4": ref_row["geant4"],
                     "reference": ref_row["value"], "reference_error": ref_row["error"],
                     "generated": gen_row["value"], "generated_error": gen_row["error"],
                     "generated_showers": gen_row["showers"]})
    return rows


def _number(value: float) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.4g}"


def _with_error(value: float, error: float) -> str:
    """``value ± error`` with the error to two significant digits."""
    if value is None or error is None or not (np.isfinite(value) and np.isfinite(error)) \
            or error <= 0:
        return _number(value)
    digits = max(0, 1 - int(np.floor(np.log10(error))))
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def _facts_table(rows: list[dict]) -> str:
    head = ("<tr><th>fact</th><th>E [GeV]</th><th>real Geant4 (γ, π0)</th>"
            "<th>reference</th><th>generated</th><th>generated showers</th></tr>")
    body = "\n".join(
        f"<tr><td>{html.escape(row['fact'])} [{html.escape(row['unit'])}]</td>"
        f"<td>{row['bin_gev'][0]:g}–{row['bin_gev'][1]:g}</td><td>{_number(row['geant4'])}</td>"
        f"<td>{_with_error(row['reference'], row['reference_error'])}</td>"
        f"<td>{_with_error(row['generated'], row['generated_error'])}</td>"
        f"<td>{row['generated_showers']}</td></tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _finite(value):
    """JSON has no NaN: non-finite numbers become null."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def report(reference, generated, out_dir: str | os.PathLike, *, title: str = "calozoo",
           classifier: bool = True, progress: bool = False, real_facts: bool = False,
           notes: list[str] | None = None, overwrite: bool = False) -> Path:
    """Write the comparison of two samples as PNGs, ``index.html`` and ``summary.json``.

    ``reference`` and ``generated`` are Showers, (images, energies[, angles]) or file paths.
    With ``real_facts`` (25×25×25 showers of the CLIC W/Si ECAL) the report adds the facts
    measured on real Geant4 showers (:mod:`calozoo.sim.validation`) beside both samples'
    values, each with its statistical error; both samples are then read into memory.
    ``notes`` are shown under the title. The report is written into a temporary folder and
    appears in ``out_dir`` only when complete; an ``out_dir`` that holds files is refused
    (before any work) unless ``overwrite``. Returns the path of ``index.html``.
    """
    plt = _pyplot()
    target = Path(out_dir)
    with _files.atomic_folder(target, overwrite=overwrite) as staging:
        _write_report(plt, staging, reference, generated, title=title, classifier=classifier,
                      progress=progress, real_facts=real_facts, notes=notes)
    return target / "index.html"


def _write_report(plt, out: Path, reference, generated, *, title: str, classifier: bool,
                  progress: bool, real_facts: bool, notes: list[str] | None) -> None:
    ref = summarise(reference, progress=progress, name=_label("reference", reference))
    gen = summarise(generated, progress=progress, name=_label("generated", generated))
    results = compare_module.compare(ref, gen, classifier=classifier)
    files = []
    if ref.is_grid:
        files += _profile_plots(plt, out, ref, gen, title)
    files += _response_plots(plt, out, ref, gen, title)
    files.append(_histogram(plt, out, "hits.png", ref.features["hits"], gen.features["hits"],
                            "cells above 1e-5 GeV", f"{title}: hits"))
    files.append(_cell_spectrum(plt, out, ref, gen, title))
    files.append(_energy_bins(plt, out, ref, gen, title))
    if ref.angles is not None and "measured_angle" in ref.features:
        files.append(_histogram(plt, out, "measured_angle.png", ref.features["measured_angle"],
                                gen.features["measured_angle"], "measured angle [degrees]",
                                f"{title}: measured angle (3DGAN definition)"))
    facts = _facts_rows(reference, generated) if real_facts else []
    (out / "summary.json").write_text(json.dumps(_finite(
        {"title": title, "shape": list(ref.shape), "notes": list(notes or []),
         "results": results, "real_facts": facts}), indent=2) + "\n")
    rows = "\n".join(
        f"<tr><td>{html.escape(key)}</td><td>{value:.5g}</td><td>"
        f"{_error_text(results.get(key + '_error'))}</td></tr>"
        for key, value in results.items() if not key.endswith("_error"))
    verdict = "".join(f"<li>{html.escape(line)}</li>" for line in _verdict(results))
    images = "\n".join(f'<figure><img src="{name}" alt="{name}"><figcaption>{name}'
                       f"</figcaption></figure>" for name in files)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} figure{{display:inline-block;margin:.5em}}
img{{max-width:480px}} table{{border-collapse:collapse}} td{{border:1px solid #ccc;padding:2px 8px}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Reference: {len(ref)} showers; generated: {len(gen)} showers; grid {ref.shape};
energies in GeV{', angles in degrees' if ref.angles is not None else ''}.</p>
{"".join(f"<p>{html.escape(note)}</p>" for note in notes or [])}
<h2>Verdict</h2><ul>{verdict}</ul>
{"<h2>Real Geant4 facts (CLIC W/Si ECAL)</h2>" + _facts_table(facts) + FACTS_NOTE
 if facts else ""}
<h2>Plots</h2>
{images}
<h2>All numbers</h2><table><tr><th>quantity</th><th>value</th><th>standard error</th></tr>
{rows}</table>
<p>Energy bins: ±5 GeV around 50, 100, 200, 500 GeV. Separation power: CaloChallenge
definition. Projection MSE and SSIM (L = 1e-4): the seed paper's.</p>
</body></html>
"""
    (out / "index.html").write_text(page)
