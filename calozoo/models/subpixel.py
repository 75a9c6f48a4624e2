"""An inference-only form of the 3D generators: up-sampling + convolution as one smaller
convolution per output phase ("sub-pixel" convolution).

A nearest-neighbour up-sampling by s followed by zero padding and a valid convolution of
kernel size k computes, for the outputs of each phase r (their position modulo s), a
convolution of the *original* input with a folded kernel of ⌈(r + k)/s⌉ taps: the taps that
read the same input cell are summed. All phases are computed by one convolution whose output
channels are (phase, channel), then interleaved back. The function is the same (up to the
order of floating-point sums); it needs far fewer operations and no up-sampled copy, which is
what ONNX Runtime's convolution is slow at. The published layers, their weights and
``get_config`` are untouched: this is built from them for export.
"""

from __future__ import annotations

import dataclasses
import inspect

import keras
import numpy as np
from keras import layers


@dataclasses.dataclass(frozen=True)
class _Axis:
    """One spatial axis of an up-sampled, padded, valid convolution."""

    size: int          # input cells N
    up: int            # up-sampling factor s
    pad: tuple[int, int]
    kernel: int        # k

    @property
    def outputs(self) -> int:
        return self.up * self.size + sum(self.pad) - self.kernel + 1

    @property
    def first_block(self) -> int:      # m0: the phase block of output 0 (≤ 0)
        return (-self.pad[0]) // self.up

    @property
    def folded(self) -> int:           # taps of the folded kernel
        return (self.up - 1 + self.kernel - 1) // self.up + 1

    @property
    def input_padding(self) -> tuple[int, int]:
        last_block = (self.outputs - 1 - self.pad[0]) // self.up
        return -self.first_block, max(0, last_block + self.folded - self.size)

    @property
    def blocks(self) -> int:           # positions of the folded convolution
        low, high = self.input_padding
        return self.size + low + high - self.folded + 1

    @property
    def crop(self) -> tuple[int, int]:
        start = -self.pad[0] - self.up * self.first_block
        return start, self.blocks * self.up - start - self.outputs

    def fold(self) -> np.ndarray:
        """(phase r, folded tap d, original tap t) → 1 where tap t of phase r reads cell d."""
        table = np.zeros((self.up, self.folded, self.kernel), np.float32)
        for phase in range(self.up):
            for tap in range(self.kernel):
                table[phase, (phase + tap) // self.up, tap] = 1.0
        return table


def _folded_weights(conv, axes: list[_Axis]) -> list[np.ndarray]:
    kernel = np.asarray(keras.ops.convert_to_numpy(conv.kernel), np.float64)
    fx, fy, fz = (axis.fold().astype(np.float64) for axis in axes)
    folded = np.einsum("adi,bej,cfk,ijkmn->defmabcn", fx, fy, fz, kernel)
    phases = int(np.prod([axis.up for axis in axes]))
    shape = (*(axis.folded for axis in axes), kernel.shape[3], phases * kernel.shape[4])
    weights = [folded.reshape(shape).astype(np.float32)]
    if conv.use_bias:
        bias = np.asarray(keras.ops.convert_to_numpy(conv.bias), np.float32)
        weights.append(np.tile(bias, phases))
    return weights


def _subpixel_block(x, conv, axes: list[_Axis], prefix: str):
    """Up-sampling → [zero padding] → valid Conv3D, as one folded Conv3D and an interleave."""
    channels = conv.filters
    input_padding = tuple(axis.input_padding for axis in axes)
    if any(any(pair) for pair in input_padding):
        x = layers.ZeroPadding3D(input_padding, name=f"{prefix}_pad")(x)
    folded = layers.Conv3D(channels * int(np.prod([a.up for a in axes])),
                           tuple(axis.folded for axis in axes), padding="valid",
                           use_bias=conv.use_bias, name=f"{prefix}_folded",
                           dtype=conv.dtype_policy)
    x = folded(x)
    folded.set_weights(_folded_weights(conv, axes))
    blocks = tuple(axis.blocks for axis in axes)
    ups = tuple(axis.up for axis in axes)
    x = layers.Reshape((*blocks, *ups, channels), name=f"{prefix}_phases")(x)
    x = layers.Permute((1, 4, 2, 5, 3, 6, 7), name=f"{prefix}_interleave")(x)
    x = layers.Reshape((*(b * u for b, u in zip(blocks, ups)), channels),
                       name=f"{prefix}_merge")(x)
    crops = tuple(axis.crop for axis in axes)
    if any(any(pair) for pair in crops):
        x = layers.Cropping3D(crops, name=f"{prefix}_crop")(x)
    return x


def _foldable(conv) -> bool:
    return (isinstance(conv, layers.Conv3D) and conv.padding == "valid"
            and tuple(conv.strides) == (1, 1, 1) and tuple(conv.dilation_rate) == (1, 1, 1)
            and conv.data_format == "channels_last" and conv.groups == 1
            and conv.activation is keras.activations.linear)


def _is_chain(model: keras.Model) -> bool:
    previous = None
    for layer in model.layers:
        if len(layer._inbound_nodes) != 1:
            return False
        inputs = layer._inbound_nodes[0].input_tensors
        if previous is None:
            if inputs:
                return False
        elif len(inputs) != 1 or inputs[0] is not previous.output:
            return False
        previous = layer
    return True


def _linear(layer) -> bool:
    return getattr(layer, "activation", None) is keras.activations.linear


def _linear_prefix(chain: list) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    """Dense → Reshape → Conv3D (all linear) as one (inputs, outputs) matrix and bias."""
    if len(chain) < 3:
        return None
    dense, reshape, conv = chain[:3]
    if not (isinstance(dense, layers.Dense) and _linear(dense) and dense.use_bias and
            isinstance(reshape, layers.Reshape) and isinstance(conv, layers.Conv3D) and
            _linear(conv) and tuple(conv.strides) == (1, 1, 1) and
            tuple(conv.dilation_rate) == (1, 1, 1) and conv.groups == 1 and
            conv.data_format == "channels_last"):
        return None
    ops = keras.ops
    kernel = ops.convert_to_tensor(dense.kernel)
    rows = ops.reshape(kernel, (kernel.shape[0], *reshape.target_shape))
    matrix = ops.conv(rows, conv.kernel, padding=conv.padding)
    shape = tuple(int(size) for size in matrix.shape[1:])
    matrix = ops.reshape(matrix, (kernel.shape[0], -1))
    bias = ops.conv(ops.reshape(ops.convert_to_tensor(dense.bias), (1, *reshape.target_shape)),
                    conv.kernel, padding=conv.padding)
    if conv.use_bias:
        bias = bias + conv.bias
    return (np.asarray(ops.convert_to_numpy(matrix), np.float32),
            np.asarray(ops.convert_to_numpy(ops.reshape(bias, (-1,))), np.float32), shape)


def inference_network(generator: keras.Model) -> keras.Model:
    """The generator's network for export: a leading Dense → Reshape → Conv3D (all linear)
    multiplied out into one Dense, and every up-sampling → [padding] → valid Conv3D folded.

    Models that are not a plain chain of layers, or have nothing to fold, come back unchanged.
    """
    steps = _plan(generator)
    if steps is None:
        return generator
    x = inputs = keras.Input(generator.input_shape[1:], name="network_input")
    prefix = _linear_prefix([step[1] for step in steps[:3]] if all(
        kind == "layer" for kind, *_ in steps[:3]) else [])
    if prefix is not None:
        matrix, bias, shape = prefix
        dense = layers.Dense(matrix.shape[1], name="linear_prefix",
                             dtype=steps[2][1].dtype_policy)
        x = layers.Reshape(shape, name="linear_prefix_volume")(dense(x))
        dense.set_weights([matrix, bias])
        steps = steps[3:]
    for index, (kind, layer, *rest) in enumerate(steps):
        if kind == "fold":
            x = _subpixel_block(x, layer, rest[0], prefix=f"subpixel_{index}")
            continue
        copy = layer.__class__.from_config(layer.get_config())   # the original stays as is
        x = copy(x)
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=f"{generator.name}_inference")


