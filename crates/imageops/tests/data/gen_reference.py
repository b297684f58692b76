"""Writes reference.txt: outputs of Pillow, OpenCV and onnx-web 0.12's own code for the inputs
that tests/reference.rs rebuilds from the same formulas. Run with Pillow, numpy and
opencv-python-headless installed:  python gen_reference.py > reference.txt
(made with Pillow 13.0.0, numpy 2.4, OpenCV 5.0.0)."""
from math import ceil

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps


def pattern(w, h):
    return Image.frombytes("RGB", (w, h), bytes(
        ((x * 7 + y * 13 + c * 50) % 256) if ((x // 5 + y // 7) % 3) else ((x * y + c * 90) % 256)
        for y in range(h) for x in range(w) for c in range(3)))


def grey_pattern(w, h):
    return Image.frombytes("L", (w, h), bytes(
        ((x * 37 + y * 91) % 256) if (x // 6 + y) % 2 else 0 for y in range(h) for x in range(w)))


def square_mask(w, h, l, t, r, b):
    m = Image.new("L", (w, h), 0)
    m.paste(255, (l, t, r, b))
    return m


def out(key, values):
    print(f"{key}:", " ".join(str(int(v)) for v in values))


src = pattern(40, 30)
grey = grey_pattern(24, 5)
out("luma", src.convert("L").tobytes())
for r in (1, 3, 5):
    out(f"blur L {r}", grey.filter(ImageFilter.GaussianBlur(r)).tobytes())
out("blur RGB 5", pattern(7, 4).filter(ImageFilter.GaussianBlur(5)).tobytes())
methods = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS,
           "nearest": Image.NEAREST}
for name, f in methods.items():
    for w, h in ((17, 9), (29, 23), (53, 12)):
        out(f"resize RGB {name} {w} {h}", src.resize((w, h), f).tobytes())
    out(f"resize L {name} 9 13", grey.resize((9, 13), f).tobytes())
out("contain 30 30", ImageOps.contain(src, (30, 30)).tobytes())

# onnx-web's mask filters and expand_image (api/onnx_web/image/mask_filter.py, utils.py).
def mask_filter_none(mask, dims, origin, fill="white"):
    n = Image.new("RGB", dims, fill)
    n.paste(mask, origin)
    return n


def gaussian(op):
    def f(mask, dims, origin):
        n = mask_filter_none(mask, dims, origin)
        for _ in range(3):
            n = op(n, n.filter(ImageFilter.GaussianBlur(5)))
        return n
    return f


filters = {"none": mask_filter_none, "gaussian-multiply": gaussian(ImageChops.multiply),
           "gaussian-screen": gaussian(ImageChops.screen)}
mask = square_mask(24, 20, 6, 5, 15, 14)
for name, f in filters.items():
    out(f"mask {name}", f(mask, (30, 26), (2, 3)).convert("L").tobytes())


def noise_source_fill_edge(source, dims, origin, fill="white"):
    n = Image.new(source.mode, dims, fill)
    n.paste(source, origin)
    return n


for name, f in filters.items():
    source = pattern(20, 16)
    m = square_mask(20, 16, 4, 3, 12, 10)
    border = (3, 5, 2, 4)  # left, right, top, bottom
    size = (3 + 20 + 5, 2 + 16 + 4)
    origin = (3, 2)
    full_source = Image.new("RGB", size, "#102030")
    full_source.paste(source, origin)
    full_mask = f(m, size, origin)
    full_noise = noise_source_fill_edge(source, size, origin, fill="#102030")
    full_noise = ImageChops.multiply(full_noise, full_mask)
    full_source = Image.composite(full_noise, full_source, full_mask.convert("L"))
    out(f"expand {name} source", full_source.tobytes())
    out(f"expand {name} mask", full_mask.convert("L").tobytes())
    out(f"expand {name} noise", full_noise.tobytes())

a, b = pattern(11, 7), pattern(11, 7).rotate(180)
m = grey_pattern(11, 7)
out("composite", Image.composite(b, a, m).tobytes())
out("blend 0.3", Image.blend(a, b, 0.3).tobytes())
out("multiply", ImageChops.multiply(a, b).tobytes())
out("screen", ImageChops.screen(a, b).tobytes())
rgba = Image.frombytes("RGBA", (11, 7), bytes((i * 29 + (i // 4) * 7) % 256 for i in range(11 * 7 * 4)))
over = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
over.alpha_composite(rgba)
out("rgba mask", over.convert("L").tobytes())

img = np.array(pattern(40, 30))
out("canny", cv2.Canny(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), 100, 200).flatten())


# onnx-web 0.12 chain/tile.py blend_tiles (numpy; truncates the division).
def make_tile_grads(left, top, tile, width, height):
    gx, gy = [0, 1, 1, 0], [0, 1, 1, 0]
    if left <= 0:
        gx[0] = 1
    if top <= 0:
        gy[0] = 1
    if left + tile >= width:
        gx[3] = 1
    if top + tile >= height:
        gy[3] = 1
    return gx, gy


def blend_tiles(tiles, scale, width, height, tile, overlap):
    adj_tile = int(float(tile) * (1.0 - overlap))
    scaled_size = (height * scale, width * scale, 3)
    count = np.zeros(scaled_size)
    value = np.zeros(scaled_size)
    for left, top, tile_image in tiles:
        equalized = np.array(tile_image).astype(np.float32)
        mask = np.ones_like(equalized[:, :, 0])
        if adj_tile < tile:
            p1 = (adj_tile * scale) - 1
            p2 = (tile - adj_tile - 1) * scale
            points = [-1, min(p1, p2), max(p1, p2), (tile * scale)]
            grad_x, grad_y = make_tile_grads(left, top, adj_tile, width, height)
            mult_x = [np.interp(i, points, grad_x) for i in range(tile * scale)]
            mult_y = [np.interp(i, points, grad_y) for i in range(tile * scale)]
            mask = ((mask * mult_x).T * mult_y).T
            for c in range(3):
                equalized[:, :, c] = equalized[:, :, c] * mask
        st, sl = top * scale, left * scale
        sb, sr = st + equalized.shape[0], sl + equalized.shape[1]
        wt, wl = max(st, 0), max(sl, 0)
        wb, wr = min(sb, scaled_size[0]), min(sr, scaled_size[1])
        mt, ml, mb, mr = wt - st, wl - sl, wb - sb, wr - sr
        value[wt:wb, wl:wr, :] += equalized[mt:equalized.shape[0] + mb, ml:equalized.shape[1] + mr, :]
        count[wt:wb, wl:wr, :] += np.repeat(
            mask[mt:equalized.shape[0] + mb, ml:equalized.shape[1] + mr, np.newaxis], 3, axis=2)
    return np.uint8(np.where(count > 0, value / count, value))


W, H, T = 24, 16, 8
for overlap, scale in ((0.5, 1), (0.25, 2)):
    adj = int(T * (1 - overlap))
    coords = [(x * adj, y * adj) for y in range(ceil(H / adj)) for x in range(ceil(W / adj))]
    coords += [(-2, -2), (18, 10)]
    tiles = [(l, t, pattern(T * scale, T * scale).rotate(90 * i)) for i, (l, t) in enumerate(coords)]
    out(f"tiles {overlap} {scale}", blend_tiles(tiles, scale, W, H, T, overlap).flatten())
