"""ONNX export of a generator's ``decode``, for Geant4 applications (ONNX Runtime in C++).

The exported graph takes ``noise`` (N, latent_size) standard-normal values, ``energy`` (N,)
in GeV and, for angle models, ``angle`` (N,) in degrees, and returns ``showers``
(N, X, Y, Z) in GeV: conditioning, inverse preprocessing and threshold are inside the graph.
Needs the ``onnx`` extra (onnx, onnxruntime, and Keras's converters: tf2onnx for the
TensorFlow backend, jax2onnx for JAX).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras

from calozoo._version import __version__
from calozoo.models.base import ShowerGenerator
from calozoo.models.layers import Conditioner, InverseTransform
from calozoo.models.subpixel import inference_network
from calozoo.onnx_layout import split_wide_conv3d

OUTPUT = "showers"


def decode_model(generator: ShowerGenerator, fold: bool = True) -> keras.Model:
    """A Keras model of ``generator.decode``: inputs noise, energy[, angle] → showers (GeV).

    With ``fold`` the network is its inference form (:func:`inference_network`); without, the
    published layers themselves.
    """
    conditioning = generator.conditioning
    noise = keras.Input((conditioning.latent_size,), name="noise")
    energy = keras.Input((), name="energy")
    inputs = [noise, energy]
    angle = None
    if "angle" in conditioning.conditions:
        angle = keras.Input((), name="angle")
        inputs.append(angle)
    conditioner = Conditioner(conditioning.mode, conditioning.energy_scale, name="conditioner")
    network_input = conditioner(noise, energy, angle) if angle is not None else \
        conditioner(noise, energy)
    # Up-sampling + convolution folded into one convolution per output phase: the same
    # function, 5-10x faster in ONNX Runtime (models/subpixel.py, benchmarks/cpu.py).
    network = inference_network(generator) if fold else generator
    showers = InverseTransform(conditioning.power, conditioning.cell_scale,
                               conditioning.threshold, name=OUTPUT)(network(network_input))
    return keras.Model(inputs, showers, name=f"{generator.name}_decode")


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx extra: pip install 'calozoo[onnx]'") \
            from None
    return onnx


MIN_OPSET = 13
"""The oldest opset the converters produce a working graph of the zoo's generators for."""
PARITY = 1e-4
"""Largest deviation from ``decode()`` an exported file may show, relative to the largest cell."""


def _check_opset(onnx, opset: int | None) -> None:
    if opset is None:
        return
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not \
            MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be an integer from {MIN_OPSET} to {newest} (the newest "
                         f"this onnx knows), got {opset!r}")


def _verify(path: Path, generator: ShowerGenerator, onnx) -> None:
    """Refuse a written graph that ONNX or ONNX Runtime rejects, or that does not reproduce
    ``decode()``."""
    import numpy as np

    try:
        onnx.checker.check_model(str(path))
    except Exception as error:  # noqa: BLE001 - the checker raises several kinds
        raise ValueError(f"the exported graph is not valid ONNX ({error}); nothing was "
                         "written") from None
    try:
        import onnxruntime
    except ImportError:
        return
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((2, generator.latent_size)).astype(np.float32)
    low, high = generator.conditioning.energy_range
    energies = np.array([low + 0.25 * (high - low), high], np.float32)
    feeds = {"noise": noise, "energy": energies}
    angles = None
    if "angle" in generator.conditioning.conditions:
        angles = np.array([75.0, 100.0], np.float32)
        feeds["angle"] = angles
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        exported = session.run([OUTPUT], feeds)[0]
    except Exception as error:  # noqa: BLE001 - ONNX Runtime raises its own kinds
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"ONNX Runtime cannot run the exported graph ({message}); nothing "
                         "was written (try another opset)") from None
    # against the published layers, not the folded form the file holds
    reference = decode_model(generator, fold=False)
    inputs = [noise, energies] if angles is None else [noise, energies, angles]
    expected = np.asarray(keras.ops.convert_to_numpy(reference(inputs)))
    scale = max(float(np.abs(expected).max()), 1e-12)
    deviation = float(np.abs(exported - expected).max()) / scale
    if not deviation <= PARITY:
        raise ValueError(f"the exported graph does not reproduce decode() (largest deviation "
                         f"{deviation:.2g} of the largest cell); nothing was written")


