"""The reference detector: physics against real Geant4 facts, reproducibility, angles, inputs."""

import math

import numpy as np
import pytest

from calozoo.data import Showers
from calozoo.sim import DETECTORS, Detector, simulate
from calozoo.sim.cells import RADII, cell_table, quadrant_probability
from calozoo.sim.gflash import regularized_gamma_p
from calozoo.sim.validation import compare_with_geant4


@pytest.fixture(scope="module")
def photons():
    energies = np.random.default_rng(3).uniform(13, 480, 1500)
    return simulate(energies, particle="photon", seed=11)


def test_sampling_fraction_per_energy_bin_within_10_percent(photons):
    facts = compare_with_geant4(photons)["sampling_fraction"]
    np.testing.assert_allclose(facts["simulated"], facts["geant4"], rtol=0.10)


def test_shower_maximum_per_energy_bin_within_one_layer(photons):
    facts = compare_with_geant4(photons)["shower_max_layer"]
    np.testing.assert_allclose(facts["simulated"], facts["geant4"], atol=1.0)


def test_lateral_containment_within_0_08(photons):
    facts = compare_with_geant4(photons)["containment"]
    np.testing.assert_allclose(facts["simulated"], facts["geant4"], atol=0.08)


def test_occupancy_and_cell_spectrum_of_the_same_order(photons):
    facts = compare_with_geant4(photons)
    for key in ("nonzero_fraction", "median_cell_gev", "p99_cell_gev"):
        ratio = facts[key]["simulated"] / facts[key]["geant4"]
        assert 1 / 3 < ratio < 3, (key, facts[key])
    assert 0.005 < facts["last_layer_fraction"]["simulated"] < 0.05


def test_resolution_has_a_realistic_sampling_term():
    # Electrons at 50 GeV: mostly contained, so σ/E is close to c/√E with c = 0.17.
    showers = simulate(np.full(600, 50.0), seed=2)
    total = showers.images.sum(axis=(1, 2, 3))
    resolution = total.std() / total.mean()
    assert 0.15 / math.sqrt(50) < resolution < 0.30 / math.sqrt(50)


def test_units_and_shapes():
    showers = simulate([10.0, 100.0, 400.0], seed=0)
    assert isinstance(showers, Showers)
    assert showers.images.shape == (3, 25, 25, 25)
    assert showers.images.dtype == np.float32
    assert showers.angles is None
    assert np.all(showers.images >= 0)
    visible = showers.images.sum(axis=(1, 2, 3)) / showers.energies
    assert np.all((visible > 0.012) & (visible < 0.025))  # GeV per GeV, ~2% sampling
    # The perpendicular shower enters at the centre of the middle cell.
    lateral = showers.images.sum(axis=(0, 3))
    assert np.unravel_index(lateral.argmax(), lateral.shape) == (12, 12)


def test_same_seed_same_showers_and_different_seeds_differ():
    energies = np.linspace(5, 300, 20)
    first = simulate(energies, seed=42)
    second = simulate(energies, seed=42)
    third = simulate(energies, seed=43)
    np.testing.assert_array_equal(first.images, second.images)
    assert not np.array_equal(first.images, third.images)


def _barycentre_y_per_layer(images):
    layer_sum = images.sum(axis=(1, 2))
    y = np.arange(images.shape[2]) + 0.5
    return (images.sum(axis=1) * y[None, :, None]).sum(axis=1) / np.maximum(layer_sum, 1e-12)


@pytest.mark.parametrize("angle", [60.0, 75.0, 90.0, 105.0, 120.0])
def test_angle_tilts_the_axis_in_the_y_z_plane(angle):
    showers = simulate(np.full(40, 100.0), angle, geometry="51x51x25", seed=5)
    assert showers.images.shape == (40, 51, 51, 25)
    np.testing.assert_array_equal(showers.angles, angle)
    images = showers.images.mean(axis=0)[None]
    y_layers = _barycentre_y_per_layer(images)[0]
    layers = np.arange(25)
    slope = np.polyfit(layers[3:20], y_layers[3:20], 1)[0]   # cells of y per layer
    expected = 1 / math.tan(math.radians(angle))               # pitch == cell size
    assert slope == pytest.approx(expected, abs=0.08)
    x_layers = (images[0].sum(axis=(1,)) * (np.arange(51) + 0.5)[:, None]).sum(0) / \
        np.maximum(images[0].sum(axis=(0, 1)), 1e-12)
    np.testing.assert_allclose(x_layers[3:20], 25.5, atol=0.3)


def test_pbwo4_is_a_different_detector():
    crystal = simulate(np.full(200, 100.0), detector="pbwo4", seed=3)
    silicon = simulate(np.full(200, 100.0), detector="clic-wsi", seed=3)
    crystal_total = crystal.images.sum(axis=(1, 2, 3))
    assert crystal_total.mean() == pytest.approx(100.0, rel=0.05)   # homogeneous: all visible
    assert crystal_total.std() / crystal_total.mean() < 0.02
    assert silicon.images.sum(axis=(1, 2, 3)).mean() < 3.0


def test_detector_quantities_follow_from_materials():
    clic = DETECTORS["clic-wsi"]
    assert clic.cell_mm == pytest.approx(5.1)
    assert 70 < clic.z_eff < 74
    assert clic.absorber.critical_energy_mev == pytest.approx(7.97, abs=0.1)   # tungsten
    assert clic.absorber.x0_mm == pytest.approx(3.50, abs=0.01)
    assert 0.5 < clic.layer_x0 < 1.0
    assert clic.e_hat == pytest.approx(1 / (1 + 0.007 * 60))
    crystal = DETECTORS["pbwo4"]
    assert crystal.homogeneous and crystal.e_hat == 1.0
    assert crystal.moliere_radius_mm == pytest.approx(21.6, abs=0.5)
    thicker = Detector(**{**clic.__dict__, "absorber_mm": 2 * clic.absorber_mm})
    assert thicker.layer_x0 > clic.layer_x0


