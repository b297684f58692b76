#!/usr/bin/env python3
"""Runs txt2img the way onnx-web 0.12 does and writes the final latents as test fixtures.

A development tool of this project (numpy + onnxruntime, no torch, no diffusers): it follows
onnx-web's txt2img stage (`chain/source_txt2img.py`, `diffusers/utils.py`) and the diffusers
`OnnxStableDiffusionPipeline` loop it calls, with the schedulers' formulas written out in numpy:

- prompt: CLIP BPE with the model's `tokenizer/vocab.json` + `merges.txt`, padded to 77 tokens;
  the text encoder's `last_hidden_state` (int32 `input_ids`), the negative prompt (or "") encoded
  on its own; the batch is `[negative] * batch + [prompt] * batch` (classifier-free guidance
  when `cfg > 1`);
- latents: `numpy.random.default_rng(seed).standard_normal((batch, 4, h/8, w/8)).astype(float32)`
  times `numpy.float64(init_noise_sigma)` (diffusers keeps the latents in float64 from there);
- per step: `scale_model_input`, the UNet (float32 inputs, timestep `[t]`), guidance
  `uncond + cfg * (text - uncond)`, `scheduler.step`;
- schedulers (diffusers' `DDIMScheduler`, `EulerDiscreteScheduler`,
  `EulerAncestralDiscreteScheduler`, `PNDMScheduler` with `skip_prk_steps`), constants in
  float32 as torch holds them. Stochastic steps draw `RandomState(seed).randn(shape)` in float32,
  the project's documented stand-in for the torch global generator onnx-web really uses.

The final latents (before `1 / 0.18215` and the VAE) go to
`crates/pipelines/tests/fixtures/reference/<case>.txt`; `crates/pipelines/tests/reference.rs`
runs our pipeline on the same model and compares.

    python3 -m venv /tmp/ref-venv && /tmp/ref-venv/bin/pip install numpy onnxruntime==1.31.1
    /tmp/ref-venv/bin/python tools/reference_pipeline.py            # writes the fixtures
    /tmp/ref-venv/bin/python tools/reference_pipeline.py --check    # compares with them
"""

import argparse
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models/diffusion-tiny-demo"
OUT_DIR = ROOT / "crates/pipelines/tests/fixtures/reference"

CASES = [
    dict(name="ddim", scheduler="ddim", prompt="a red cube", negative=None, seed=42, steps=4, cfg=7.5, width=64, height=64, batch=1, eta=0.0),
    dict(name="ddim-batch2-64x48", scheduler="ddim", prompt="two blue spheres on a table", negative="blurry", seed=3, steps=3, cfg=5.0, width=64, height=48, batch=2, eta=0.0),
    dict(name="euler", scheduler="euler", prompt="a green tree, oil painting", negative="ugly, text", seed=7, steps=4, cfg=6.0, width=64, height=64, batch=1, eta=0.0),
    dict(name="euler-no-guidance", scheduler="euler", prompt="a cat", negative=None, seed=0, steps=3, cfg=1.0, width=48, height=64, batch=1, eta=0.0),
    dict(name="pndm", scheduler="pndm", prompt="a red cube", negative=None, seed=4294967295, steps=4, cfg=7.5, width=64, height=64, batch=1, eta=0.0),
    dict(name="euler-a", scheduler="euler-a", prompt="a lighthouse at night", negative=None, seed=11, steps=4, cfg=7.5, width=64, height=64, batch=1, eta=0.0),
    dict(name="ddim-eta", scheduler="ddim", prompt="a lighthouse at night", negative=None, seed=12, steps=3, cfg=7.5, width=64, height=64, batch=1, eta=0.7),
]

# ------------------------------------------------------------------------------------------------
# CLIP tokenizer (the BPE of openai/CLIP as transformers' CLIPTokenizer applies it; enough for
# the plain ASCII prompts used here).


def bytes_to_unicode() -> dict:
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


# `[\p{L}]+ | [\p{N}] | [^\s\p{L}\p{N}]+` with the standard `re`: letters, one digit, the rest.
CLIP_SPLIT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+", re.IGNORECASE)


