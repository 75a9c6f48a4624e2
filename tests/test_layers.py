"""The parameter-free layers: voxel sum and the 3DGAN measured angle."""

import math

import numpy as np
import pytest
import keras

from calozoo.models.layers import MeasuredAngle, VoxelSum

pytestmark = pytest.mark.backend


def _track(angle_deg: float, shape=(51, 51, 25)) -> np.ndarray:
    """A straight line of unit deposits through the grid centre, tilted in the y–z plane."""
    image = np.zeros((*shape, 1), "float32")
    nx, ny, nz = shape
    slope = math.tan(math.radians(90.0 - angle_deg))
    for z in range(nz):
        y = (ny / 2) + (z + 0.5 - nz / 2) * slope
        image[nx // 2, int(math.floor(y)), z, 0] = 1.0
    return image


def test_voxel_sum_undoes_the_power():
    images = np.random.default_rng(0).uniform(0, 2, size=(4, 5, 5, 5, 1)).astype("float32")
    plain = keras.ops.convert_to_numpy(VoxelSum()(images))
    powered = keras.ops.convert_to_numpy(VoxelSum(power=0.85)(images ** 0.85))
    np.testing.assert_allclose(plain[:, 0], images.sum(axis=(1, 2, 3, 4)), rtol=1e-5)
    np.testing.assert_allclose(powered, plain, rtol=1e-4)


@pytest.mark.parametrize("angle", [62.0, 75.0, 90.0, 105.0, 118.0])
def test_measured_angle_of_a_straight_track(angle):
    images = _track(angle)[None]
    measured = keras.ops.convert_to_numpy(MeasuredAngle()(images))[0, 0]
    assert math.degrees(measured) == pytest.approx(angle, abs=2.0)


def test_measured_angle_of_an_empty_event_is_the_marker():
    images = np.zeros((1, 51, 51, 25, 1), "float32")
    assert keras.ops.convert_to_numpy(MeasuredAngle()(images))[0, 0] == 100.0
