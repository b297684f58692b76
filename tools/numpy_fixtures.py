#!/usr/bin/env python3
"""Writes the bit-exact numpy fixtures of `crates/diffusion/tests/numpy_rng.rs`.

onnx-web draws its random numbers with numpy: `numpy.random.default_rng(seed)` (PCG64 seeded
through SeedSequence) for the initial latents, and the legacy `numpy.random.RandomState(seed)`
(MT19937) as the diffusers pipelines' `generator` and for `<reseed>` seeds. This tool records what
numpy produces, so that the Rust generators (`onnx_web_diffusion::noise`) can be checked bit for
bit without Python at test time.

Needs only numpy. Run it with the numpy onnx-web 0.12 pins (`numpy<1.24`, i.e. 1.23.5); the
output is the same with numpy 2.x, which the script can confirm (`--check`):

    python3 -m venv /tmp/ref-venv && /tmp/ref-venv/bin/pip install numpy
    /tmp/ref-venv/bin/python tools/numpy_fixtures.py            # (re)writes the fixtures
    /tmp/ref-venv/bin/python tools/numpy_fixtures.py --check    # compares with the files

Fixture format: JSON. Floats are stored as their IEEE-754 bit patterns in hex (`"0x3f800000"`),
big arrays as `count`, the first and last few bit patterns and `wsum`: the wrapping sum over i of
`bits[i] * (2 * i + 1)` modulo 2^64 (odd weights, so any single changed value changes it).
"""

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parent.parent / "crates/diffusion/tests/fixtures/numpy"

# Seeds: the classic ones, the u32 limits, and some arbitrary ones (fixed here once). Seeds above
# 2^32 exercise SeedSequence's multi-word entropy; onnx-web's own seeds are u32.
SEEDS = [0, 1, 42, 2**32 - 1, 7, 1234, 31337, 2**31 - 1, 2**31, 3141592653, 2718281828]
BIG_SEEDS = [2**32, 2**53 + 7, 2**64 - 1]
SHAPES = [(1, 4, 8, 8), (2, 4, 16, 24), (1, 4, 64, 64)]
EDGE = 8  # first/last values kept per array
LONG_SEEDS = [0, 42, 2**32 - 1]  # long streams: tails and rejections happen many times
LONG_COUNT = 1_000_000
ZIGGURAT_R = 3.6541528853610088


