"""Shower data: the ``Showers`` container and the HDF5 / ROOT readers and writers."""

from calozoo.data.io import ShowerWriter, count, iterate, load, save
from calozoo.data.showers import Showers
from calozoo.data.sparse import SparseShowers

__all__ = ["ShowerWriter", "Showers", "SparseShowers", "count", "iterate", "load", "save"]
