"""``SparseShowers``: showers as their non-zero cells (flat indices and values).

About 10% of the cells of a 25³ shower are non-zero, so this form moves and stores several
times fewer bytes than the dense grid.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass
class SparseShowers:
    """Non-zero cells of N showers on a grid, ``capacity`` slots per shower.

    Attributes
    ----------
    shape
        The grid (X, Y, Z); a flat index is ``(x * Y + y) * Z + z``.
    indices
        ``(N, capacity)`` flat cell indices (unsigned), slots sorted by decreasing energy.
    values
        ``(N, capacity)`` cell energies in GeV; 0 marks an unused slot.
    nonzero
        ``(N,)`` cells above threshold before truncation; a shower with more than
        ``capacity`` of them lost its smallest cells.
    """

    shape: tuple[int, int, int]
    indices: np.ndarray
    values: np.ndarray
    nonzero: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    @property
    def capacity(self) -> int:
        return self.values.shape[1]

    @property
    def truncated(self) -> np.ndarray:
        """Which showers had more non-zero cells than slots."""
        return self.nonzero > self.capacity

    def to_dense(self) -> np.ndarray:
        """``(N, X, Y, Z)`` float32 cells in GeV."""
        cells = math.prod(self.shape)
        dense = np.zeros((len(self), cells), dtype=np.float32)
        rows = np.arange(len(self))[:, None]
        used = self.values != 0
        dense[np.broadcast_to(rows, used.shape)[used],
              self.indices.astype(np.int64)[used]] = self.values[used]
        return dense.reshape(len(self), *self.shape)

    @classmethod
    def from_dense(cls, images: np.ndarray, capacity: int) -> SparseShowers:
        """The ``capacity`` largest cells of each shower (numpy reference of the device path)."""
        flat = images.reshape(len(images), -1)
        order = np.argsort(-flat, axis=1, kind="stable")[:, :capacity]
        values = np.take_along_axis(flat, order, axis=1)
        index_dtype = np.uint16 if flat.shape[1] <= 65536 else np.uint32
        return cls(tuple(images.shape[1:]), order.astype(index_dtype), values,
                   (flat > 0).sum(axis=1))

    @classmethod
    def concatenate(cls, parts: list[SparseShowers]) -> SparseShowers:
        return cls(parts[0].shape, np.concatenate([p.indices for p in parts]),
                   np.concatenate([p.values for p in parts]),
                   np.concatenate([p.nonzero for p in parts]))
