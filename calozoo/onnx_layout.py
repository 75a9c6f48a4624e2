"""A layout pass over exported ONNX graphs: wide 3D convolutions as sums of 2D ones.

ONNX Runtime's CPU provider runs a 3D convolution as im2col + GEMM, one shower at a time. For a
convolution with many input channels (the first folded layer of conv3d: 64 channels, kernel
4×3×5) the im2col buffer is large and the GEMM narrow, and it runs at about half of
TensorFlow's speed. A 2D convolution goes to ONNX Runtime's blocked (NCHWc) kernels instead. So
a 3D convolution over (x, y, z) with kernel extent ``k`` along x is rewritten as ``k`` 2D
convolutions over (y, z), x moved into the batch, each reading the input shifted by one x
step, and summed::

    out[n, :, i] = sum_j conv2d(in[n, :, i + j], weight[:, :, j])

The same arithmetic in another order (float32 rounding apart). On the 2-core CPU the conv3d
layer takes 68 ms instead of 102 ms per batch of 128; narrow convolutions (6 input channels)
run faster as they are, so only those with ``channels × kernel volume ≥ MIN_DEPTH`` are
rewritten (``benchmarks/cpu.py`` measures the whole graph).
"""

from __future__ import annotations

import numpy as np

MIN_DEPTH = 1024
"""Smallest input channels × kernel volume of a 3D convolution worth rewriting."""


def split_wide_conv3d(model) -> int:
    """Rewrite, in place, each wide 3D ``Conv`` of an ONNX model as a sum of 2D ones.

    Only convolutions with unit strides and dilations, one group, no padding along x, a
    constant weight and known input channels and spatial sizes are rewritten; the others stay.
    Transposes next to a rewritten convolution are composed with its own.

    Returns
    -------
    int
        The number of convolutions rewritten.
    """
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    inferred = shape_inference.infer_shapes(model).graph
    shapes = {value.name: [dim.dim_value or None for dim in value.type.tensor_type.shape.dim]
              for value in [*inferred.value_info, *inferred.input, *inferred.output]}
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    rewritten = 0
    nodes = []
    for node in graph.node:
        replacement = _as_2d(node, shapes, initializers, helper, numpy_helper, rewritten)
        if replacement is None:
            nodes.append(node)
            continue
        new_nodes, new_initializers = replacement
        nodes.extend(new_nodes)
        graph.initializer.extend(new_initializers)
        rewritten += 1
    if rewritten:
        nodes = _compose_transposes(nodes, {o.name for o in graph.output}, helper)
        del graph.node[:]
        graph.node.extend(nodes)
        used = {name for node in graph.node for name in node.input}
        unused = [tensor for tensor in graph.initializer if tensor.name not in used]
        for tensor in unused:
            graph.initializer.remove(tensor)
    return rewritten


def _compose_transposes(nodes, graph_outputs, helper):
    """Let a Transpose read the input of a Transpose that feeds it, with the composed
    permutation; drop Transposes left without a reader. Shape of a Transpose's output is taken
    from its input (a Gather of the permuted dimensions)."""
    producers = {output: node for node in nodes for output in node.output}

    def perm(node):
        return list(helper.get_attribute_value(node.attribute[0]))

    result = []
    for node in nodes:
        source = producers.get(node.input[0]) if node.input else None
        if source is not None and source.op_type == "Transpose":
            if node.op_type == "Transpose":
                inner, outer = perm(source), perm(node)
                node = helper.make_node("Transpose", [source.input[0]], list(node.output),
                                        name=node.name, perm=[inner[i] for i in outer])
            elif node.op_type == "Shape" and len(node.attribute) == 0:
                name = node.output[0]
                order = f"{name}/order"
                result += [
                    helper.make_node("Shape", [source.input[0]], [f"{name}/unpermuted"],
                                     name=f"{name}/unpermuted"),
                    helper.make_node("Constant", [], [order], name=order,
                                     value=helper.make_tensor(order, 7, [len(perm(source))],
                                                              perm(source))),
                ]
                node = helper.make_node("Gather", [f"{name}/unpermuted", order], [name],
                                        name=name, axis=0)
        result.append(node)
    while True:
        read = {name for node in result for name in node.input} | set(graph_outputs)
        kept = [node for node in result
                if node.op_type != "Transpose" or node.output[0] in read]
        if len(kept) == len(result):
            return kept
        result = kept