class ClipTokenizer:
    def __init__(self, folder: Path):
        self.encoder = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        merges = (folder / "merges.txt").read_text(encoding="utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
        self.ranks = {tuple(line.split()): rank for rank, line in enumerate(merges) if line}
        self.byte_encoder = bytes_to_unicode()
        config = json.loads((folder / "special_tokens_map.json").read_text())
        token = lambda v: v["content"] if isinstance(v, dict) else v
        self.bos = self.encoder[token(config["bos_token"])]
        self.eos = self.encoder[token(config["eos_token"])]
        self.pad = self.encoder[token(config.get("pad_token", config["eos_token"]))]
        self.max_length = 77

    @lru_cache(maxsize=None)
    def bpe(self, token: str) -> tuple:
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda pair: self.ranks.get(pair, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        return word

    def __call__(self, text: str, truncate: bool) -> np.ndarray:
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids = []
        for piece in CLIP_SPLIT.findall(text):
            piece = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[part] for part in self.bpe(piece))
        if truncate:
            ids = ids[: self.max_length - 2]
        ids = [self.bos] + ids + [self.eos]
        ids += [self.pad] * max(0, self.max_length - len(ids))
        return np.array([ids], dtype=np.int64)


# ------------------------------------------------------------------------------------------------
# Schedulers: diffusers' formulas, constants in float32 as torch holds them, the sample in float64
# as it is in diffusers' ONNX pipelines (after `latents * np.float64(init_noise_sigma)`).

F32 = np.float32


class Common:
    def __init__(self, config: dict):
        assert config.get("beta_schedule") == "scaled_linear", config.get("beta_schedule")
        assert config.get("prediction_type", "epsilon") == "epsilon"
        assert config.get("timestep_spacing", "leading") == "leading"
        self.train = int(config["num_train_timesteps"])
        start, end = config["beta_start"] ** 0.5, config["beta_end"] ** 0.5
        betas = np.linspace(start, end, self.train, dtype=np.float64).astype(F32) ** 2
        self.alphas_cumprod = np.cumprod(F32(1.0) - betas, dtype=F32)
        self.offset = int(config.get("steps_offset", 0))
        self.final_alpha_cumprod = F32(1.0) if config.get("set_alpha_to_one", True) else self.alphas_cumprod[0]

    def leading(self, steps: int) -> np.ndarray:
        ratio = self.train // steps
        return (np.arange(0, steps) * ratio).round()[::-1].astype(np.int64) + self.offset


class Ddim(Common):
    def __init__(self, config, eta, rng):
        super().__init__(config)
        self.eta, self.rng = eta, rng

    def set_timesteps(self, steps):
        self.steps = steps
        self.timesteps = self.leading(steps)
        self.init_noise_sigma = F32(1.0)

    def scale(self, sample, index):
        return sample

    def step(self, eps, index, sample):
        t = int(self.timesteps[index])
        prev = t - self.train // self.steps
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev] if prev >= 0 else self.final_alpha_cumprod
        b_t = F32(1) - a_t
        x0 = (sample - b_t ** F32(0.5) * eps) / a_t ** F32(0.5)
        variance = ((F32(1) - a_prev) / b_t) * (F32(1) - a_t / a_prev)
        std = F32(self.eta) * variance ** F32(0.5)
        out = a_prev ** F32(0.5) * x0 + (F32(1) - a_prev - std**2) ** F32(0.5) * eps
        if self.eta > 0:
            out = out + std * self.rng.randn(*sample.shape).astype(F32)
        return out


class EulerBase(Common):
    def set_timesteps(self, steps):
        self.timesteps = self.leading(steps).astype(F32)
        train_sigmas = ((F32(1) - self.alphas_cumprod) / self.alphas_cumprod) ** F32(0.5)
        sigmas = np.interp(self.timesteps, np.arange(0, len(train_sigmas)), train_sigmas)
        self.sigmas = np.concatenate([sigmas, [0.0]]).astype(F32)
        self.init_noise_sigma = (self.sigmas.max() ** 2 + F32(1)) ** F32(0.5)

    def scale(self, sample, index):
        return sample / (self.sigmas[index] ** 2 + F32(1)) ** F32(0.5)


