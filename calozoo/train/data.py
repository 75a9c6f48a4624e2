"""Training data: HDF5 files (streamed), Showers, or showers simulated on the fly."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import multiprocessing
import os
from collections.abc import Iterator, Sequence

import numpy as np

from calozoo.data import Showers
from calozoo.train.recipes import Recipe


@dataclasses.dataclass
class TrainingData:
    """Where a run's showers come from; ``epoch(e)`` yields batches of exactly ``batch_size``.

    Exactly one of ``paths``, ``showers`` or ``simulate`` is set. Simulated batches are drawn
    from seeds (seed, epoch, batch index), so they do not depend on ``workers``: the number of
    processes that simulate them (1: this process; None: all cores but one, up to 16). Scripts
    that use more than one worker need Python's ``if __name__ == "__main__":`` guard.
    """

    shape: tuple[int, int, int]
    with_angles: bool
    energy_range: tuple[float, float]
    angle_range: tuple[float, float] | None
    batch_size: int
    seed: int
    paths: Sequence[str | os.PathLike] = ()
    showers: Sequence[Showers] = ()
    simulate: int = 0
    detector: str = "clic-wsi"
    workers: int | None = 1
    _pool: concurrent.futures.Executor | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        sources = sum(bool(source) for source in (self.paths, self.showers, self.simulate))
        if sources != 1:
            raise ValueError("give exactly one data source: files, Showers, or simulate=N")
        if self.paths:
            from calozoo.data import count, load
            for path in self.paths:
                if count(path) == 0:
                    raise ValueError(f"{path}: the file holds no showers")
                self._check(load(path, stop=1), str(path))
        for index, part in enumerate(self.showers):
            if len(part) == 0:
                raise ValueError("empty Showers given as training data")
            self._check(part, f"Showers #{index}")
        if self.batches_per_epoch() == 0:
            raise ValueError(f"fewer showers than one batch of {self.batch_size}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")

    def _check(self, showers: Showers, where: str) -> None:
        if showers.shape != self.shape:
            raise ValueError(f"{where}: showers of shape {showers.shape}, but the model makes "
                             f"{self.shape}")
        if self.with_angles and showers.angles is None:
            raise ValueError(f"{where}: the model is conditioned on the angle, the data has "
                             "none")

    def batches_per_epoch(self) -> int:
        if self.simulate:
            return self.simulate // self.batch_size
        if self.paths:
            from calozoo.data import count
            return sum(count(path) // self.batch_size for path in self.paths)
        return sum(len(part) // self.batch_size for part in self.showers)

    def epoch(self, epoch: int) -> Iterator[Showers]:
        if self.simulate:
            yield from self._simulated(epoch)
            return
        from calozoo.data import iterate
        sources = [iterate(path, self.batch_size) for path in self.paths] if self.paths else [
            (part[start:start + self.batch_size]
             for start in range(0, len(part), self.batch_size)) for part in self.showers]
        for source in sources:
            for batch in source:
                if len(batch) == self.batch_size:
                    yield batch

    def _simulated(self, epoch: int) -> Iterator[Showers]:
        from calozoo.sim import simulate

        geometry = "x".join(map(str, self.shape))
        seeds = np.random.SeedSequence([self.seed, epoch, 1]).spawn(self.batches_per_epoch())

        def task(seed):
            rng = np.random.default_rng(seed)
            energies = rng.uniform(*self.energy_range, self.batch_size)
            angles = rng.uniform(*self.angle_range, self.batch_size) if self.with_angles \
                else None
            return (energies, angles), dict(geometry=geometry, detector=self.detector,
                                            seed=rng.integers(2**63))

        pool = self._simulation_pool()
        if pool is None:
            for seed in seeds:
                args, kwargs = task(seed)
                yield simulate(*args, **kwargs)
            return
        in_flight: collections.deque = collections.deque()
        read_ahead = 2 * self.simulation_workers()
        try:
            for seed in seeds:
                args, kwargs = task(seed)
                in_flight.append(pool.submit(simulate, *args, **kwargs))
                if len(in_flight) >= read_ahead:
                    yield _result(in_flight.popleft())
            while in_flight:
                yield _result(in_flight.popleft())
        finally:                       # a consumer that stops early leaves no work queued
            for future in in_flight:
                future.cancel()

    def simulation_workers(self) -> int:
        """Processes that simulate batches (1: the calling process does)."""
        if self.workers:
            return self.workers
        try:
            cores = len(os.sched_getaffinity(0))       # what a batch system allots
        except AttributeError:
            cores = os.cpu_count() or 1
        return min(16, max(1, cores - 1))

    def _simulation_pool(self) -> concurrent.futures.Executor | None:
        if self.simulation_workers() <= 1:
            return None
        if self._pool is None:
            # spawn, not fork: the parent holds TensorFlow/JAX runtime threads
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.simulation_workers(), mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def close(self) -> None:
        """Stop the simulation processes (if any)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> TrainingData:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _result(future: concurrent.futures.Future) -> Showers:
    try:
        return future.result()
    except concurrent.futures.process.BrokenProcessPool:
        raise RuntimeError(
            "a shower-simulation worker process died: out of memory, or a script that trains "
            "with workers > 1 without an `if __name__ == \"__main__\":` block (Python's rule "
            "for process pools); fewer workers, or workers=1, avoid both") from None


def preprocess(showers: Showers, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Images as the networks see them (N, X, Y, Z, 1) and their raw voxel sums (scaled)."""
    cells = np.where(showers.images >= recipe.cell_threshold, showers.images, 0.0)
    cells = cells.astype(np.float32) * np.float32(recipe.cell_scale)
    sums = cells.reshape(len(cells), -1).sum(axis=1)
    if recipe.power != 1.0:
        cells = cells ** np.float32(recipe.power)
    return cells[..., None], sums
