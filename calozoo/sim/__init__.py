"""The reference detector: a GFlash-parametrised electromagnetic calorimeter simulator.

``simulate(energies, angles, geometry=..., detector=..., particle=..., seed=...)`` returns
:class:`calozoo.data.Showers`. Detectors are data (:class:`Detector`); built in are
``"clic-wsi"`` (the CLIC W/Si ECAL of the 3DGAN data) and ``"pbwo4"`` (a homogeneous crystal
calorimeter, "a new detector" for fine-tuning).
"""

from calozoo.sim.detector import DETECTORS, Detector, Material, get_detector
from calozoo.sim.simulate import simulate

__all__ = ["DETECTORS", "Detector", "Material", "get_detector", "simulate"]
