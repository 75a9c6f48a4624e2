"""Reading weights saved by the original Keras 2 / tf.keras code (HDF5 ``save_weights`` files).

The 3DGAN and Conv2D papers' own training scripts wrote checkpoints with Keras 2's
``save_weights``: a group per top-level layer (``layer_names`` attribute of the root), and
inside it the layer's arrays under the names its ``weight_names`` attribute lists (for a nested
model such as ``sequential_1``, names like ``dense_1/kernel:0``). Full-model files
(``model.save``) keep the same layout under ``model_weights``.

The arrays are mapped onto a zoo network by layer order and shape: the n-th layer of the file
that holds arrays goes to the n-th layer of the zoo network that holds weights.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import h5py
import numpy as np

_ARRAY_ORDER = ("kernel", "depthwise_kernel", "pointwise_kernel", "bias",
                "gamma", "beta", "moving_mean", "moving_variance")
"""Keras 3's order of a layer's weights (Dense/Conv: kernel, bias; BatchNormalization:
gamma, beta, moving mean, moving variance)."""


HEADS = ("generation", "auxiliary")
"""Discriminator heads, mapped by name when the file names them (else in this order, last)."""


class LegacyWeightsError(ValueError):
    """A legacy weights file that cannot be read, or that does not fit a zoo network."""


@dataclasses.dataclass
class LegacyLayer:
    """One layer's arrays in a legacy file, in Keras 3's order.

    ``path`` is the layer's place in the file (e.g. ``sequential_1/conv3d_2``); ``names`` are
    the arrays' short names (``kernel``, ``bias``, ``gamma``…).
    """

    path: str
    names: list[str]
    arrays: list[np.ndarray]

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [tuple(array.shape) for array in self.arrays]


def _text_list(attrs: h5py.AttributeManager, key: str) -> list[str] | None:
    """A list-of-strings attribute, joined back if Keras split it (``key0``, ``key1``…)."""
    if key in attrs:
        values = list(np.atleast_1d(attrs[key]))
    elif f"{key}0" in attrs:
        values, index = [], 0
        while f"{key}{index}" in attrs:
            values += list(np.atleast_1d(attrs[f"{key}{index}"]))
            index += 1
    else:
        return None
    return [value.decode() if isinstance(value, bytes) else str(value) for value in values
            if not (isinstance(value, float) and np.isnan(value))]


def _short_name(weight_name: str) -> str:
    name = weight_name.rsplit("/", 1)[-1]
    return name.split(":", 1)[0]


def read_legacy(path: str | os.PathLike) -> list[LegacyLayer]:
    """The layers with arrays in a Keras 2 / tf.keras HDF5 weights file, in the file's order.

    Raises
    ------
    LegacyWeightsError
        The file is not HDF5, is truncated, is not in the Keras 2 layout, or lists an array it
        does not hold.
    """
    path = Path(path)
    if not path.is_file():
        raise LegacyWeightsError(f"{path}: no such file")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise LegacyWeightsError(f"{path}: not a readable HDF5 file ({error})") from None
    with handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        backend = root.attrs.get("backend", handle.attrs.get("backend", b"tensorflow"))
        backend = backend.decode() if isinstance(backend, bytes) else str(backend)
        if backend == "theano":
            raise LegacyWeightsError(f"{path}: saved with the Theano backend, whose "
                                     "convolution kernels are flipped; only TensorFlow-backend "
                                     "files can be imported")
        layer_names = _text_list(root.attrs, "layer_names")
        if layer_names is None:
            hint = (" (it looks like a Keras 3 .weights.h5 file: load it with "
                    "calozoo.load(name, weights=PATH))") if "layers" in handle else ""
            raise LegacyWeightsError(f"{path}: not a Keras 2 / tf.keras weights file: no "
                                     f"'layer_names' attribute{hint}")
        layers: dict[str, LegacyLayer] = {}
        try:
            for layer_name in layer_names:
                if layer_name not in root:
                    raise LegacyWeightsError(f"{path}: layer {layer_name!r} is listed but "
                                             "missing")
                group = root[layer_name]
                for weight_name in _text_list(group.attrs, "weight_names") or []:
                    if weight_name not in group:
                        raise LegacyWeightsError(f"{path}: array {layer_name}/{weight_name} "
                                                 "is listed but missing")
                    owner = weight_name.rsplit("/", 1)[0] if "/" in weight_name else ""
                    key = f"{layer_name}/{owner}" if owner and owner != layer_name else \
                        layer_name
                    layer = layers.setdefault(key, LegacyLayer(key, [], []))
                    layer.names.append(_short_name(weight_name))
                    layer.arrays.append(np.asarray(group[weight_name][()]))
        except (OSError, KeyError, RuntimeError) as error:
            raise LegacyWeightsError(f"{path}: damaged or truncated file ({error})") from None
    for layer in layers.values():
        if set(layer.names) <= set(_ARRAY_ORDER):
            order = sorted(range(len(layer.names)),
                           key=lambda i: _ARRAY_ORDER.index(layer.names[i]))
            layer.names = [layer.names[i] for i in order]
            layer.arrays = [layer.arrays[i] for i in order]
    return list(layers.values())


def legacy_value_count(layers: list[LegacyLayer]) -> int:
    return sum(int(array.size) for layer in layers for array in layer.arrays)


def _shapes_text(shapes) -> str:
    return ", ".join("×".join(map(str, shape)) or "scalar" for shape in shapes)


def map_onto(layers: list[LegacyLayer], model, *, source: str = "file",
             target: str = "zoo network") -> list[np.ndarray]:
    """The legacy arrays in the order of ``model.weights``, checked layer by layer.

    Raises
    ------
    LegacyWeightsError
        Naming the first layer or array whose count or shape differs, with both shapes.
    """
    zoo_layers = [layer for layer in model.layers if layer.weights]
    # The discriminator heads are named alike in every paper's code; Keras 3 lists a model's
    # dict outputs sorted by name, the papers' code created them as generation, auxiliary.
    heads = [name for name in HEADS if any(layer.name == name for layer in zoo_layers)]
    zoo_layers = [layer for layer in zoo_layers if layer.name not in heads] + \
        [next(layer for layer in zoo_layers if layer.name == name) for name in heads]
    legacy_heads = {layer.path.rsplit("/", 1)[-1]: layer for layer in layers
                    if layer.path.rsplit("/", 1)[-1] in heads}
    if heads and sorted(legacy_heads) == sorted(heads):
        layers = [layer for layer in layers if layer not in legacy_heads.values()] + \
            [legacy_heads[name] for name in heads]
    by_layer: dict[int, list[np.ndarray]] = {}
    for index, (legacy, zoo) in enumerate(zip(layers, zoo_layers), start=1):
        expected = [tuple(weight.shape) for weight in zoo.weights]
        names = [weight.path.rsplit("/", 1)[-1] for weight in zoo.weights]
        if len(legacy.arrays) != len(expected):
            raise LegacyWeightsError(
                f"{source} does not fit the {target}: layer {index} ({legacy.path}) holds "
                f"{len(legacy.arrays)} arrays [{', '.join(legacy.names)}: "
                f"{_shapes_text(legacy.shapes)}], the zoo's layer {zoo.name!r} has "
                f"{len(expected)} [{', '.join(names)}: {_shapes_text(expected)}]")
        for legacy_name, array, name, shape in zip(legacy.names, legacy.arrays, names,
                                                   expected):
            if tuple(array.shape) != shape:
                raise LegacyWeightsError(
                    f"{source} does not fit the {target}: layer {index} array "
                    f"{legacy.path}/{legacy_name} has shape {_shapes_text([array.shape])}, "
                    f"the zoo's {zoo.name}/{name} needs {_shapes_text([shape])}")
            by_layer.setdefault(id(zoo), []).append(array.astype(np.float32, copy=False))
    if len(layers) != len(zoo_layers):
        if len(layers) > len(zoo_layers):
            extra = layers[len(zoo_layers)]
            what = f"{extra.path} ({_shapes_text(extra.shapes)}) has no zoo layer to go to"
        else:
            missing = zoo_layers[len(layers)]
            what = (f"the zoo's layer {missing.name!r} "
                    f"({_shapes_text(tuple(w.shape) for w in missing.weights)}) gets no array")
        first = min(len(layers), len(zoo_layers)) + 1
        raise LegacyWeightsError(
            f"{source} does not fit the {target}: the file has {len(layers)} layers with "
            f"arrays, the zoo network {len(zoo_layers)}; layer {first}: {what}")
    return [array for layer in model.layers if layer.weights for array in by_layer[id(layer)]]
