"""The reference detector as data: materials, layers and cells, and the GFlash quantities
(X0, Molière radius, critical energy, F_S, ê) that follow from them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

E_S_MEV = 21.2
"""Scale energy of the Molière radius (Geant4 ≥ 11.3)."""
PHOTON_CONVERSION_X0 = 9.0 / 7.0
"""Mean depth of a photon's first conversion, in radiation lengths."""


@dataclasses.dataclass(frozen=True)
class Material:
    """A medium: effective Z and A (mass-fraction weighted), density, radiation length.

    Attributes
    ----------
    x0_g_cm2
        Radiation length in g/cm².
    """

    name: str
    z: float
    a: float
    density_g_cm3: float
    x0_g_cm2: float
    mip_mev_cm: float = 0.0
    """Minimum-ionisation energy loss in MeV/cm (for the sampling fraction of a layer)."""

    @property
    def x0_mm(self) -> float:
        return 10.0 * self.x0_g_cm2 / self.density_g_cm3

    @property
    def critical_energy_mev(self) -> float:
        """E_c = 2.66 (X0 Z / A)^1.1 MeV with X0 in g/cm² (not Geant4's mm)."""
        return 2.66 * (self.x0_g_cm2 * self.z / self.a) ** 1.1

    @property
    def moliere_radius_mm(self) -> float:
        return self.x0_mm * E_S_MEV / self.critical_energy_mev


# PDG values.
TUNGSTEN = Material("W", z=74.0, a=183.84, density_g_cm3=19.30, x0_g_cm2=6.76,
                    mip_mev_cm=22.10)
SILICON = Material("Si", z=14.0, a=28.0855, density_g_cm3=2.329, x0_g_cm2=21.82,
                   mip_mev_cm=3.876)
PBWO4 = Material("PbWO4", z=68.36, a=170.88, density_g_cm3=8.28, x0_g_cm2=7.39,
                 mip_mev_cm=10.18)


@dataclasses.dataclass(frozen=True)
class LongitudinalParameters:
    """The coefficients of GFlash's longitudinal profile (hep-ex/0001020, App. A.2).

    Means of the fluctuated Gamma parameters, with y = E/E_c:

    - homogeneous: ⟨ln T⟩ = ln(t_hom + t_log ln y), ⟨ln α⟩ = ln(a_hom + (a_log + a_z/Z) ln y);
    - sampling: T_sam = T_hom + t_fs/F_S + t_e (1 − ê), α_sam = α_hom + a_fs/F_S;
    - widths σ = 1/(s1 + s2 ln y) of ln T and ln α, correlation ρ = r1 + r2 ln y (sampling
      values; homogeneous media use the paper's homogeneous ones, scaled alike);
    - photons start at an exponential depth of mean ``photon_start_x0`` radiation lengths.

    The defaults are the paper's (as Geant4 11.4 carries them). A detector calibrated to real
    showers carries its fitted set (``calozoo.sim.calibration``).
    """

    t_hom: float = -0.812
    t_log: float = 1.0
    a_hom: float = 0.81
    a_log: float = 0.458
    a_z: float = 2.26
    t_fs: float = -0.55
    t_e: float = -0.69
    a_fs: float = -0.476
    sigma_t: tuple[float, float] = (-2.5, 1.25)
    sigma_alpha: tuple[float, float] = (-0.82, 0.79)
    rho: tuple[float, float] = (0.784, -0.023)
    fluctuation_scale: float = 1.0
    """Common factor on σ(ln T) and σ(ln α): the shower-to-shower spread of the profile."""
    photon_start_x0: float = PHOTON_CONVERSION_X0



