"""The Grindhammer–Peters (GFlash) parametrisation of electromagnetic showers, vectorised.

Constants are those of hep-ex/0001020 as Geant4 11.4 carries them (see docs in
``calozoo.sim``); where Geant4 and the paper differ, the paper is followed: the sampling
parameters T_sam, α_sam describe the profile, k4 = 0.3585 + 0.0421 ln E, and the spot count is
10.3/c · E^0.959 with the A.2.5 spot-profile factors.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from calozoo.sim.detector import PHOTON_CONVERSION_X0, Detector, LongitudinalParameters

__all__ = ["PHOTON_CONVERSION_X0", "LongitudinalParameters", "longitudinal_profiles",
           "radial_parameters", "regularized_gamma_p"]



def _log_gamma(a: np.ndarray) -> np.ndarray:
    return np.vectorize(math.lgamma, otypes=[np.float64])(a)


def regularized_gamma_p(a: np.ndarray, x: np.ndarray, iterations: int = 200) -> np.ndarray:
    """P(a, x), the regularised lower incomplete gamma function, for arrays (a > 0).

    Series for x < a + 1, Lentz's continued fraction otherwise; vectorised, iterating until
    every element has converged (at most ``iterations`` times).
    """
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    x = np.maximum(x, 0.0)
    result = np.zeros(a.shape)
    positive = x > 0
    log_prefactor = np.where(positive, -x + a * np.log(np.where(positive, x, 1.0)), 0.0)
    log_prefactor = log_prefactor - _log_gamma(a)
    use_series = positive & (x < a + 1)
    if np.any(use_series):
        aa, xx = a[use_series], x[use_series]
        term = 1.0 / aa
        total = term.copy()
        denominator = aa.copy()
        for iteration in range(iterations):
            denominator += 1.0
            term *= xx / denominator
            total += term
            if iteration % 8 == 7 and np.all(term <= total * 1e-17):
                break
        result[use_series] = total * np.exp(log_prefactor[use_series])
    use_fraction = positive & ~use_series
    if np.any(use_fraction):
        aa, xx = a[use_fraction], x[use_fraction]
        tiny = 1e-300
        b = xx + 1.0 - aa
        c = np.full_like(xx, 1.0 / tiny)
        d = 1.0 / b
        h = d.copy()
        for i in range(1, iterations + 1):
            an = -i * (i - aa)
            b = b + 2.0
            d = an * d + b
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            step = d * c
            h *= step
            if i % 8 == 0 and np.all(np.abs(step - 1.0) <= 1e-16):
                break
        result[use_fraction] = 1.0 - np.exp(log_prefactor[use_fraction]) * h
    return np.clip(result, 0.0, 1.0)


@dataclasses.dataclass
class LongitudinalProfiles:
    """Per-shower Gamma profiles (energy and spots) and the quantities τ needs."""

    alpha: np.ndarray
    beta: np.ndarray
    t_max: np.ndarray
    mean_log_alpha: np.ndarray
    spot_alpha: np.ndarray
    spot_beta: np.ndarray
    spots: np.ndarray

    def tau(self, depth_x0: np.ndarray) -> np.ndarray:
        """τ = t/T · (α−1)/α · e^⟨ln α⟩/(e^⟨ln α⟩ − 1), with t in X0 from the shower start."""
        mean_alpha = np.exp(self.mean_log_alpha)
        scale = (self.alpha - 1.0) / self.alpha / self.t_max * mean_alpha / (mean_alpha - 1.0)
        return depth_x0 * scale[:, None]


def _inverse_linear(s1: float, s2: float, log_y: np.ndarray) -> np.ndarray:
    """σ = 1/(s1 + s2 ln y), capped at 0.5 (and 0.5 where the line is not positive)."""
    denominator = s1 + s2 * log_y
    return np.where(denominator > 2.0, 1.0 / np.maximum(denominator, 2.0), 0.5)


def longitudinal_profiles(energies: np.ndarray, detector: Detector, rng: np.random.Generator
                          ) -> LongitudinalProfiles:
    """Draw fluctuated longitudinal parameters (correlated ln T, ln α) for each shower."""
    parameters = detector.longitudinal
    z = detector.z_eff
    log_y = np.log(energies * 1000.0 / detector.critical_energy_mev)
    mean_log_t = np.log(np.maximum(parameters.t_hom + parameters.t_log * log_y, 0.1))
    mean_log_alpha = np.log(np.maximum(
        parameters.a_hom + (parameters.a_log + parameters.a_z / z) * log_y, 0.1))
    if detector.homogeneous:
        sigma_t = _inverse_linear(-1.4, 1.26, log_y)
        sigma_alpha = _inverse_linear(-0.58, 0.86, log_y)
        rho = 0.705 - 0.023 * log_y
    else:
        inverse_fs, one_minus_e = 1.0 / detector.f_s, 1.0 - detector.e_hat
        mean_log_t = np.log(np.maximum(
            np.exp(mean_log_t) + parameters.t_fs * inverse_fs + parameters.t_e * one_minus_e,
            1.1))
        mean_log_alpha = np.log(np.maximum(
            np.exp(mean_log_alpha) + parameters.a_fs * inverse_fs, 1.1))
        sigma_t = _inverse_linear(*parameters.sigma_t, log_y)
        sigma_alpha = _inverse_linear(*parameters.sigma_alpha, log_y)
        rho = parameters.rho[0] + parameters.rho[1] * log_y
    sigma_t = sigma_t * parameters.fluctuation_scale
    sigma_alpha = sigma_alpha * parameters.fluctuation_scale
    rho = np.clip(rho, -1.0, 1.0)
    z1, z2 = rng.standard_normal((2, len(energies)))
    plus, minus = np.sqrt((1.0 + rho) / 2.0), np.sqrt((1.0 - rho) / 2.0)
    log_t = mean_log_t + sigma_t * (plus * z1 + minus * z2)
    log_alpha = mean_log_alpha + sigma_alpha * (plus * z1 - minus * z2)
    t_max = np.maximum(np.exp(log_t), 1.0)
    alpha = np.maximum(np.exp(log_alpha), 1.1)
    beta = (alpha - 1.0) / t_max

    if detector.homogeneous:
        spots = 93.0 * math.log(z) * energies ** 0.876
        spot_t = np.maximum(t_max * (0.698 + 0.00212 * z), 0.5)
        spot_alpha = np.maximum(alpha * (0.639 + 0.00334 * z), 1.1)
    else:
        spots = 10.3 / detector.stochastic_term * energies ** 0.959
        spot_t = np.maximum(t_max * (0.813 + 0.0019 * z), 0.5)
        spot_alpha = np.maximum(alpha * (0.844 + 0.0026 * z), 1.1)
    return LongitudinalProfiles(
        alpha=alpha, beta=beta, t_max=t_max, mean_log_alpha=mean_log_alpha,
        spot_alpha=spot_alpha, spot_beta=(spot_alpha - 1.0) / spot_t, spots=spots,
    )


def radial_parameters(tau: np.ndarray, energies: np.ndarray, detector: Detector
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core radius R_C, tail radius R_T (Molière units) and core weight p at depth τ.

    ``tau`` is (N, steps); ``energies`` (N,) in GeV.
    """
    z = detector.z_eff
    log_e = np.log(energies)[:, None]
    core = 0.0251 + 0.00319 * log_e + (0.1162 - 0.000381 * z) * tau
    k4 = 0.3585 + 0.0421 * log_e
    tail = (0.659 - 0.00309 * z) * (np.exp(-2.59 * (tau - 0.645)) + np.exp(k4 * (tau - 0.645)))
    p3 = 1.313 - 0.0686 * log_e
    shape = (0.401 + 0.00187 * z - tau) / p3
    weight = (2.632 - 0.00094 * z) * np.exp(shape - np.exp(shape))
    if not detector.homogeneous:
        inverse_fs, one_minus_e = 1.0 / detector.f_s, 1.0 - detector.e_hat
        core = core - 0.0203 * one_minus_e + 0.0397 * inverse_fs * np.exp(-tau)
        tail = tail - 0.14 * one_minus_e - 0.495 * inverse_fs * np.exp(-tau)
        weight = weight + one_minus_e * (0.348 - 0.642 * inverse_fs * np.exp(-(tau - 1.0) ** 2))
    return np.maximum(core, 1e-3), np.maximum(tail, 1e-3), np.clip(weight, 0.0, 1.0)