def test_incomplete_gamma_against_known_values():
    a = np.array([1.0, 1.0, 2.5, 5.0, 7.3, 7.3])
    x = np.array([0.5, 3.0, 1.0, 5.0, 2.0, 20.0])
    expected = np.array([1 - math.exp(-0.5), 1 - math.exp(-3.0)])
    got = regularized_gamma_p(a, x)
    np.testing.assert_allclose(got[:2], expected, rtol=1e-10)
    scipy_special = pytest.importorskip("scipy.special")
    np.testing.assert_allclose(got, scipy_special.gammainc(a, x), rtol=1e-8, atol=1e-12)


def test_cell_probabilities_are_exact_integrals():
    # A radial component with CDF r²/(r²+R²) puts r²/(r²+R²)… of its mass within r; a quadrant
    # of a huge square holds a quarter.
    assert quadrant_probability(1e6, 1e6, 1.0) == pytest.approx(0.25, abs=1e-5)
    table = cell_table(0, 0)
    for index in (10, 40, 70):
        radius = RADII[index]
        inside = table[index].sum()
        # between the inscribed and circumscribed circles of the 25×25 window
        low = 12.5**2 / (12.5**2 + radius**2)
        high = 2 * 12.5**2 / (2 * 12.5**2 + radius**2)
        assert low <= inside <= high


@pytest.mark.parametrize("kwargs, message", [
    (dict(energies=[10.0, -1.0]), "> 0 GeV"),
    (dict(energies=[float("nan")]), "NaN"),
    (dict(energies=[10.0], geometry="20x20x20"), "geometry"),
    (dict(energies=[10.0], detector="lead-glass"), "unknown detector"),
    (dict(energies=[10.0], particle="pion"), "particle"),
    (dict(energies=[10.0], angles=[60.0]), "51x51x25"),
    (dict(energies=[10.0, 20.0], angles=[60.0, 70.0, 80.0], geometry="51x51x25"), "angles"),
    (dict(energies=[10.0], angles=[10.0], geometry="51x51x25"), "degrees"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate(**kwargs)


def test_longitudinal_facts_of_photons_within_the_stated_tolerances(photons):
    from calozoo.sim.calibration import TOLERANCES
    from calozoo.sim.validation import measure_facts

    checked = set()
    for row in measure_facts(photons):
        if row["fact"] in TOLERANCES and row["fact"] != "spread of the mean depth":
            assert abs(row["value"] - row["geant4"]) <= TOLERANCES[row["fact"]], row
            checked.add(row["fact"])
    assert len(checked) == 5


def test_photons_start_about_one_radiation_length_after_electrons():
    from calozoo.sim.validation import depth_moments

    clic = DETECTORS["clic-wsi"]
    energies = np.full(800, 100.0)
    electron, _ = depth_moments(simulate(energies, particle="electron", seed=4).images)
    photon, _ = depth_moments(simulate(energies, particle="photon", seed=4).images)
    later_x0 = (photon.mean() - electron.mean()) * clic.layer_x0
    assert 0.8 < later_x0 < 1.6     # 9/7 X0, less what the back section compresses


def test_back_section_layers():
    clic = DETECTORS["clic-wsi"]
    front, back = clic.layers - clic.back_layers, clic.back_layers
    assert back > 0 and clic.back_absorber_mm > clic.absorber_mm
    assert np.allclose(clic.layer_x0s[:front], clic.layer_x0)
    assert np.all(clic.layer_x0s[front:] > 2 * clic.layer_x0)
    assert clic.total_x0 == pytest.approx(clic.layer_x0s.sum())
    weights = clic.layer_weights
    assert np.all(weights[:front] == 1.0)
    assert np.all((weights[front:] > 0.3) & (weights[front:] < 0.6))
    assert np.all(DETECTORS["pbwo4"].layer_weights == 1.0)


def test_calibration_fit_recovers_a_perturbed_detector():
    import dataclasses

    from calozoo.sim import calibration

    clic = DETECTORS["clic-wsi"]
    energies = calibration.bin_energies(300, np.random.default_rng(0))
    calibrated = calibration.score(calibration.longitudinal_facts(clic, energies))
    shifted = calibration._current(clic) * [1.15, 0.8, 1.0, 1.0, 1.0] + [0, 0, 0.5, 0.3, 0]
    perturbed = calibration.with_parameters(clic, shifted)
    assert dataclasses.asdict(perturbed) != dataclasses.asdict(clic)
    worse = calibration.score(calibration.longitudinal_facts(perturbed, energies))
    _, value = calibration.fit(perturbed, per_bin=300, iterations=40, restarts=1)
    assert worse > 3 * calibrated
    assert value < 0.5 * worse


def test_calibration_prints_simulated_beside_real(capsys):
    from calozoo.sim import calibration

    calibration.main(["-n", "200", "--seed", "1"])
    out = capsys.readouterr().out
    assert "mean depth" in out and "Geant4" in out and "±" in out


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="Linux only")
def test_same_seed_same_showers_on_any_number_of_cores():
    import os

    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("needs two cores")
    energies = np.random.default_rng(1).uniform(2, 500, 600)   # three chunks of 51x51x25
    threaded = simulate(energies, geometry="51x51x25", seed=9).images
    os.sched_setaffinity(0, {min(allowed)})
    try:
        serial = simulate(energies, geometry="51x51x25", seed=9).images
    finally:
        os.sched_setaffinity(0, allowed)
    np.testing.assert_array_equal(threaded, serial)