@dataclasses.dataclass(frozen=True)
class Detector:
    """A layered calorimeter: absorber + sensor per layer (sampling) or one medium (homogeneous).

    Attributes
    ----------
    name
        Registry name, e.g. ``"clic-wsi"``.
    absorber, absorber_mm
        Passive medium and its thickness per layer.
    sensor, sensor_mm
        Active medium and its thickness per layer; ``None`` for a homogeneous calorimeter,
        where the absorber is also the active medium.
    gap_mm
        Thickness per layer of light material (readout boards, air) whose radiation length is
        neglected: it moves layers apart and dilutes the average density, so it widens the
        shower laterally in millimetres (the Molière radius scales with pitch / dense
        thickness).
    cell_mm
        Lateral cell size (x and y).
    layers
        Number of layers.
    sampling_fraction
        Visible energy / deposited energy for contained showers, in the front section.
    stochastic_term
        c of the energy resolution σ/E = c/√(E/GeV); it sets the sampling fluctuations and
        the number of spots.
    back_layers, back_absorber_mm
        A back section: the last ``back_layers`` layers have absorbers of this thickness (as
        in the CLIC and ILD ECALs, whose rear layers carry thicker tungsten). Their sampling
        fraction is the front's scaled by the ratio of minimum-ionisation losses per layer.
    longitudinal
        The GFlash longitudinal coefficients (the paper's unless calibrated).
    """

    name: str
    absorber: Material
    absorber_mm: float
    sensor: Material | None
    sensor_mm: float
    cell_mm: float
    sampling_fraction: float
    stochastic_term: float
    layers: int = 25
    gap_mm: float = 0.0
    back_layers: int = 0
    back_absorber_mm: float = 0.0
    longitudinal: LongitudinalParameters = LongitudinalParameters()

    @property
    def homogeneous(self) -> bool:
        return self.sensor is None

    @property
    def layer_pitch_mm(self) -> float:
        return self.absorber_mm + self.sensor_mm + self.gap_mm

    def _media(self) -> list[tuple[Material, float]]:
        if self.homogeneous:
            return [(self.absorber, self.absorber_mm)]
        return [(self.absorber, self.absorber_mm), (self.sensor, self.sensor_mm)]

    def _mass_weights(self) -> list[float]:
        masses = [m.density_g_cm3 * thickness for m, thickness in self._media()]
        return [mass / sum(masses) for mass in masses]

    @property
    def z_eff(self) -> float:
        return sum(w * m.z for w, (m, _) in zip(self._mass_weights(), self._media()))

    @property
    def density_eff(self) -> float:
        media = self._media()
        return sum(m.density_g_cm3 * d for m, d in media) / sum(d for _, d in media)

    @property
    def x0_eff_g_cm2(self) -> float:
        """Mass-weighted harmonic mean of the radiation lengths."""
        return 1.0 / sum(w / m.x0_g_cm2 for w, (m, _) in zip(self._mass_weights(), self._media()))

    @property
    def x0_eff_mm(self) -> float:
        return 10.0 * self.x0_eff_g_cm2 / self.density_eff

    @property
    def critical_energy_mev(self) -> float:
        """E_c,eff = X0,eff Σ W_i E_c,i / X0,i (mass thicknesses)."""
        return self.x0_eff_g_cm2 * sum(
            w * m.critical_energy_mev / m.x0_g_cm2
            for w, (m, _) in zip(self._mass_weights(), self._media()))

    @property
    def moliere_radius_mm(self) -> float:
        """R_M,eff = X0,eff E_s / E_c,eff, in mm of the layered structure (gaps included)."""
        dense = 10.0 * self.x0_eff_g_cm2 * E_S_MEV / self.critical_energy_mev / self.density_eff
        return dense * self.layer_pitch_mm / (self.absorber_mm + self.sensor_mm)

    @property
    def layer_x0(self) -> float:
        """Radiation lengths per layer."""
        return (self.absorber_mm + self.sensor_mm) / self.x0_eff_mm

    @property
    def f_s(self) -> float:
        """F_S = X0,eff / (d_absorber + d_sensor)."""
        return 1.0 / self.layer_x0

    @property
    def e_hat(self) -> float:
        """ê = e/mip ≈ 1 / (1 + 0.007 (Z_passive − Z_active)); 1 for homogeneous media."""
        if self.homogeneous:
            return 1.0
        return 1.0 / (1.0 + 0.007 * (self.absorber.z - self.sensor.z))

    @property
    def back_section(self) -> Detector:
        """The back section's layer as a detector of its own (the front's when none)."""
        if not self.back_layers:
            return self
        return dataclasses.replace(self, absorber_mm=self.back_absorber_mm, back_layers=0,
                                   back_absorber_mm=0.0)

    def _per_layer(self, front: float, back: float) -> np.ndarray:
        return np.r_[np.full(self.layers - self.back_layers, front),
                     np.full(self.back_layers, back)]

    @property
    def layer_x0s(self) -> np.ndarray:
        """Radiation lengths of each layer, front to back."""
        return self._per_layer(self.layer_x0, self.back_section.layer_x0)

    @property
    def layer_pitches_mm(self) -> np.ndarray:
        """Thickness of each layer in mm (absorber + sensor + gap)."""
        return self._per_layer(self.layer_pitch_mm, self.back_section.layer_pitch_mm)

    def _mip_loss_mev(self) -> float:
        return sum(m.mip_mev_cm * thickness / 10.0 for m, thickness in self._media())

    @property
    def layer_weights(self) -> np.ndarray:
        """Each layer's sampling fraction relative to the front section's."""
        if self.homogeneous:
            return np.ones(self.layers)
        sensor = self.sensor.mip_mev_cm * self.sensor_mm / 10.0
        return self._per_layer(1.0, (sensor / self.back_section._mip_loss_mev())
                               / (sensor / self._mip_loss_mev()))

    @property
    def total_x0(self) -> float:
        return float(self.layer_x0s.sum())

    def summary(self) -> dict[str, float | str]:
        """Derived quantities, for documentation and model cards."""
        return {
            "name": self.name,
            "z_eff": round(self.z_eff, 3),
            "x0_eff_mm": round(self.x0_eff_mm, 4),
            "moliere_radius_mm": round(self.moliere_radius_mm, 3),
            "critical_energy_mev": round(self.critical_energy_mev, 4),
            "layer_x0": round(self.layer_x0, 4),
            "back_layers": self.back_layers,
            "back_layer_x0": round(self.back_section.layer_x0, 4),
            "total_x0": round(self.total_x0, 2),
            "f_s": round(self.f_s, 4),
            "e_hat": round(self.e_hat, 4),
            "cell_mm": self.cell_mm,
            "layer_pitch_mm": self.layer_pitch_mm,
            "sampling_fraction": self.sampling_fraction,
            "stochastic_term": self.stochastic_term,
        }


