"""Name resolution and weights errors of the public API."""

import pytest

import calozoo


@pytest.mark.parametrize("typo, suggestion", [("g1", "g1-3branch"), ("conv3D", "conv3d"),
                                              ("3dgan_angle", "3dgan-angle")])
def test_unknown_name_lists_and_suggests(typo, suggestion):
    with pytest.raises(ValueError) as error:
        calozoo.model_info(typo)
    message = str(error.value)
    assert f"unknown model {typo!r}" in message
    for known in calozoo.list_models():
        assert known in message
    assert f"did you mean {suggestion!r}" in message


def test_load_rejects_unknown_names_and_parts():
    with pytest.raises(ValueError, match="unknown model"):
        calozoo.load("g7-99branch", weights=None)
    with pytest.raises(ValueError, match="part must be"):
        calozoo.load("conv3d", part="critic", weights=None)


def test_default_weights_missing_says_what_to_do():
    name = next(n for n in calozoo.list_models() if not calozoo.model_info(n).weights)
    with pytest.raises(FileNotFoundError, match="weights=None"):
        calozoo.load(name)


def test_missing_weights_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.weights.h5 does not exist"):
        calozoo.load("conv3d", weights=tmp_path / "nothing.weights.h5")


def test_weights_file_round_trip(tmp_path):
    model = calozoo.load("conv3d", weights=None)
    path = tmp_path / "conv3d.weights.h5"
    model.save_weights(path)
    for given in (path, str(path), tmp_path):
        loaded = calozoo.load("conv3d", weights=given)
        for a, b in zip(model.get_weights(), loaded.get_weights()):
            assert (a == b).all()
