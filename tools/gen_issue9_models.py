"""Tiny models for the SDXL, ControlNet, instruct-pix2pix and txt2txt pipelines (issue 9).

Called from gen_tiny_models.py main(). Every model has the input/output names, dtypes and dynamic axes of the
real exports:
  diffusion-tiny-sdxl/         optimum's ONNX SDXL layout: text_encoder (CLIPTextModel) + text_encoder_2
                               (CLIPTextModelWithProjection: text_embeds, last_hidden_state, hidden_states.N),
                               tokenizer + tokenizer_2, unet (sample, timestep int64, encoder_hidden_states,
                               text_embeds, time_ids), vae_encoder, vae_decoder (scaling_factor 0.13025)
  diffusion-tiny-pix2pix/      instruct-pix2pix: an 8-channel UNet (latents + image latents)
  diffusion-tiny-demo/cnet/    the UNet variant taking down_block_0..N-1 and mid_block_additional_residual
  control/canny.onnx           a ControlNet (sample, timestep, encoder_hidden_states, controlnet_cond,
                               conditioning_scale -> down_block_res_samples..., mid_block_res_sample)
  text-tiny-gpt2/              optimum's GPT-2 decoder export (decoder_model.onnx, decoder_with_past_model.onnx)
                               with a byte-level BPE tokenizer.json built here
"""

import json
import os

import numpy as np
from onnx import TensorProto, helper

import gen_tiny_models as base
from gen_tiny_models import GB, CONFIG, resnet, transformer2d, vi, save, write_json, write_tokenizer

I64 = TensorProto.INT64
XL_CONFIG = dict(CONFIG, hidden=32, hidden_2=32, projection=32, time_embed=8)
XL_SCALING = 0.13025

XL_SCHEDULER_CONFIG = {  # stabilityai/stable-diffusion-xl-base-1.0 scheduler/scheduler_config.json
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
    "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None,
    "use_karras_sigmas": False}

XL_MODEL_INDEX = {
    "_class_name": "ORTStableDiffusionXLPipeline", "_diffusers_version": "0.19.0", "force_zeros_for_empty_prompt": True,
    "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"]}


# --------------------------------------------------------------------------------------------
# UNet variants: SDXL added conditions, ControlNet residual inputs
# --------------------------------------------------------------------------------------------
def sinusoid(g, t, dim, path):
    half = dim // 2
    freqs = np.exp(-np.log(10000.0) * np.arange(half, dtype=np.float32) / half).astype(np.float32)
    arg = g.op("Mul", [g.op("Unsqueeze", [t, g.ci([-1])]), g.c(freqs)], name=f"/{path}/Mul")
    return g.op("Concat", [g.op("Cos", [arg]), g.op("Sin", [arg])], name=f"/{path}/Concat", axis=-1)


def time_embedding(g, cfg, timestep_dtype):
    ch0 = cfg["unet_channels"][0]
    tdim = ch0 * 4
    t = "timestep" if timestep_dtype == "float32" else g.op("Cast", ["timestep"], to=TensorProto.FLOAT)
    t = g.op("Expand", [t, g.op("Shape", ["sample"], start=0, end=1)], name="/Expand")
    temb = sinusoid(g, t, ch0, "time_proj")
    temb = g.linear(temb, ch0, tdim, "time_embedding/linear_1")
    return g.linear(g.silu(temb, "time_embedding/act"), tdim, tdim, "time_embedding/linear_2"), tdim