def _plan(network: keras.Model) -> list[tuple] | None:
    """The chain as steps ("layer", layer) and ("fold", conv, axes); None if nothing folds."""
    if not _is_chain(network):
        return None
    chain = network.layers[1:]
    steps, index = [], 0
    while index < len(chain):
        layer = chain[index]
        if isinstance(layer, layers.UpSampling3D) and layer.data_format == "channels_last":
            padding = chain[index + 1] if index + 1 < len(chain) and isinstance(
                chain[index + 1], layers.ZeroPadding3D) else None
            conv_index = index + (2 if padding is not None else 1)
            if conv_index < len(chain) and _foldable(chain[conv_index]):
                conv = chain[conv_index]
                spatial = tuple(int(size) for size in layer.input.shape[1:4])
                pads = padding.padding if padding is not None else ((0, 0),) * 3
                axes = [_Axis(size, int(up), tuple(int(p) for p in pad), int(k)) for
                        size, up, pad, k in zip(spatial, layer.size, pads, conv.kernel_size)]
                steps.append(("fold", conv, axes))
                index = conv_index + 1
                continue
        steps.append(("layer", layer))
        index += 1
    return steps if any(kind == "fold" for kind, *_ in steps) else None


def _fold_matrix(axes: list[_Axis]) -> np.ndarray:
    """(phases · folded taps, original taps): which original taps each folded tap sums."""
    fx, fy, fz = (axis.fold() for axis in axes)
    table = np.einsum("adi,bej,cfk->abcdefijk", fx, fy, fz)
    phases = int(np.prod([axis.up for axis in axes]))
    folded = int(np.prod([axis.folded for axis in axes]))
    return table.reshape(phases * folded, -1)