def bits(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.float64:
        return array.reshape(-1).view(np.uint64)
    if array.dtype == np.float32:
        return array.reshape(-1).view(np.uint32).astype(np.uint64)
    if array.dtype in (np.uint32, np.uint64, np.int64):
        return array.reshape(-1).astype(np.uint64)
    raise TypeError(array.dtype)


def hexes(values, width: int):
    return [f"0x{int(v):0{width}x}" for v in values]


def summary(array: np.ndarray) -> dict:
    """count, first/last bit patterns and the weighted bit sum of an array."""
    width = 16 if array.dtype in (np.float64, np.uint64, np.int64) else 8
    b = bits(array)
    weights = np.arange(b.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    with np.errstate(over="ignore"):
        wsum = int(np.sum(b * weights, dtype=np.uint64))
    return {
        "count": int(b.size),
        "first": hexes(b[:EDGE], width),
        "last": hexes(b[-EDGE:], width),
        "wsum": f"0x{wsum:016x}",
    }


def seed_sequence_cases() -> list:
    cases = []
    for seed in SEEDS + BIG_SEEDS + [2**100 + 12345]:
        ss = np.random.SeedSequence(seed)
        bit_gen = np.random.PCG64(seed)
        state = bit_gen.state["state"]
        raw = bit_gen.random_raw(6)
        cases.append(
            {
                "entropy": str(seed),
                "pool": hexes(ss.pool, 8),
                "state_u32": hexes(ss.generate_state(8, np.uint32), 8),
                "state_u64": hexes(ss.generate_state(4, np.uint64), 16),
                "pcg_state": f"0x{state['state']:032x}",
                "pcg_inc": f"0x{state['inc']:032x}",
                "raw_u64": hexes(raw, 16),
            }
        )
    return cases


def default_rng_cases() -> dict:
    short = []
    for seed in SEEDS + BIG_SEEDS:
        for shape in SHAPES:
            for dtype in ("float64", "float32"):
                values = np.random.default_rng(seed).standard_normal(shape, dtype=np.dtype(dtype))
                short.append({"seed": str(seed), "shape": list(shape), "dtype": dtype, **summary(values)})
    long = []
    for seed in LONG_SEEDS:
        for dtype in ("float64", "float32"):
            values = np.random.default_rng(seed).standard_normal(LONG_COUNT, dtype=np.dtype(dtype))
            tail = np.flatnonzero(np.abs(values.astype(np.float64)) >= ZIGGURAT_R)
            long.append(
                {
                    "seed": str(seed),
                    "dtype": dtype,
                    "tail_count": int(tail.size),
                    "tail_first": [[int(i), hexes(bits(values[i : i + 1]), 16 if dtype == "float64" else 8)[0]] for i in tail[:6]],
                    **summary(values),
                }
            )
    # A stream cut into odd pieces equals one draw: the u32 buffer of PCG64 carries over.
    pieces = []
    for seed in (5, 2**32 - 1):
        g = np.random.default_rng(seed)
        parts = [g.standard_normal(n, dtype=np.float32) for n in (1, 2, 3, 5, 7)]
        parts.append(g.standard_normal(4))  # a float64 draw after float32 draws
        parts.append(g.standard_normal(3, dtype=np.float32))
        pieces.append(
            {
                "seed": str(seed),
                "f32_then_f64": [hexes(bits(p), 16 if p.dtype == np.float64 else 8) for p in parts],
            }
        )
    return {"standard_normal": short, "long": long, "pieces": pieces}


def get_latents_from_seed(seed: int, width: int, height: int, batch: int) -> np.ndarray:
    """onnx-web 0.12 `diffusers/utils.py::get_latents_from_seed` (float64 draw, cast to float32)."""
    shape = (batch, 4, height // 8, width // 8)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def get_tile_latents(full: np.ndarray, seed: int, tile_size, dims) -> np.ndarray:
    """onnx-web 0.12 `get_tile_latents`: the slice, else a fresh tile-sized draw with the slice
    pasted into its top-left corner."""
    x, y, tile = dims
    t = tile // 8
    x = max(0, x // 8)
    y = max(0, y // 8)
    part = full[:, :, y : y + t, x : x + t]
    if part.shape[2] < t or part.shape[3] < t:
        extra = get_latents_from_seed(seed, tile_size[0], tile_size[1], part.shape[0])
        extra[:, :, 0 : part.shape[2], 0 : part.shape[3]] = part
        part = extra
    return part


def latents_cases() -> dict:
    from_seed = []
    for seed, width, height, batch in [
        (0, 64, 64, 1),
        (42, 512, 512, 1),
        (42, 512, 768, 2),
        (2**32 - 1, 192, 64, 3),
        (1234, 72, 40, 1),
    ]:
        values = get_latents_from_seed(seed, width, height, batch)
        from_seed.append({"seed": seed, "width": width, "height": height, "batch": batch, **summary(values)})
    tiles = []
    for seed, width, height, batch, dims, draw in [
        (42, 256, 256, 1, (0, 0, 128), None),
        (42, 256, 256, 1, (64, 128, 128), None),
        (42, 256, 256, 2, (192, 64, 128), None),  # right edge: expanded
        (42, 256, 256, 1, (192, 192, 128), None),  # corner: expanded both ways
        (7, 256, 192, 1, (-32, -16, 128), None),  # spiral tiles may start outside
        (7, 64, 64, 1, (0, 0, 128), None),  # tile bigger than the image
        (2**32 - 1, 320, 128, 1, (256, 64, 64), None),
        (7, 256, 192, 1, (128, 64, 256), (256, 192)),  # onnx-web's latent_size = size.min(tile)
    ]:
        draw = draw or (dims[2], dims[2])
        full = get_latents_from_seed(seed, width, height, batch)
        tile = get_tile_latents(full, seed, draw, dims)
        tiles.append(
            {
                "seed": seed,
                "width": width,
                "height": height,
                "batch": batch,
                "left": dims[0],
                "top": dims[1],
                "tile": dims[2],
                "draw_width": draw[0],
                "draw_height": draw[1],
                "shape": list(tile.shape),
                **summary(np.ascontiguousarray(tile)),
            }
        )
    return {"from_seed": from_seed, "tiles": tiles}


def random_state_cases() -> dict:
    randn = []
    for seed in SEEDS:
        for shape in SHAPES:
            values = np.random.RandomState(seed).randn(*shape)
            randn.append(
                {
                    "seed": seed,
                    "shape": list(shape),
                    "f64": summary(values),
                    "f32": summary(values.astype(np.float32)),
                }
            )
    raw = []
    for seed in SEEDS:
        rs = np.random.RandomState(seed)
        u32 = rs.randint(0, 2**32, size=8, dtype=np.uint32)
        doubles = rs.random_sample(4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ints = [int(rs.random_integers(2**32 - 1)) for _ in range(4)]
        raw.append(
            {
                "seed": seed,
                "u32": hexes(u32, 8),
                "random_sample": hexes(bits(doubles), 16),
                "random_integers_u32max": ints,
            }
        )
    arrays = []
    for key in ([1, 2, 3], [0, 0], [2**32 - 1, 0, 7], list(range(700))):
        rs = np.random.RandomState(np.array(key, dtype=np.int64))
        arrays.append({"key": key, "u32": hexes(rs.randint(0, 2**32, size=8, dtype=np.uint32), 8), "randn": summary(rs.randn(33))})
    # The cached second value of a polar pair survives between calls.
    pieces = []
    for seed in (3, 2**32 - 1):
        rs = np.random.RandomState(seed)
        parts = [rs.randn(n) for n in (1, 2, 3, 5)]
        pieces.append({"seed": seed, "parts": [hexes(bits(p), 16) for p in parts]})
    return {"randn": randn, "raw": raw, "init_by_array": arrays, "pieces": pieces}


def build() -> dict:
    return {
        "seed_sequence.json": {"numpy": np.__version__, "cases": seed_sequence_cases()},
        "default_rng.json": {"numpy": np.__version__, **default_rng_cases()},
        "latents.json": {"numpy": np.__version__, **latents_cases()},
        "random_state.json": {"numpy": np.__version__, **random_state_cases()},
    }


def dump(data: dict) -> str:
    """JSON with one case per line: small files that still diff well."""
    lines = ["{"]
    items = list(data.items())
    for n, (key, value) in enumerate(items):
        comma = "," if n + 1 < len(items) else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f" {json.dumps(key)}: [")
            for m, case in enumerate(value):
                lines.append("  " + json.dumps(case, separators=(",", ":")) + ("," if m + 1 < len(value) else ""))
            lines.append(" ]" + comma)
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def strip_version(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "numpy"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()

    files = build()
    if args.check:
        same = True
        for name, data in files.items():
            stored = json.loads((args.out / name).read_text())
            if strip_version(stored) != strip_version(data):
                print(f"{name}: differs from numpy {np.__version__}")
                same = False
            else:
                print(f"{name}: same with numpy {np.__version__} (written with {stored.get('numpy')})")
        return 0 if same else 1

    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_text(dump(data))
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