def down_path(g, x, temb, tdim, cfg, ctx_dim):
    """conv_in, the down blocks and the mid block; returns (mid output, skips)."""
    ch, G, heads, lpb = cfg["unet_channels"], cfg["unet_groups"], cfg["unet_heads"], 2
    skips, cur = [(x, ch[0])], ch[0]
    for bi, c in enumerate(ch):
        for li in range(lpb):
            x = resnet(g, x, temb, cur, c, G, f"down_blocks.{bi}/resnets.{li}", tdim)
            cur = c
            if bi > 0:
                x = transformer2d(g, x, "encoder_hidden_states", c, ctx_dim, heads, G,
                                  f"down_blocks.{bi}/attentions.{li}")
            skips.append((x, c))
        if bi < len(ch) - 1:
            x = g.conv(x, c, c, f"down_blocks.{bi}/downsamplers.0/conv", stride=2)
            skips.append((x, c))
    x = resnet(g, x, temb, cur, cur, G, "mid_block/resnets.0", tdim)
    x = transformer2d(g, x, "encoder_hidden_states", cur, ctx_dim, heads, G, "mid_block/attentions.0")
    x = resnet(g, x, temb, cur, cur, G, "mid_block/resnets.1", tdim)
    return x, skips


def build_unet_variant(cfg, opset, seed, ctx_dim, in_channels=4, timestep_dtype="float32", xl=None, residuals=False):
    """A tiny UNet2DConditionModel. xl=(text_embeds dim, time embed dim): SDXL's added conditions (text_time);
    residuals: the ControlNet UNet variant (down_block_i added to the skips, mid_block_additional_residual)."""
    ch, G = cfg["unet_channels"], cfg["unet_groups"]
    heads, lpb = cfg["unet_heads"], 2
    g = GB(seed, "unet")
    temb, tdim = time_embedding(g, cfg, timestep_dtype)
    extra_inputs = []
    if xl:
        pooled_dim, time_dim = xl
        ids = g.op("Reshape", [sinusoid(g, "time_ids", time_dim, "add_time_proj"), g.ci([0, -1])])
        add = g.op("Concat", ["text_embeds", ids], name="/Concat_add", axis=-1)
        add = g.linear(add, pooled_dim + 6 * time_dim, tdim, "add_embedding/linear_1")
        add = g.linear(g.silu(add, "add_embedding/act"), tdim, tdim, "add_embedding/linear_2")
        temb = g.op("Add", [temb, add], name="/Add_aug")
        extra_inputs += [vi("text_embeds", ["batch", pooled_dim]), vi("time_ids", ["batch", 6])]
    x = g.conv("sample", in_channels, ch[0], "conv_in")
    x, skips = down_path(g, x, temb, tdim, cfg, ctx_dim)
    cur = ch[-1]
    if residuals:
        shapes = []
        for i, (s, c) in enumerate(skips):
            name = f"down_block_{i}"
            skips[i] = (g.op("Add", [s, name], name=f"/Add_down_{i}"), c)
            shapes.append(vi(name, ["batch", c, f"h{i}", f"w{i}"]))
        x = g.op("Add", [x, "mid_block_additional_residual"], name="/Add_mid")
        extra_inputs += shapes + [vi("mid_block_additional_residual", ["batch", cur, "hm", "wm"])]
    rch = list(reversed(ch))
    for bi, c in enumerate(rch):
        for li in range(lpb + 1):
            s, sc = skips.pop()
            x = g.op("Concat", [x, s], name=f"/up_blocks.{bi}/Concat_{li}", axis=1)
            x = resnet(g, x, temb, cur + sc, c, G, f"up_blocks.{bi}/resnets.{li}", tdim)
            cur = c
            if bi < len(rch) - 1:
                x = transformer2d(g, x, "encoder_hidden_states", c, ctx_dim, heads, G,
                                  f"up_blocks.{bi}/attentions.{li}")
        if bi < len(rch) - 1:
            x = g.op("Resize", [x, "", g.c([1, 1, 2, 2])], name=f"/up_blocks.{bi}/upsamplers.0/Resize",
                     mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            x = g.conv(x, c, c, f"up_blocks.{bi}/upsamplers.0/conv")
    x = g.silu(g.group_norm(x, cur, G, "conv_norm_out"), "conv_act")
    net = g.conv(x, cur, 4, "conv_out", gain=0.5)
    # The "noise prediction" contains the input latents (as in gen_tiny_models' identity-eps UNets), so a
    # correct sampler really denoises.
    latents = "sample" if in_channels == 4 else g.op("Slice", ["sample", g.ci([0]), g.ci([4]), g.ci([1])])
    g.nodes.append(helper.make_node("Add", [latents, g.op("Mul", [net, g.c(0.1)])], ["out_sample"], name="/Add_eps"))
    tdt = TensorProto.FLOAT if timestep_dtype == "float32" else I64
    inputs = [vi("sample", ["batch", in_channels, "height", "width"]), vi("timestep", ["steps"], tdt),
              vi("encoder_hidden_states", ["batch", "sequence", ctx_dim])] + extra_inputs
    return g.model(inputs, [vi("out_sample", ["batch", 4, "height", "width"])], opset, "tiny random UNet")


def build_controlnet(cfg, opset, seed):
    """ControlNetModel as onnx-web's converter exports it: the UNet's down and mid blocks, the conditioning image
    ([b, 3, H, W] in [0, 1]) embedded to the latent size and added after conv_in, one zero-initialised-style 1x1
    conv per residual, all scaled by conditioning_scale."""
    ch = cfg["unet_channels"]
    g = GB(seed, "controlnet")
    temb, tdim = time_embedding(g, cfg, "float32")
    x = g.conv("sample", 4, ch[0], "conv_in")
    c = g.silu(g.conv("controlnet_cond", 3, 8, "controlnet_cond_embedding/conv_in"), "cond_act0")
    for i, (cin, cout) in enumerate([(8, 8), (8, 16), (16, ch[0])]):
        c = g.silu(g.conv(c, cin, cout, f"controlnet_cond_embedding/blocks.{i}", stride=2), f"cond_act{i + 1}")
    c = g.conv(c, ch[0], ch[0], "controlnet_cond_embedding/conv_out", k=1, gain=0.5)
    x = g.op("Add", [x, c], name="/Add_cond")
    x, skips = down_path(g, x, temb, tdim, cfg, cfg["hidden"])
    outputs, outs = [], []
    for i, (s, cc) in enumerate(skips):
        r = g.conv(s, cc, cc, f"controlnet_down_blocks.{i}", k=1, gain=0.2)
        name = "down_block_res_samples" if i == 0 else f"down_block_res_samples.{i}"
        g.nodes.append(helper.make_node("Mul", [r, "conditioning_scale"], [name], name=f"/Mul_down_{i}"))
        outputs.append(vi(name, ["batch", cc, f"h{i}", f"w{i}"]))
    r = g.conv(x, ch[-1], ch[-1], "controlnet_mid_block", k=1, gain=0.2)
    g.nodes.append(helper.make_node("Mul", [r, "conditioning_scale"], ["mid_block_res_sample"], name="/Mul_mid"))
    outputs.append(vi("mid_block_res_sample", ["batch", ch[-1], "hm", "wm"]))
    inputs = [vi("sample", ["batch", 4, "height", "width"]), vi("timestep", ["steps"]),
              vi("encoder_hidden_states", ["batch", "sequence", cfg["hidden"]]),
              vi("controlnet_cond", ["batch", 3, "image_height", "image_width"]), vi("conditioning_scale", [])]
    return g.model(inputs, outputs, opset, "tiny random ControlNetModel")


# --------------------------------------------------------------------------------------------
# SDXL text encoder 2 (CLIPTextModelWithProjection, optimum output names)
# --------------------------------------------------------------------------------------------
def build_text_encoder_2(cfg, vocab_size, opset, seed):
    _, m = base.build_text_encoder(dict(cfg, hidden=cfg["hidden_2"]), vocab_size, opset, seed, hidden_states=True)
    g = m.graph
    # pooled (EOS) state through the text projection -> text_embeds, the first output
    w = (np.random.default_rng(seed + 1).standard_normal((cfg["hidden_2"], cfg["projection"])) /
         np.sqrt(cfg["hidden_2"])).astype(np.float32)
    g.initializer.append(base.numpy_helper.from_array(w, "text_projection.weight"))
    g.node.append(helper.make_node("MatMul", ["pooler_output", "text_projection.weight"], ["text_embeds"],
                                   name="/text_projection/MatMul"))
    outputs = [o for o in g.output if o.name != "pooler_output"]
    del g.output[:]
    g.output.extend([vi("text_embeds", ["batch", cfg["projection"]])] + outputs)
    # pooler_output stays an internal value
    base.onnx.checker.check_model(m)
    return m


def write_sdxl(d, bpe_text, opset, seed):
    cfg = XL_CONFIG
    vocab_size = write_tokenizer(f"{d}/tokenizer", bpe_text)
    write_tokenizer(f"{d}/tokenizer_2", bpe_text)
    # open_clip's tokenizer (SDXL's tokenizer_2) pads with "!" (id 0)
    special = json.load(open(f"{d}/tokenizer_2/special_tokens_map.json"))
    special["pad_token"] = "!"
    write_json(f"{d}/tokenizer_2/special_tokens_map.json", special)
    conf = json.load(open(f"{d}/tokenizer_2/tokenizer_config.json"))
    conf["pad_token"] = "!"
    write_json(f"{d}/tokenizer_2/tokenizer_config.json", conf)
    _, te = base.build_text_encoder(cfg, vocab_size, opset, seed + 1, hidden_states=True)
    save(te, f"{d}/text_encoder/model.onnx")
    save(build_text_encoder_2(cfg, vocab_size, opset, seed + 2), f"{d}/text_encoder_2/model.onnx")
    ctx = cfg["hidden"] + cfg["hidden_2"]
    un = build_unet_variant(cfg, opset, seed + 3, ctx, timestep_dtype="int64", xl=(cfg["projection"], cfg["time_embed"]))
    save(un, f"{d}/unet/model.onnx")
    _, ve = base.build_vae_encoder(cfg, opset, seed + 4, "mean")
    save(ve, f"{d}/vae_encoder/model.onnx")
    _, vd = base.build_vae_decoder(cfg, opset, seed + 5)
    save(vd, f"{d}/vae_decoder/model.onnx")
    vae_config = {"_class_name": "AutoencoderKL", "scaling_factor": XL_SCALING, "sample_size": 1024,
                  "latent_channels": 4}
    write_json(f"{d}/vae_encoder/config.json", vae_config)
    write_json(f"{d}/vae_decoder/config.json", vae_config)
    write_json(f"{d}/unet/config.json", {"_class_name": "UNet2DConditionModel", "sample_size": 128,
                                         "addition_embed_type": "text_time",
                                         "addition_time_embed_dim": cfg["time_embed"],
                                         "projection_class_embeddings_input_dim": cfg["projection"] + 6 * cfg["time_embed"]})
    os.makedirs(f"{d}/scheduler", exist_ok=True)
    write_json(f"{d}/scheduler/scheduler_config.json", XL_SCHEDULER_CONFIG)
    write_json(f"{d}/model_index.json", XL_MODEL_INDEX)


def write_pix2pix(d, bpe_text, opset, seed):
    base.write_pipeline(d, bpe_text, opset, seed, timestep_dtype="float32", hidden_states=False, external=False)
    save(build_unet_variant(CONFIG, opset, seed + 50, CONFIG["hidden"], in_channels=8), f"{d}/unet/model.onnx")
    index = dict(base.MODEL_INDEX, _class_name="OnnxStableDiffusionInstructPix2PixPipeline")
    scheduler = {"_class_name": "EulerAncestralDiscreteScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012,
                 "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
                 "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
                 "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None}
    write_json(f"{d}/scheduler/scheduler_config.json", scheduler)
    write_json(f"{d}/model_index.json", index)


def write_controlnet(out, opset, seed):
    save(build_unet_variant(CONFIG, opset, seed, CONFIG["hidden"], residuals=True),
         f"{out}/diffusion-tiny-demo/cnet/model.onnx")
    save(build_controlnet(CONFIG, opset, seed + 1), f"{out}/control/canny.onnx")


# --------------------------------------------------------------------------------------------
# GPT-2 (optimum's decoder_model.onnx / decoder_with_past_model.onnx) and its byte-level BPE tokenizer
# --------------------------------------------------------------------------------------------
GPT2_CORPUS = (
    "the quick brown fox jumps over the lazy dog. a painting of a cat sitting on a chair in the garden. "
    "the sun sets over the mountains and the river flows into the sea. an image of a house with a red door. "
    "there is a tree in the park and the children play on the grass. the city lights shine at night. "
)


def train_bpe(text, merges_wanted):
    """A byte-level BPE vocabulary (GPT-2 style: bytes mapped to printable characters, spaces as 'Ġ') learned
    from a small corpus: 256 byte tokens, then the most frequent pairs, in order."""
    b2u = base.bytes_to_unicode()
    words = {}
    for i, w in enumerate(text.split(" ")):
        if not w:
            continue
        piece = ("" if i == 0 else " ") + w
        key = tuple(b2u[b] for b in piece.encode("utf-8"))
        words[key] = words.get(key, 0) + 1
    vocab = list(b2u.values())
    merges = []
    for _ in range(merges_wanted):
        pairs = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        vocab.append(best[0] + best[1])
        new = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + n
        words = new
    vocab.append("<|endoftext|>")
    return vocab, merges


def write_gpt2_tokenizer(d, vocab, merges):
    eos = len(vocab) - 1
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eos, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(vocab)}, "merges": [f"{a} {b}" for a, b in merges]},
    }
    write_json(f"{d}/tokenizer.json", tokenizer)
    write_json(f"{d}/tokenizer_config.json", {"tokenizer_class": "GPT2Tokenizer", "bos_token": "<|endoftext|>",
                                              "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                                              "model_max_length": 64, "add_prefix_space": False})
    write_json(f"{d}/special_tokens_map.json", {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                                                "unk_token": "<|endoftext|>"})
    return eos


def build_gpt2(cfg, vocab_size, opset, seed, with_past):
    D, L, H, P = cfg["n_embd"], cfg["n_layer"], cfg["n_head"], cfg["n_positions"]
    dh = D // H
    g = GB(seed, "gpt2")
    wte = g.rand("transformer.wte.weight", (vocab_size, D), 0.5)
    wpe = g.rand("transformer.wpe.weight", (P, D), 0.1)
    seq = g.op("Shape", ["input_ids"], start=1, end=2)
    total = g.op("Shape", ["attention_mask"], start=1, end=2)
    past = g.op("Sub", [total, seq])
    pos = g.op("Range", [g.op("Squeeze", [past, g.ci([0])]), g.op("Squeeze", [total, g.ci([0])]), g.ci(1)])
    x = g.op("Add", [g.op("Gather", [wte, "input_ids"], axis=0), g.op("Gather", [wpe, pos], axis=0)])
    # causal + padding mask [b, 1, seq, total]: key j visible to query i when j <= past + i and mask[j] == 1
    keys = g.op("Range", [g.ci(0), g.op("Squeeze", [total, g.ci([0])]), g.ci(1)])
    causal = g.op("LessOrEqual", [g.op("Unsqueeze", [keys, g.ci([0])]), g.op("Unsqueeze", [pos, g.ci([1])])])
    pad = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.ci([1, 2])])], to=TensorProto.BOOL)
    visible = g.op("And", [g.op("Unsqueeze", [causal, g.ci([0, 1])]), pad])
    bias = g.op("Where", [visible, g.c(0.0), g.c(-1e9)])
    outputs = []
    for i in range(L):
        p = f"transformer/h.{i}"
        h = g.layer_norm(x, D, f"{p}/ln_1")
        qkv = g.linear(h, D, 3 * D, f"{p}/attn/c_attn")
        q, k, v = g.op("Split", [qkv, g.ci([D, D, D])], nout=3, axis=-1)
        heads = lambda t: g.op("Transpose", [g.op("Reshape", [t, g.ci([0, 0, H, dh])])], perm=[0, 2, 1, 3])
        q, k, v = heads(q), heads(k), heads(v)
        if with_past:
            k = g.op("Concat", [f"past_key_values.{i}.key", k], axis=2)
            v = g.op("Concat", [f"past_key_values.{i}.value", v], axis=2)
        g.nodes.append(helper.make_node("Identity", [k], [f"present.{i}.key"]))
        g.nodes.append(helper.make_node("Identity", [v], [f"present.{i}.value"]))
        s = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]), g.c(1.0 / np.sqrt(dh))])
        a = g.op("MatMul", [g.op("Softmax", [g.op("Add", [s, bias])], axis=-1), v])
        a = g.op("Reshape", [g.op("Transpose", [a], perm=[0, 2, 1, 3]), g.ci([0, 0, D])])
        x = g.op("Add", [x, g.linear(a, D, D, f"{p}/attn/c_proj")])
        h = g.linear(g.layer_norm(x, D, f"{p}/ln_2"), D, 4 * D, f"{p}/mlp/c_fc")
        h = g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, g.c(1.702)])])])
        x = g.op("Add", [x, g.linear(h, 4 * D, D, f"{p}/mlp/c_proj")])
        for kind in ("key", "value"):
            outputs.append(vi(f"present.{i}.{kind}", ["batch_size", H, "past_sequence_length + sequence_length", dh]))
    x = g.layer_norm(x, D, "transformer/ln_f")
    # tied embeddings: logits = x @ wte^T, scaled up so greedy decoding has clear winners
    g.nodes.append(helper.make_node("MatMul", [g.op("Mul", [x, g.c(4.0)]), g.op("Transpose", [wte], perm=[1, 0])],
                                    ["logits"], name="/lm_head/MatMul"))
    inputs = [vi("input_ids", ["batch_size", "sequence_length"], I64)]
    if with_past:
        inputs.append(vi("attention_mask", ["batch_size", "past_sequence_length + 1"], I64))
        for i in range(L):
            for kind in ("key", "value"):
                inputs.append(vi(f"past_key_values.{i}.{kind}", ["batch_size", H, "past_sequence_length", dh]))
    else:
        inputs.append(vi("attention_mask", ["batch_size", "sequence_length"], I64))
    return g.model(inputs, [vi("logits", ["batch_size", "sequence_length", vocab_size])] + outputs, opset,
                   "tiny random GPT2LMHeadModel")


