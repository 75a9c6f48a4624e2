"""``calozoo.report(reference, generated, out_dir)``: plots, index.html and summary.json.

Needs matplotlib (``pip install 'calozoo[hep]'``); uses mplhep's experiment-neutral ROOT style
when installed. Every plot has error bars, a generated/reference ratio panel and a label with
the samples and their sizes, and is written as PNG (150 dpi) and PDF.
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
        plt.style.use(mplhep.style.ROOT)      # experiment-neutral
    except ImportError:
        pass
    plt.rcParams.update({"font.size": 11, "axes.labelsize": 11, "axes.titlesize": 11,
                         "legend.fontsize": 9, "xtick.labelsize": 10, "ytick.labelsize": 10})
    return plt


def _energy_grid(ref: Summary, gen: Summary, bins: int = 10) -> np.ndarray:
    low = min(ref.energies.min(), gen.energies.min())
    high = max(ref.energies.max(), gen.energies.max())
    return np.linspace(low, high * (1 + 1e-9), bins + 1)


DPI = 150


def _figure(plt):
    """A figure with a main panel and a ratio panel under it."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True,
                                         gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
    return figure, top, bottom


def _ratio_panel(axis, x, ref, ref_error, gen, gen_error, xlabel: str, **kwargs) -> None:
    """generated / reference with the two relative errors added in quadrature."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = gen / ref
        error = np.abs(ratio) * np.hypot(ref_error / ref, gen_error / gen)
    axis.errorbar(x, ratio, yerr=error, fmt="s", ms=3, color=COLOURS["generated"], **kwargs)
    axis.axhline(1.0, color="grey", lw=1)
    finite = ratio[np.isfinite(ratio)]
    if finite.size:
        spread = min(max(np.abs(finite - 1).max() * 1.2, 0.05), 1.0)
        axis.set_ylim(1 - spread, 1 + spread)
    axis.set(xlabel=xlabel, ylabel="gen / ref")


def _save(figure, out: Path, name: str, label: str, plt) -> str:
    """Write ``name``.png (150 dpi) and ``name``.pdf with the samples' label on the plot."""
    figure.text(0.99, 0.995, label, ha="right", va="top", fontsize=7, color="0.3")
    figure.savefig(out / f"{name}.png", dpi=DPI, bbox_inches="tight")
    figure.savefig(out / f"{name}.pdf", bbox_inches="tight")
    plt.close(figure)
    return f"{name}.png"


def _profile_plots(plt, out: Path, ref: Summary, gen: Summary, title: str, label: str
                   ) -> list[str]:
    files = []
    for kind, attr, xlabel in (("longitudinal", "longitudinal", "layer"),
                               ("lateral", "lateral", "distance from the barycentre [cells]")):
        values = {}
        for role, summary in (("reference", ref), ("generated", gen)):
            profiles = getattr(summary, attr)
            values[role] = (profiles.mean(axis=0),
                            profiles.std(axis=0, ddof=1) / np.sqrt(max(len(profiles), 1)))
        positions = np.arange(len(values["reference"][0]))
        for scale in ("linear", "log"):
            figure, top, bottom = _figure(plt)
            for role, (mean, error) in values.items():
                top.errorbar(positions, mean, yerr=error, drawstyle="steps-mid", capsize=2,
                             color=COLOURS[role], label=role)
            top.set(ylabel="mean energy [GeV]", yscale=scale,
                    title=f"{title}: {kind} profile")
            top.legend()
            _ratio_panel(bottom, positions, *values["reference"], *values["generated"], xlabel)
            files.append(_save(figure, out, f"{kind}_profile_{scale}", label, plt))
    return files


def _binned_response(summary: Summary, edges: np.ndarray, replicas: int = 50, seed: int = 0):
    """Per energy bin μ90 and σ90/μ90 with bootstrap errors: four arrays."""
    rng = np.random.default_rng(seed)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        values = summary.features["sampling_fraction"][(summary.energies >= low)
                                                       & (summary.energies < high)]
        if len(values) < 3:
            rows.append([np.nan] * 4)
            continue
        mu, sigma = mu90_sigma90(values)
        boot = np.array([mu90_sigma90(values[rng.integers(0, len(values), len(values))])
                         for _ in range(replicas)])
        with np.errstate(divide="ignore", invalid="ignore"):
            rows.append([mu, compare_module.spread(boot[:, 0]),
                         sigma / mu if mu else np.nan,
                         compare_module.spread(boot[:, 1] / boot[:, 0])])
    return np.array(rows).T