def export_onnx(model_or_name: str | ShowerGenerator, path: str | os.PathLike, *,
                opset: int | None = None, weights: str | os.PathLike | None = "default",
                name: str | None = None, overwrite: bool = False) -> Path:
    """Export a generator's ``decode`` to ONNX.

    Parameters
    ----------
    model_or_name
        A zoo name (loaded with ``weights``) or a :class:`calozoo.ShowerGenerator`.
    path
        The ``.onnx`` file to write (through a temporary name).
    opset
        ONNX opset (the converter's default when None; at least 13).
    name
        Zoo name recorded in the metadata when a model object is given.
    overwrite
        Replace an existing file (refused otherwise, before any work). The file is written
        under a temporary name, checked with ONNX's checker and, when installed, run with ONNX
        Runtime against ``decode()``; only a file that passes gets its name.

    Returns
    -------
    Path
        The written file: inputs ``noise``, ``energy`` [GeV] (and ``angle`` [degrees]), output
        ``showers`` [GeV], dynamic batch; metadata with the model name, calozoo version,
        latent size, grid, units and trained ranges.
    """
    onnx = _onnx()
    from calozoo import _files, api

    target = _files.check_output(path, overwrite=overwrite)
    _check_opset(onnx, opset)
    if isinstance(model_or_name, str):
        name = model_or_name
        generator = api.load(model_or_name, weights=weights)
    else:
        generator = model_or_name
        name = name or generator.name
    if not isinstance(generator, ShowerGenerator):
        raise ValueError(f"only zoo generators can be exported, got {type(generator).__name__}")
    model = decode_model(generator)
    example = [keras.ops.zeros((1, generator.latent_size)), keras.ops.ones((1,)) * 100.0]
    if len(model.inputs) == 3:
        example.append(keras.ops.ones((1,)) * 90.0)
    model(example)
    tmp = _files.temporary_folder(target)
    try:
        raw = Path(tmp) / "raw.onnx"
        kwargs = {} if opset is None else {"opset_version": opset}
        try:
            model.export(str(raw), format="onnx", verbose=False, **kwargs)
        except (ValueError, TypeError, RuntimeError, NotImplementedError) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValueError(f"the ONNX converter failed{f' at opset {opset}' if opset else ''}"
                             f" ({message}); nothing was written") from None
        graph = onnx.load(str(raw))
        _rename_output(graph, OUTPUT)
        _name_batch_dimension(graph)
        split_wide_conv3d(graph)
        conditioning = generator.conditioning
        metadata = {
            "calozoo_model": name,
            "calozoo_version": __version__,
            "latent_size": str(conditioning.latent_size),
            "grid": "x".join(map(str, generator.shape)),
            "conditions": ",".join(conditioning.conditions),
            "units": json.dumps({"noise": "standard normal", "energy": "GeV",
                                 "angle": "degrees (90 = perpendicular)", "showers": "GeV"}),
            "trained_ranges": json.dumps(generator.trained_ranges or {
                "energy_range": list(conditioning.energy_range),
                "angle_range": conditioning.angle_range}),
        }
        for key, value in metadata.items():
            entry = graph.metadata_props.add()
            entry.key, entry.value = key, value
        staged = Path(tmp) / "final.onnx"
        onnx.save(graph, str(staged))
        _verify(staged, generator, onnx)
        _files.publish(staged, target, overwrite=overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _rename_output(graph, new_name: str) -> None:
    old_name = graph.graph.output[0].name
    if old_name == new_name:
        return
    for node in graph.graph.node:
        node.output[:] = [new_name if output == old_name else output for output in node.output]
        node.input[:] = [new_name if value == old_name else value for value in node.input]
    graph.graph.output[0].name = new_name


def _name_batch_dimension(graph) -> None:
    for value in [*graph.graph.input, *graph.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_param = "N"