def write_gpt2(d, opset, seed):
    os.makedirs(d, exist_ok=True)
    vocab, merges = train_bpe(GPT2_CORPUS, 120)
    eos = write_gpt2_tokenizer(d, vocab, merges)
    cfg = dict(n_embd=32, n_layer=2, n_head=2, n_positions=128)
    save(build_gpt2(cfg, len(vocab), opset, seed, False), f"{d}/decoder_model.onnx")
    save(build_gpt2(cfg, len(vocab), opset, seed, True), f"{d}/decoder_with_past_model.onnx")
    write_json(f"{d}/config.json", dict(cfg, model_type="gpt2", architectures=["GPT2LMHeadModel"],
                                        vocab_size=len(vocab), bos_token_id=eos, eos_token_id=eos, n_ctx=128,
                                        use_cache=True))
    write_json(f"{d}/generation_config.json", {"bos_token_id": eos, "eos_token_id": eos})


def write_issue9_models(out, bpe_text, opset, seed):
    write_sdxl(f"{out}/diffusion-tiny-sdxl", bpe_text, opset, seed + 900)
    write_pix2pix(f"{out}/diffusion-tiny-pix2pix", bpe_text, opset, seed + 920)
    write_controlnet(out, opset, seed + 940)
    write_gpt2(f"{out}/text-tiny-gpt2", opset, seed + 960)