class Euler(EulerBase):
    def __init__(self, config, rng):
        super().__init__(config)
        self.rng = rng

    def step(self, eps, index, sample):
        sigma = self.sigmas[index]
        # diffusers draws (and, with s_churn = 0, ignores) a noise tensor here.
        x0 = sample - sigma * eps
        derivative = (sample - x0) / sigma
        return sample + derivative * (self.sigmas[index + 1] - sigma)


class EulerAncestral(EulerBase):
    def __init__(self, config, rng):
        super().__init__(config)
        self.rng = rng

    def step(self, eps, index, sample):
        s_from, s_to = self.sigmas[index], self.sigmas[index + 1]
        up = (s_to**2 * (s_from**2 - s_to**2) / s_from**2) ** F32(0.5)
        down = (s_to**2 - up**2) ** F32(0.5)
        x0 = sample - s_from * eps
        out = sample + (sample - x0) / s_from * (down - s_from)
        return out + self.rng.randn(*sample.shape).astype(F32) * up


class Pndm(Common):
    """PLMS only (`skip_prk_steps`), as every SD model config sets it."""

    def __init__(self, config):
        super().__init__(config)
        assert config.get("skip_prk_steps", False)

    def set_timesteps(self, steps):
        self.steps = steps
        base = self.leading(steps)[::-1]
        self.timesteps = np.concatenate([base[:-1], base[-2:-1], base[-1:]])[::-1].copy()
        self.init_noise_sigma = F32(1.0)
        self.ets, self.counter, self.cur_sample = [], 0, None

    def scale(self, sample, index):
        return sample

    def step(self, eps, index, sample):
        t = int(self.timesteps[index])
        ratio = self.train // self.steps
        prev = t - ratio
        if self.counter != 1:
            self.ets = self.ets[-3:]
            self.ets.append(eps)
        else:
            prev, t = t, t + ratio
        ets = self.ets
        if len(ets) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(ets) == 1 and self.counter == 1:
            eps = (eps + ets[-1]) / 2
            sample, self.cur_sample = self.cur_sample, None
        elif len(ets) == 2:
            eps = (3 * ets[-1] - ets[-2]) / 2
        elif len(ets) == 3:
            eps = (23 * ets[-1] - 16 * ets[-2] + 5 * ets[-3]) / 12
        else:
            eps = (1 / 24) * (55 * ets[-1] - 59 * ets[-2] + 37 * ets[-3] - 9 * ets[-4])
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev] if prev >= 0 else self.final_alpha_cumprod
        b_t, b_prev = F32(1) - a_t, F32(1) - a_prev
        sample_coeff = (a_prev / a_t) ** F32(0.5)
        denom = a_t * b_prev ** F32(0.5) + (a_t * b_t * a_prev) ** F32(0.5)
        self.counter += 1
        return sample_coeff * sample - (a_prev - a_t) * eps / denom


def make_scheduler(name: str, config: dict, seed: int, eta: float):
    # onnx-web's pipeline generator; the stochastic steps draw from it (see the module docstring).
    rng = np.random.RandomState(seed)
    if name == "ddim":
        return Ddim(config, eta, rng)
    if name == "euler":
        return Euler(config, rng)
    if name == "euler-a":
        return EulerAncestral(config, rng)
    if name == "pndm":
        return Pndm(config)
    raise ValueError(f"no reference scheduler {name}")


