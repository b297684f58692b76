#!/usr/bin/env python3
"""Converts a diffusers-layout ONNX model folder to float16, as `--half` exports are.

    python3 tools/convert_fp16.py models/diffusion-tiny-demo models/diffusion-tiny-fp16

Every `*/model.onnx` in SRC is rewritten into DST with float16 weights, float16 float inputs and
outputs and float16 computation: float initializers, `Constant`/`ConstantOfShape` values and
`Cast(to=float)` become float16. The only inputs that must stay float32 are `Resize`'s `roi` and
`scales`, which get a `Cast` back to float32. ONNX Runtime runs operators without a float16
kernel on its CPU provider through casts it inserts itself. Other files are copied unchanged.
Needs numpy and onnx only.
"""

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
FLOAT16 = TensorProto.FLOAT16
# Operator inputs that only accept float32 (index by op type).
FLOAT32_ONLY_INPUTS = {"Resize": (1, 2)}


def to_f16_tensor(tensor: onnx.TensorProto) -> onnx.TensorProto:
    # Out-of-range constants (e.g. attention masks of -3.4e38) saturate at float16's limits.
    limit = float(np.finfo(np.float16).max)
    array = np.clip(numpy_helper.to_array(tensor), -limit, limit).astype(np.float16)
    converted = numpy_helper.from_array(array, tensor.name)
    return converted


def convert_graph(graph: onnx.GraphProto) -> None:
    for index, initializer in enumerate(graph.initializer):
        if initializer.data_type == FLOAT:
            graph.initializer[index].CopyFrom(to_f16_tensor(initializer))
    for value in list(graph.input) + list(graph.output):
        if value.type.tensor_type.elem_type == FLOAT:
            value.type.tensor_type.elem_type = FLOAT16
    # Shapes and types are inferred again by ONNX Runtime.
    del graph.value_info[:]
    new_nodes = []
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_type == FLOAT:
                attribute.t.CopyFrom(to_f16_tensor(attribute.t))
            elif attribute.type == onnx.AttributeProto.GRAPH:
                convert_graph(attribute.g)
            elif node.op_type == "Cast" and attribute.name == "to" and attribute.i == FLOAT:
                attribute.i = FLOAT16
        for position in FLOAT32_ONLY_INPUTS.get(node.op_type, ()):
            if position < len(node.input) and node.input[position]:
                source = node.input[position]
                cast_name = f"{node.name or node.op_type}_{position}_to_float32"
                new_nodes.append(
                    helper.make_node("Cast", [source], [cast_name], name=cast_name, to=FLOAT)
                )
                node.input[position] = cast_name
        new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)


def convert_file(source: Path, target: Path) -> None:
    model = onnx.load(str(source), load_external_data=True)
    external = any(
        initializer.data_location == TensorProto.EXTERNAL
        for initializer in onnx.load(str(source), load_external_data=False).graph.initializer
    )
    convert_graph(model.graph)
    target.parent.mkdir(parents=True, exist_ok=True)
    if external:
        location = "weights.pb"
        (target.parent / location).unlink(missing_ok=True)
        onnx.save_model(
            model,
            str(target),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=location,
            size_threshold=1024,
        )
    else:
        onnx.save_model(model, str(target))
    onnx.checker.check_model(str(target))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="diffusers ONNX folder (float32)")
    parser.add_argument("target", type=Path, help="folder to write (float16)")
    args = parser.parse_args()
    if not (args.source / "unet" / "model.onnx").is_file():
        print(f"{args.source}: no unet/model.onnx", file=sys.stderr)
        return 1
    partial = args.target.with_name(args.target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for path in sorted(args.source.rglob("*")):
        relative = path.relative_to(args.source)
        if path.is_dir():
            continue
        if path.name == "model.onnx":
            convert_file(path, partial / relative)
        elif path.suffix not in (".pb", ".onnx_data") and path.name != "weights.pb":
            (partial / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, partial / relative)
    shutil.rmtree(args.target, ignore_errors=True)
    partial.rename(args.target)
    print(f"wrote {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