def _as_2d(node, shapes, initializers, helper, numpy_helper, index):
    if node.op_type != "Conv" or node.input[1] not in initializers:
        return None
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    weight = numpy_helper.to_array(initializers[node.input[1]])
    input_shape = shapes.get(node.input[0])
    if weight.ndim != 5 or input_shape is None or len(input_shape) != 5:
        return None
    channels, depth = input_shape[1], input_shape[2]
    pads = list(attributes.get("pads", [0] * 6))
    if (attributes.get("group", 1) != 1 or any(s != 1 for s in attributes.get("strides", [1]))
            or any(d != 1 for d in attributes.get("dilations", [1]))
            or attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
            or pads[0] or pads[3] or channels is None or depth is None
            or None in input_shape[3:]):
        return None
    if channels * int(np.prod(weight.shape[2:])) < MIN_DEPTH:
        return None
    outputs, _, kernel_depth = weight.shape[:3]
    out_depth = depth - kernel_depth + 1
    height, width = input_shape[3:]
    out_height = height + pads[1] + pads[4] - weight.shape[3] + 1
    out_width = width + pads[2] + pads[5] - weight.shape[4] + 1
    prefix = f"{node.name or node.output[0]}/as_2d_{index}"

    def constant(name, values, dtype=np.int64):
        return numpy_helper.from_array(np.asarray(values, dtype), f"{prefix}/{name}")

    tensors = [constant("axis", [1]),
               constant("slice_shape", [-1, channels, height, width]),
               constant("volume_shape", [-1, out_depth, outputs, out_height, out_width])]
    depth_major = f"{prefix}/depth_major"
    nodes = [helper.make_node("Transpose", [node.input[0]], [depth_major], perm=[0, 2, 1, 3, 4],
                              name=depth_major)]
    partial_sums = []
    for shift in range(kernel_depth):
        name = f"{prefix}/shift_{shift}"
        tensors += [constant(f"start_{shift}", [shift]),
                    constant(f"end_{shift}", [shift + out_depth]),
                    numpy_helper.from_array(np.ascontiguousarray(weight[:, :, shift]),
                                            f"{name}/weight")]
        conv_inputs = [f"{name}/slices", f"{name}/weight"]
        if shift == 0 and len(node.input) > 2 and node.input[2]:
            conv_inputs.append(node.input[2])
        nodes += [
            helper.make_node("Slice", [depth_major, f"{prefix}/start_{shift}",
                                       f"{prefix}/end_{shift}", f"{prefix}/axis"],
                             [f"{name}/slab"], name=f"{name}/slab"),
            helper.make_node("Reshape", [f"{name}/slab", f"{prefix}/slice_shape"],
                             [f"{name}/slices"], name=f"{name}/slices"),
            helper.make_node("Conv", conv_inputs, [f"{name}/conv"], name=f"{name}/conv",
                             kernel_shape=list(weight.shape[3:]),
                             pads=[pads[1], pads[2], pads[4], pads[5]]),
        ]
        partial_sums.append(f"{name}/conv")
    nodes += [
        helper.make_node("Sum", partial_sums, [f"{prefix}/sum"], name=f"{prefix}/sum"),
        helper.make_node("Reshape", [f"{prefix}/sum", f"{prefix}/volume_shape"],
                         [f"{prefix}/volumes"], name=f"{prefix}/volumes"),
        helper.make_node("Transpose", [f"{prefix}/volumes"], [node.output[0]],
                         perm=[0, 2, 1, 3, 4], name=f"{prefix}/channels_first"),
    ]
    return nodes, tensors
