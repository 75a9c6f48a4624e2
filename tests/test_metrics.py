"""Metrics pinned on analytic cases, compare() on real samples, the report and its CLI."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from calozoo import data, metrics
from calozoo.data import Showers
from calozoo.sim import simulate


def test_separation_power_limits():
    h = np.array([3, 5, 0, 7])
    assert metrics.separation_power(h, h) == 0.0
    assert metrics.separation_power(2 * h, h) == pytest.approx(0.0)   # normalised first
    assert metrics.separation_power([1, 2, 0, 0], [0, 0, 4, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        metrics.separation_power([1, 2], [1, 2, 3])


def test_ssim_of_identical_images_is_one():
    image = np.random.default_rng(0).uniform(0, 1e-3, (25, 25))
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.ssim(image, image[::-1]) < 0.9


def test_mu90_sigma90_of_a_uniform_distribution():
    values = np.linspace(0, 1, 100_001)
    mu, sigma = metrics.mu90_sigma90(values)
    assert mu == pytest.approx(0.5, abs=1e-6)
    assert sigma == pytest.approx(0.9 / math.sqrt(12), rel=1e-3)
    mu, sigma = metrics.mu90_sigma90(np.concatenate([values, [1e9]]))   # tails do not matter
    assert mu == pytest.approx(0.5, abs=1e-4)


def test_moments_of_a_single_voxel_shower():
    image = np.zeros((1, 25, 25, 25))
    image[0, 3, 7, 11] = 2.0
    result = metrics.moments(image)
    assert result["m1_x"][0] == 3.5 and result["m1_y"][0] == 7.5 and result["m1_z"][0] == 11.5
    for order in (2, 3):
        for axis in "xyz":
            assert result[f"m{order}_{axis}"][0] == 0.0
    np.testing.assert_array_equal(metrics.max_position(image), [[3, 7, 11]])
    assert metrics.hits(image)[0] == 1 and metrics.total_energy(image)[0] == 2.0


@pytest.mark.parametrize("angle", [62.0, 80.0, 90.0, 100.0, 118.0])
def test_measured_angle_of_a_straight_track(angle):
    image = np.zeros((1, 51, 51, 25))
    slope = math.tan(math.radians(90.0 - angle))
    for z in range(25):
        image[0, 25, int(math.floor(25.5 + (z + 0.5 - 12.5) * slope)), z] = 1.0
    assert metrics.measured_angle(image)[0] == pytest.approx(angle, abs=2.0)


def test_fpd_is_zero_for_one_distribution_and_positive_for_shifted_ones():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4000, 5)), rng.normal(size=(4000, 5))
    value, error = metrics.fpd(a, b)
    assert abs(value) < 3 * error + 1e-3
    shifted, shifted_error = metrics.fpd(a, b + 0.5)
    assert shifted > 1.0 and shifted > 10 * shifted_error
    kpd_same, kpd_error = metrics.kpd(a, b)
    kpd_shifted, _ = metrics.kpd(a, b + 0.5)
    assert abs(kpd_same) < kpd_shifted / 10 and kpd_error >= 0


def test_classifier_auc():
    rng = np.random.default_rng(1)
    same = metrics.classifier_auc(rng.normal(size=(1500, 4)), rng.normal(size=(1500, 4)),
                                  epochs=5)
    assert abs(same - 0.5) < 0.06
    different = metrics.classifier_auc(rng.normal(size=(1500, 4)),
                                       rng.normal(2.0, 1.0, size=(1500, 4)), epochs=5)
    assert different > 0.9
    assert metrics.auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0


@pytest.fixture(scope="module")
def samples():
    energies = np.random.default_rng(0).uniform(40, 210, 400)
    return simulate(energies, seed=1), simulate(energies, seed=2)


def test_compare_two_samples_of_the_reference_detector(samples):
    reference, other = samples
    result = metrics.compare(reference, other, classifier=False)
    assert result["response_mu90/ratio/all"] == pytest.approx(1.0, abs=0.02)
    assert result["ssim/all"] > 0.99
    assert result["separation/cell_spectrum"] < 0.01
    for label in ("50GeV", "100GeV", "200GeV"):
        assert f"response_mu90/reference/{label}" in result
    assert abs(result["fpd"]) < 3 * result["fpd_error"] + 0.05


def test_compare_sees_a_broken_generator(samples):
    reference, _ = samples
    broken = Showers(reference.images * 1.3, reference.energies)
    result = metrics.compare(reference, broken, classifier=False)
    assert result["response_mu90/ratio/all"] == pytest.approx(1.3, rel=1e-3)
    assert result["separation/sampling_fraction"] > 0.5
    for key in ("separation/cell_spectrum", "projection_mse/all", "projection_mse/100GeV"):
        assert result[key] > 5 * result[f"{key}_error"], key


def test_inputs_tuple_and_file(samples, tmp_path):
    reference, other = samples
    path = data.save(tmp_path / "ref.h5", reference)
    from_file = metrics.summarise(path, batch_size=64)
    from_tuple = metrics.summarise((reference.images, reference.energies), batch_size=64)
    np.testing.assert_allclose(from_file.features["total_energy"],
                               from_tuple.features["total_energy"], rtol=1e-6)


def test_bad_input(samples, tmp_path):
    reference, _ = samples
    angled = simulate([100.0, 120.0], [90.0, 90.0], geometry="51x51x25", seed=1)
    with pytest.raises(ValueError, match="different geometries"):
        metrics.compare(reference, angled, classifier=False)
    nan = Showers(reference.images[:3].copy(), reference.energies[:3])
    nan.images[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.compare(reference, nan, classifier=False)
    with pytest.raises(ValueError, match="no showers"):
        metrics.summarise(reference[0:0])


def test_flat_voxels_work_where_they_can():
    flat = Showers(np.random.default_rng(0).uniform(0, 1, (50, 368)), np.full(50, 10.0))
    summary = metrics.summarise(flat)
    assert "hits" in summary.features and "m1_x" not in summary.features
    result = metrics.compare(flat, flat, classifier=False)
    assert result["separation/hits"] == 0.0
    with pytest.raises(ValueError, match="flat voxels"):
        metrics.moments(flat.images)


def test_report_and_cli(samples, tmp_path):
    pytest.importorskip("matplotlib")
    reference, other = samples
    ref_path = data.save(tmp_path / "ref.h5", reference)
    gen_path = data.save(tmp_path / "gen.h5", other, format="calochallenge")
    out = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "calozoo", "evaluate", str(ref_path),
                             str(gen_path), "--out", str(out), "--no-classifier"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    names = {path.name for path in out.iterdir()}
    for expected in ("index.html", "summary.json", "longitudinal_profile_log.png",
                     "lateral_profile_linear.png", "response.png", "resolution.png",
                     "hits.png", "cell_spectrum.png", "sampling_fraction.png",
                     "m1_z.png", "m2_x.png", "cell_spectrum.pdf"):
        assert expected in names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["results"]["response_mu90/ratio/all"] == pytest.approx(1.0, abs=0.02)
    page = (out / "index.html").read_text()
    assert "Verdict" in page and 'src="response.png"' in page
    bad = subprocess.run([sys.executable, "-m", "calozoo", "evaluate", str(ref_path),
                          str(tmp_path / "missing.h5"), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "missing.h5" in bad.stderr


def test_rms90_is_the_narrowest_window():
    rng = np.random.default_rng(0)
    core = rng.normal(1.0, 0.1, 9000)
    tailed = np.concatenate([core, rng.uniform(0.0, 0.6, 1000)])   # a one-sided low tail
    mean, rms = metrics.rms90(tailed)
    mu, sigma = metrics.mu90_sigma90(tailed)
    assert rms < sigma                 # the symmetric trim keeps part of the tail
    assert mean == pytest.approx(1.0, abs=0.01) and mu < mean
    normal = rng.normal(0.0, 1.0, 20000)
    assert metrics.rms90(normal)[1] == pytest.approx(metrics.mu90_sigma90(normal)[1], rel=0.02)
    with pytest.raises(ValueError, match="empty"):
        metrics.rms90([])


def test_auc_error_hanley_mcneil():
    from calozoo.metrics.distances import auc_error

    assert auc_error(0.5, 100, 100) == pytest.approx(math.sqrt(16.75e-4), rel=1e-6)
    assert auc_error(0.99, 100, 100) < auc_error(0.7, 100, 100)


@pytest.fixture(scope="module")
def pair():
    energies = np.full(500, 100.0)
    return simulate(energies, seed=31), simulate(energies, seed=32)


def test_compare_gives_every_bootstrapped_number_an_error(pair):
    first, second = pair
    results = metrics.compare(first, second, classifier=False, bootstrap=40, seed=3)
    again = metrics.compare(first, second, classifier=False, bootstrap=40, seed=3)
    assert results == again or all(
        (a == b) or (math.isnan(a) and math.isnan(b))
        for a, b in zip(results.values(), again.values()))
    for key in ("response_mu90/ratio/all", "resolution/ratio/100GeV",
                "response_rms90/generated/100GeV", "resolution_rms90/ratio/all",
                "hits_mean/ratio/all", "separation/hits", "separation/total_energy/100GeV",
                "fpd", "kpd", "separation/cell_spectrum", "projection_mse/all",
                "projection_mse/100GeV", "ssim/all"):
        assert results[f"{key}_error"] > 0, key
    # distances of one distribution's samples are a few times their error at most
    for key in ("separation/cell_spectrum", "projection_mse/all"):
        assert results[key] < 5 * results[f"{key}_error"], key
    assert 1 - results["ssim/all"] < 5 * results["ssim/all_error"]
    # a response ratio of two samples of one distribution is 1 within its error
    assert abs(results["response_mu90/ratio/all"] - 1) < 3 * \
        results["response_mu90/ratio/all_error"]
    assert "response_mu90/ratio/all_error" not in metrics.compare(
        first, second, classifier=False, bootstrap=0)


def test_verdict_flags_a_five_percent_shift_and_not_identical_distributions(pair):
    from calozoo.report import _verdict

    first, second = pair
    same = _verdict(metrics.compare(first, second, classifier=False))
    shifted = Showers(second.images * 1.05, second.energies)
    different = _verdict(metrics.compare(first, shifted, classifier=False))
    assert "consistent within 2σ" in same[0] and "within)" in same[0]
    assert "differs by" in different[0] and "within)" in different[0]   # 5% < 10% tolerance


def test_a_single_shower_gets_no_bootstrap_error():
    first = simulate([100.0, 150.0, 150.0, 150.0], seed=6)
    second = simulate([100.0, 150.0, 150.0, 150.0], seed=7)
    results = metrics.compare(first, second, classifier=False, bootstrap=20)
    assert math.isnan(results["projection_mse/100GeV_error"])     # one shower per sample
    assert results["projection_mse/all_error"] > 0
    assert math.isnan(metrics.compare(first, second, classifier=False, bootstrap=0)
                      ["projection_mse/all_error"])
    summaries = [metrics.summarise(first), metrics.summarise(second)]
    with pytest.warns(UserWarning, match="share weights"):
        metrics.compare(*summaries, classifier=False, bootstrap=20)


@pytest.mark.parametrize("energy_trend", [True, False])
def test_streamed_replicas_give_the_error_of_a_mean(energy_trend):
    from calozoo.metrics.summary import _MeanReplicas

    rng = np.random.default_rng(5)
    energies = rng.choice([50.0, 100.0, 200.0, 500.0], 4000) * rng.uniform(0.95, 1.05, 4000)
    noise = rng.normal(0.0, [1.0, 3.0], (4000, 2))
    vectors = np.stack([energies / 100, np.log(energies)], axis=1) + noise
    replicas = _MeanReplicas(2, 400, energy_trend=energy_trend)
    for part in np.array_split(np.arange(4000), 7):      # streamed in uneven batches
        weights = 2.0 * rng.integers(0, 2, (400, len(part)))
        replicas.add(vectors[part], energies[part], weights)
    deviations = replicas.deviations()
    np.testing.assert_allclose(replicas.total / replicas.count, vectors.mean(axis=0))
    # with the energy trend regressed out only the noise remains (each sample's mix of
    # energies kept); without it, the spread of the energies counts as well
    spread = noise.std(axis=0) if energy_trend else vectors.std(axis=0)
    np.testing.assert_allclose(deviations.std(axis=0), spread / np.sqrt(4000), rtol=0.12)


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_separation_power_error_matches_the_spread_of_replicas(shift):
    from calozoo.metrics.distances import separation_power_error

    rng = np.random.default_rng(5)
    p = np.exp(-0.5 * ((np.arange(12) - 5.5) / 2.5) ** 2)
    q = np.exp(-0.5 * ((np.arange(12) - 5.5 - shift * 5) / 2.5) ** 2)
    values, errors = [], []
    for _ in range(400):
        a, b = rng.multinomial(2000, p / p.sum()), rng.multinomial(1500, q / q.sum())
        values.append(metrics.separation_power(a, b))
        errors.append(separation_power_error(a, b))
    assert np.std(values) / np.sqrt(np.mean(np.square(errors))) == pytest.approx(1.0, abs=0.15)


def test_layer_ssim_is_scikit_images_per_layer_gaussian_ssim():
    from calozoo.metrics.distances import layer_ssim

    first = simulate(np.full(3, 100.0), seed=1).images
    second = simulate(np.full(3, 100.0), seed=2).images
    value, error = layer_ssim(first, first, data_range=1.0)
    assert value == pytest.approx(1.0) and error == pytest.approx(0.0, abs=1e-12)
    skimage_metrics = pytest.importorskip("skimage.metrics")
    data_range = float(first.max())
    expected = np.mean([[skimage_metrics.structural_similarity(
        first[i, :, :, z].astype(float), second[i, :, :, z].astype(float),
        data_range=data_range, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        for z in range(first.shape[-1])] for i in range(3)])
    assert layer_ssim(first, second, data_range)[0] == pytest.approx(expected, abs=1e-12)


def test_calochallenge_fpd_kpd_are_jetnets():
    from calozoo.metrics import calochallenge

    jetnet = pytest.importorskip("jetnet.evaluation")   # jetnet needs numpy < 2: not in CI
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3000, 12)), rng.normal(0.05, 1.1, size=(3000, 12))
    for ours, theirs in ((calochallenge.fpd(x, y, min_samples=2000, max_samples=5000),
                          jetnet.fpd(x, y, min_samples=2000, max_samples=5000)),
                         (calochallenge.kpd(x, y, batch_size=1000),
                          jetnet.kpd(x, y, batch_size=1000))):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_calochallenge_estimators_small():
    from calozoo.metrics import calochallenge

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(800, 6)), rng.normal(size=(800, 6))
    same = calochallenge.fpd(x, y, min_samples=200, max_samples=500, num_batches=4)
    shifted = calochallenge.fpd(x, y + 0.5, min_samples=200, max_samples=500, num_batches=4)
    assert same[0] >= 0 and shifted[0] > same[0] + 10 * shifted[1]
    kpd_same = calochallenge.kpd(x, y, batch_size=300)
    kpd_shifted = calochallenge.kpd(x, y + 0.5, batch_size=300)
    assert kpd_shifted[0] > kpd_same[0] + 3 * kpd_shifted[1]
    parameters, _ = calochallenge._nonnegative_line(np.array([1.0, 2, 3]), np.array([3.0, 2, 1]))
    assert parameters[1] == 0 and parameters[0] == pytest.approx(2.0)   # slope bound at 0


def test_calochallenge_separation_drops_values_outside_the_bins():
    from calozoo.metrics import calochallenge

    edges = np.linspace(0, 1, 11)
    inside = np.random.default_rng(2).uniform(0, 1, 500)
    value, _ = calochallenge.separation(inside, np.concatenate([inside, np.full(300, 7.0)]),
                                        edges)
    assert value == pytest.approx(0.0)


def test_isotonic_calibration_is_monotone_and_fits_steps():
    from calozoo.metrics import calochallenge

    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    labels = np.array([0, 1, 0, 0, 1, 1])
    calibrate = calochallenge.isotonic(scores, labels)
    fitted = calibrate(scores)
    assert np.all(np.diff(fitted) >= 0)
    np.testing.assert_allclose(fitted, [1e-6, 1 / 3, 1 / 3, 1 / 3, 1 - 1e-6, 1 - 1e-6])


def test_calochallenge_cell_classifier_sees_a_scaled_sample():
    from calozoo.metrics import calochallenge

    showers = simulate(np.full(60, 100.0), seed=4)
    other = simulate(np.full(60, 100.0), seed=5)
    scores = calochallenge.classifier(showers.images, showers.energies, other.images * 1.5,
                                      other.energies, epochs=8)
    assert scores["auc"] > 0.9 and 0 <= scores["auc_error"] < 0.1 and scores["jsd"] > 0.3
    assert 0 <= scores["jsd_error"] < scores["jsd"] / 3   # 0 when every shower is told apart


def test_compare_in_the_calochallenge_convention(pair):
    first, second = pair
    results = metrics.compare(first, second, classifier=False, convention="calochallenge",
                              bootstrap=10)
    for key in ("fpd", "kpd", "separation/etot_einc", "separation/e_layer_12",
                "separation/voxel", "separation/centre_x_layer_12", "separation/width_y_layer_12"):
        assert np.isfinite(results[key]) and results[f"{key}_error"] > 0, key
    assert "separation/hits" not in results
    with pytest.raises(ValueError, match="convention"):
        metrics.compare(first, second, convention="jetnet")