def _response_plots(plt, out: Path, ref: Summary, gen: Summary, title: str, label: str
                    ) -> list[str]:
    edges = _energy_grid(ref, gen)
    centres = 0.5 * (edges[1:] + edges[:-1])
    half = 0.5 * np.diff(edges)
    ref_values, gen_values = _binned_response(ref, edges), _binned_response(gen, edges)
    files = []
    for index, (name, ylabel) in enumerate((("response", "response μ90(ΣE/Ep)"),
                                            ("resolution", "resolution σ90/μ90"))):
        figure, top, bottom = _figure(plt)
        for role, values in (("reference", ref_values), ("generated", gen_values)):
            top.errorbar(centres, values[2 * index], xerr=half, yerr=values[2 * index + 1],
                         fmt="o" if role == "reference" else "s", capsize=2,
                         color=COLOURS[role], label=role)
        top.set(ylabel=ylabel,
                title=f"{title}: {name} vs primary energy")
        top.legend()
        _ratio_panel(bottom, centres, ref_values[2 * index], ref_values[2 * index + 1],
                     gen_values[2 * index], gen_values[2 * index + 1], "primary energy [GeV]",
                     xerr=half)
        files.append(_save(figure, out, name, label, plt))
    return files


def _histogram(plt, out: Path, name: str, ref_values, gen_values, xlabel: str, title: str,
               label: str, bins=40, log_x: bool = False, log_y: bool = False) -> str:
    """Normalised histograms with Poisson errors, the ratio panel, and the separation power
    (± its error) printed on the panel."""
    from calozoo.metrics import distances

    ref_values = np.asarray(ref_values, float)[np.isfinite(ref_values)]
    gen_values = np.asarray(gen_values, float)[np.isfinite(gen_values)]
    if isinstance(bins, int):
        both = np.concatenate([ref_values, gen_values])
        if log_x:
            both = both[both > 0]
            low, high = np.percentile(both, [0.5, 99.5]) if both.size else (1e-6, 1.0)
            bins = np.geomspace(low, high if high > low else low * 10, bins + 1)
        else:
            low, high = np.percentile(both, [0.5, 99.5]) if both.size else (0, 1)
            bins = np.linspace(low, high if high > low else low + 1, bins + 1)
    widths = np.diff(bins)
    centres = 0.5 * (bins[1:] + bins[:-1])
    figure, top, bottom = _figure(plt)
    densities = {}
    for role, values in (("reference", ref_values), ("generated", gen_values)):
        counts = np.histogram(np.clip(values, bins[0], bins[-1]), bins)[0].astype(float)
        scale = max(len(values), 1) * widths
        densities[role] = (counts / scale, np.sqrt(counts) / scale)
        top.stairs(counts / scale, bins, color=COLOURS[role])
        top.errorbar(centres, counts / scale, yerr=np.sqrt(counts) / scale, fmt="none",
                     color=COLOURS[role], capsize=1.5, label=f"{role} (N = {len(values)})")
    top.set(ylabel="normalised", title=title)
    if log_x:
        top.set_xscale("log")
    if log_y:
        top.set_yscale("log")
    if len(ref_values) and len(gen_values):
        counts = [np.histogram(np.clip(v, bins[0], bins[-1]), bins)[0]
                  for v in (ref_values, gen_values)]
        top.text(0.02, 0.97, f"separation power {distances.separation_power(*counts):.4f} ± "
                 f"{distances.separation_power_error(*counts):.4f}", transform=top.transAxes,
                 va="top", fontsize=8)
    top.legend(fontsize=8)
    _ratio_panel(bottom, centres, *densities["reference"], *densities["generated"], xlabel)
    return _save(figure, out, name.removesuffix(".png"), label, plt)


def _cell_spectrum(plt, out: Path, ref: Summary, gen: Summary, title: str, label: str) -> str:
    figure, top, bottom = _figure(plt)
    widths = np.diff(CELL_EDGES)
    centres = np.sqrt(CELL_EDGES[1:] * CELL_EDGES[:-1])
    densities = {}
    for role, summary in (("reference", ref), ("generated", gen)):
        total = max(summary.cell_counts.sum(), 1)
        density = summary.cell_counts / total / widths
        if summary.cell_counts.sum() and summary.cell_spectrum_replicas is not None and \
                len(summary.cell_spectrum_replicas) > 1:
            # cells of one shower are correlated: the bootstrap over showers, not √counts
            replicas = summary.cell_counts / len(summary) + summary.cell_spectrum_replicas
            replicas = replicas / replicas.sum(axis=1, keepdims=True)
            error = replicas.std(axis=0, ddof=1) / widths
        else:
            error = np.sqrt(summary.cell_counts) / total / widths
        densities[role] = (density, error)
        top.stairs(density, CELL_EDGES, color=COLOURS[role], label=role)
        top.errorbar(centres, density, yerr=error, fmt="none", color=COLOURS[role],
                     capsize=1)
    top.set(xscale="log", yscale="log", ylabel="normalised",
            title=f"{title}: single-cell energy spectrum")
    top.legend()
    _ratio_panel(bottom, centres, *densities["reference"], *densities["generated"],
                 "cell energy [GeV]")
    bottom.set_xscale("log")
    return _save(figure, out, "cell_spectrum", label, plt)