def _folded_conv(x, kernel, bias, axes: list[_Axis], matrix, dtype):
    ops = keras.ops
    taps, channels_in, channels = int(np.prod(kernel.shape[:3])), kernel.shape[3], \
        kernel.shape[4]
    ups = [axis.up for axis in axes]
    folded_sizes = [axis.folded for axis in axes]
    weights = ops.matmul(ops.convert_to_tensor(matrix, "float32"),
                         ops.reshape(ops.cast(kernel, "float32"), (taps, channels_in * channels)))
    weights = ops.reshape(weights, (*ups, *folded_sizes, channels_in, channels))
    weights = ops.transpose(weights, (3, 4, 5, 6, 0, 1, 2, 7))
    weights = ops.reshape(weights, (*folded_sizes, channels_in, int(np.prod(ups)) * channels))
    x = ops.pad(x, [(0, 0), *(axis.input_padding for axis in axes), (0, 0)])
    y = ops.conv(x, ops.cast(weights, dtype), strides=1, padding="valid")
    if bias is not None:
        y = y + ops.cast(ops.tile(bias, [int(np.prod(ups))]), dtype)
    blocks = [axis.blocks for axis in axes]
    y = ops.reshape(y, (-1, *blocks, *ups, channels))
    y = ops.transpose(y, (0, 1, 4, 2, 5, 3, 6, 7))
    y = ops.reshape(y, (-1, *(b * u for b, u in zip(blocks, ups)), channels))
    (x0, _), (y0, _), (z0, _) = (axis.crop for axis in axes)
    return y[:, x0:x0 + axes[0].outputs, y0:y0 + axes[1].outputs, z0:z0 + axes[2].outputs]


def folded_call(network: keras.Model):
    """``network.stateless_call`` with every up-sampling → [padding] → valid Conv3D folded
    (see the module docstring); None when the network has nothing to fold.

    Returns ``call(values, inputs) → outputs`` taking the values of ``network.weights`` (an
    order that trainable flags do not change), so that the current weights are read at every
    call.
    """
    steps = _plan(network)
    if steps is None:
        return None
    prepared = []
    for kind, layer, *rest in steps:
        if kind == "layer":
            takes_training = "training" in inspect.signature(layer.call).parameters
            prepared.append((kind, layer, {"training": False} if takes_training else {}))
        else:
            prepared.append((kind, layer, rest[0], _fold_matrix(rest[0])))

    def call(values, inputs):
        mapping = list(zip(network.weights, values))
        value_of = {id(variable): value for variable, value in mapping}
        x = inputs
        with keras.StatelessScope(state_mapping=mapping):
            for kind, layer, *rest in prepared:
                if kind == "layer":
                    x = layer(x, **rest[0])       # __call__: the dtype policy's casts
                else:
                    axes, matrix = rest
                    bias = value_of[id(layer.bias)] if layer.use_bias else None
                    x = _folded_conv(keras.ops.cast(x, layer.compute_dtype),
                                     value_of[id(layer.kernel)], bias, axes, matrix,
                                     layer.compute_dtype)
        return x

    return call
