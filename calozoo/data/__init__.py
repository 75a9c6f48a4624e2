"""Shower data: the ``Showers`` container and the HDF5 / ROOT readers and writers."""

from calozoo.data.io import ShowerWriter, count, iterate, load, save
from calozoo.data.showers import Showers

__all__ = ["ShowerWriter", "Showers", "count", "iterate", "load", "save"]