def _feature_histograms(plt, out: Path, ref: Summary, gen: Summary, title: str, label: str
                        ) -> list[str]:
    """E_dep/E_inc, hits, centres of energy, widths, per-layer energies, per energy bin ΣE."""
    files = [_histogram(plt, out, "sampling_fraction.png",
                        ref.features["sampling_fraction"], gen.features["sampling_fraction"],
                        "E_dep / E_inc", f"{title}: deposited over incident energy", label),
             _histogram(plt, out, "hits.png", ref.features["hits"], gen.features["hits"],
                        "cells above 1e-5 GeV", f"{title}: hits", label)]
    for key, text in (("m1_x", "centre of energy in x [cells]"),
                      ("m1_y", "centre of energy in y [cells]"),
                      ("m1_z", "centre of energy in z [layers]"),
                      ("m2_x", "width in x [cells]"), ("m2_y", "width in y [cells]"),
                      ("m2_z", "width in z [layers]")):
        if key in ref.features and key in gen.features:
            files.append(_histogram(plt, out, f"{key}.png", ref.features[key],
                                    gen.features[key], text, f"{title}: {text}", label))
    if ref.longitudinal is not None and gen.longitudinal is not None:
        layers = ref.longitudinal.shape[1]
        for layer in sorted({layers // 5, layers // 2, (4 * layers) // 5}):
            files.append(_histogram(
                plt, out, f"layer_{layer}_energy.png", ref.longitudinal[:, layer],
                gen.longitudinal[:, layer], f"energy in layer {layer} [GeV]",
                f"{title}: energy in layer {layer}", label, log_y=True))
    ref_bins, gen_bins = compare_module.energy_bins(ref), compare_module.energy_bins(gen)
    for bin_label in ref_bins:
        if bin_label == "all" or bin_label not in gen_bins:
            continue
        files.append(_histogram(
            plt, out, f"total_energy_{bin_label}.png",
            ref.features["total_energy"][ref_bins[bin_label]],
            gen.features["total_energy"][gen_bins[bin_label]], "ΣE [GeV]",
            f"{title}: total deposited energy, Ep {bin_label}", label, bins=30))
    return files


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
    ref = summarise(reference, progress=progress, name=_label("reference", reference), seed=0)
    gen = summarise(generated, progress=progress, name=_label("generated", generated), seed=1)
    results = compare_module.compare(ref, gen, classifier=classifier)
    files = []
    label = (f"{title} | reference: {len(ref)} showers"
             f"{'' if not isinstance(reference, (str, os.PathLike)) else f' ({reference})'} | "
             f"generated: {len(gen)}"
             f"{'' if not isinstance(generated, (str, os.PathLike)) else f' ({generated})'}")
    if ref.is_grid:
        files += _profile_plots(plt, out, ref, gen, title, label)
    files += _response_plots(plt, out, ref, gen, title, label)
    files += _feature_histograms(plt, out, ref, gen, title, label)
    files.append(_cell_spectrum(plt, out, ref, gen, title, label))
    if ref.angles is not None and "measured_angle" in ref.features:
        files.append(_histogram(plt, out, "measured_angle.png", ref.features["measured_angle"],
                                gen.features["measured_angle"], "measured angle [degrees]",
                                f"{title}: measured angle (3DGAN definition)", label))
    facts = _facts_rows(reference, generated) if real_facts else []
    (out / "summary.json").write_text(json.dumps(_finite(
        {"title": title, "shape": list(ref.shape), "notes": list(notes or []),
         "results": results, "real_facts": facts}), indent=2) + "\n")
    rows = "\n".join(
        f"<tr><td>{html.escape(key)}</td><td>{value:.5g}</td><td>"
        f"{_error_text(results.get(key + '_error'))}</td></tr>"
        for key, value in results.items() if not key.endswith("_error"))
    verdict = "".join(f"<li>{html.escape(line)}</li>" for line in _verdict(results))
    images = "\n".join(f'<figure><a href="{name}"><img src="{name}" alt="{name}"></a>'
                       f'<figcaption>{name} (<a href="{name[:-4]}.pdf">PDF</a>)'
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