DETECTORS: dict[str, Detector] = {
    # CLIC-like W/Si ECAL of the 3DGAN data: 5.1 mm cells, 25 layers; 17 front layers of
    # 0.76 X0 whose pitch equals the cell size and 8 back layers of thicker tungsten
    # (1.72 X0). Absorber thicknesses, the GFlash longitudinal coefficients and the sampling
    # fraction are fitted to real Geant4 CLIC photons (shower maximum, mean and RMS depth and
    # their spread, first-five and last-three layer fractions, ΣE/E, containment):
    # calozoo.sim.calibration, calozoo.sim.validation and docs/reference-detector.md.
    "clic-wsi": Detector(
        name="clic-wsi", absorber=TUNGSTEN, absorber_mm=2.65, sensor=SILICON, sensor_mm=0.5,
        gap_mm=1.95, cell_mm=5.1, sampling_fraction=0.0265, stochastic_term=0.17,
        back_layers=8, back_absorber_mm=6.0,
        longitudinal=LongitudinalParameters(t_fs=0.955, a_fs=-1.54, fluctuation_scale=0.333),
    ),
    # A homogeneous lead-tungstate crystal calorimeter on the same grids: 1 X0 per layer,
    # 10 mm cells, all energy visible, 3 %/√E.
    "pbwo4": Detector(
        name="pbwo4", absorber=PBWO4, absorber_mm=8.92, sensor=None, sensor_mm=0.0,
        cell_mm=10.0, sampling_fraction=1.0, stochastic_term=0.03,
    ),
}


def get_detector(detector: str | Detector) -> Detector:
    """A built-in detector by name (or the given ``Detector``)."""
    if isinstance(detector, Detector):
        return detector
    try:
        return DETECTORS[detector]
    except KeyError:
        raise ValueError(f"unknown detector {detector!r}; built in: "
                         f"{', '.join(sorted(DETECTORS))}") from None