# ------------------------------------------------------------------------------------------------
# The pipeline


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Pipeline:
    def __init__(self, model: Path):
        self.tokenizer = ClipTokenizer(model / "tokenizer")
        self.text_encoder = session(model / "text_encoder/model.onnx")
        self.unet = session(model / "unet/model.onnx")
        self.config = json.loads((model / "scheduler/scheduler_config.json").read_text())
        inputs = {i.name: i.type for i in self.text_encoder.get_inputs()}
        self.ids_dtype = np.int32 if inputs["input_ids"] == "tensor(int32)" else np.int64
        unet_inputs = {i.name: i.type for i in self.unet.get_inputs()}
        self.timestep_dtype = np.int64 if unet_inputs["timestep"] == "tensor(int64)" else np.float32

    def encode(self, text: str, truncate: bool) -> np.ndarray:
        ids = self.tokenizer(text, truncate).astype(self.ids_dtype)
        return self.text_encoder.run(None, {"input_ids": ids})[0]

    def embeddings(self, prompt: str, negative, batch: int, guidance: bool) -> np.ndarray:
        # onnx-web's `expand_prompt`: the prompt (77 tokens for a short prompt), then the
        # negative prompt on its own, each repeated for the batch, negative first.
        embeds = np.repeat(self.encode(prompt, truncate=False), batch, axis=0)
        if guidance:
            negative_embeds = np.repeat(self.encode(negative or "", truncate=True), batch, axis=0)
            embeds = np.concatenate([negative_embeds, embeds])
        return embeds

    def txt2img_latents(self, case: dict) -> np.ndarray:
        batch, cfg = case["batch"], case["cfg"]
        guidance = cfg > 1.0
        embeds = self.embeddings(case["prompt"], case["negative"], batch, guidance)
        scheduler = make_scheduler(case["scheduler"], self.config, case["seed"], case["eta"])
        scheduler.set_timesteps(case["steps"])

        shape = (batch, 4, case["height"] // 8, case["width"] // 8)
        latents = np.random.default_rng(case["seed"]).standard_normal(shape).astype(np.float32)
        latents = latents * np.float64(scheduler.init_noise_sigma)

        for index, t in enumerate(scheduler.timesteps):
            model_input = np.concatenate([latents] * 2) if guidance else latents
            model_input = scheduler.scale(model_input, index).astype(np.float32)
            timestep = np.array([t], dtype=self.timestep_dtype)
            out = self.unet.run(None, {"sample": model_input, "timestep": timestep, "encoder_hidden_states": embeds})[0]
            if guidance:
                uncond, text = np.split(out, 2)
                out = uncond + np.float32(cfg) * (text - uncond)
            latents = scheduler.step(out, index, latents)
        return latents


KEYS = ["scheduler", "prompt", "negative", "seed", "steps", "cfg", "width", "height", "batch", "eta"]


def write_fixture(path: Path, case: dict, latents: np.ndarray) -> None:
    """A small text format (no JSON parser needed on the Rust side): `key: value` lines, then
    the float32 latents in shortest round-trip form, 8 a line."""
    lines = [
        "# Final txt2img latents (before 1/0.18215 and the VAE) of onnx-web 0.12's pipeline on",
        "# models/diffusion-tiny-demo, written by tools/reference_pipeline.py",
        f"# numpy {np.__version__}, onnxruntime {ort.__version__}",
    ]
    for key in KEYS:
        value = case[key]
        lines.append(f"{key}: {'' if value is None else value}")
    lines.append("shape: " + " ".join(str(n) for n in latents.shape))
    lines.append("latents:")
    values = [str(np.float32(v)) for v in latents.astype(np.float32).reshape(-1)]
    lines.extend(" ".join(values[i : i + 8]) for i in range(0, len(values), 8))
    path.write_text("\n".join(lines) + "\n")


def read_latents(path: Path) -> np.ndarray:
    text = path.read_text().split("latents:\n", 1)[1]
    return np.array(text.split(), dtype=np.float64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--check", action="store_true", help="compare with the stored fixtures")
    args = parser.parse_args()

    pipeline = Pipeline(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    worst = 0.0
    for case in CASES:
        latents = pipeline.txt2img_latents(case)
        path = args.out / f"{case['name']}.txt"
        if args.check:
            stored = read_latents(path)
            diff = float(np.max(np.abs(stored - latents.reshape(-1)) / np.maximum(1.0, np.abs(stored))))
            worst = max(worst, diff)
            print(f"{case['name']}: max relative difference {diff:.3g}")
        else:
            write_fixture(path, case, latents)
            print(f"wrote {path} (|latents| max {np.abs(latents).max():.3f})")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
