//! PIL's `Image.resize` for 8-bit images (`libImaging/Resample.c`): separable convolution with
//! the filter widened by the downscale factor, coefficients normalised and rounded to 22-bit
//! fixed point, a horizontal pass clipped to 8 bits, then a vertical pass (the other order when
//! the width grows and the height shrinks, as Pillow does). Nearest neighbour is
//! PIL's affine transform with its accumulated source positions. Bit-exact with Pillow for
//! `L` and `RGB` images.

/// A resampling filter: its support and kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Filter {
    Bilinear,
    Bicubic,
    Lanczos,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Self::Bilinear => 1.0,
            Self::Bicubic => 2.0,
            Self::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Self::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Self::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Self::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output pixel: the first input index, the number of inputs, and `ksize` fixed-point
/// coefficients.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    kk: Vec<i32>,
}

/// PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for the whole input range.
fn coeffs(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut kk = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) truncates toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let w = filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        let row = &mut kk[xx * ksize..(xx + 1) * ksize];
        for (out, &w) in row.iter_mut().zip(&k[..n]) {
            let w = if ww != 0.0 { w / ww } else { w };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            *out = if w < 0.0 {
                (-0.5 + fixed) as i32
            } else {
                (0.5 + fixed) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Coeffs { ksize, bounds, kk }
}

#[inline]
fn clip8(v: i32) -> u8 {
    if v >= (1 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Horizontal pass over `rows` rows of `src` (width `in_w`), into `out_w`-wide rows.
fn horizontal<const C: usize>(
    src: &[u8],
    in_w: usize,
    rows: std::ops::Range<usize>,
    out_w: usize,
    co: &Coeffs,
) -> Vec<u8> {
    let mut out = vec![0u8; rows.len() * out_w * C];
    for (line, y) in out.chunks_exact_mut(out_w * C).zip(rows) {
        let src_row = &src[y * in_w * C..(y + 1) * in_w * C];
        for (xx, px) in line.chunks_exact_mut(C).enumerate() {
            let (xmin, n) = co.bounds[xx];
            let k = &co.kk[xx * co.ksize..xx * co.ksize + n];
            let mut ss = [1i32 << (PRECISION_BITS - 1); C];
            for (i, &kx) in k.iter().enumerate() {
                let p = &src_row[(xmin + i) * C..(xmin + i + 1) * C];
                for c in 0..C {
                    ss[c] = ss[c].wrapping_add(i32::from(p[c]).wrapping_mul(kx));
                }
            }
            for c in 0..C {
                px[c] = clip8(ss[c]);
            }
        }
    }
    out
}

/// Vertical pass: `src` is `width` wide; output row `yy` uses source rows
/// `bounds[yy].0 - first ..` of `src`.
fn vertical<const C: usize>(
    src: &[u8],
    width: usize,
    first: usize,
    out_h: usize,
    co: &Coeffs,
) -> Vec<u8> {
    let stride = width * C;
    let mut out = vec![0u8; out_h * stride];
    let mut acc = vec![0i32; stride];
    for (yy, line) in out.chunks_exact_mut(stride).enumerate() {
        let (ymin, n) = co.bounds[yy];
        let k = &co.kk[yy * co.ksize..yy * co.ksize + n];
        acc.fill(1 << (PRECISION_BITS - 1));
        for (i, &ky) in k.iter().enumerate() {
            let row = &src[(ymin - first + i) * stride..(ymin - first + i + 1) * stride];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a = a.wrapping_add(i32::from(p).wrapping_mul(ky));
            }
        }
        for (o, &a) in line.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

fn convolve<const C: usize>(
    src: &[u8],
    in_w: usize,
    in_h: usize,
    out_w: usize,
    out_h: usize,
    filter: Filter,
) -> Vec<u8> {
    let need_h = out_w != in_w;
    let need_v = out_h != in_h;
    let co_v = coeffs(in_h, out_h, filter);
    if !need_h {
        return if need_v {
            vertical::<C>(src, in_w, 0, out_h, &co_v)
        } else {
            src.to_vec()
        };
    }
    let co_h = coeffs(in_w, out_w, filter);
    if need_v && out_w > in_w && out_h < in_h {
        // Pillow shrinks first when one axis grows and the other shrinks vertically: the
        // vertical pass runs first then (checked against Pillow 13).
        let temp = vertical::<C>(src, in_w, 0, out_h, &co_v);
        return horizontal::<C>(&temp, in_w, 0..out_h, out_w, &co_h);
    }
    // Only the rows the vertical pass reads.
    let first = co_v.bounds.first().map_or(0, |b| b.0);
    let last = co_v.bounds.last().map_or(0, |b| b.0 + b.1);
    let temp = horizontal::<C>(src, in_w, first..last.max(first), out_w, &co_h);
    if need_v {
        vertical::<C>(&temp, out_w, first, out_h, &co_v)
    } else {
        temp
    }
}

/// Resizes a `width × height` image of `channels` interleaved bytes per pixel with a
/// convolution filter.
pub(crate) fn resample(
    src: &[u8],
    channels: usize,
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
    filter: Filter,
) -> Vec<u8> {
    match channels {
        1 => convolve::<1>(src, in_w, in_h, out_w, out_h, filter),
        2 => convolve::<2>(src, in_w, in_h, out_w, out_h, filter),
        3 => convolve::<3>(src, in_w, in_h, out_w, out_h, filter),
        4 => convolve::<4>(src, in_w, in_h, out_w, out_h, filter),
        _ => unreachable!("8-bit images have 1 to 4 channels"),
    }
}

/// PIL's nearest-neighbour resize (an affine transform with accumulated f64 positions).
pub(crate) fn nearest(
    src: &[u8],
    channels: usize,
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
) -> Vec<u8> {
    let positions = |in_size: usize, out_size: usize| -> Vec<usize> {
        let a = in_size as f64 / out_size as f64;
        let mut pos = a * 0.5;
        (0..out_size)
            .map(|_| {
                let p = (pos.max(0.0) as usize).min(in_size - 1);
                pos += a;
                p
            })
            .collect()
    };
    let xs = positions(in_w, out_w);
    let ys = positions(in_h, out_h);
    let mut out = Vec::with_capacity(out_w * out_h * channels);
    for &y in &ys {
        let row = &src[y * in_w * channels..(y + 1) * in_w * channels];
        for &x in &xs {
            out.extend_from_slice(&row[x * channels..(x + 1) * channels]);
        }
    }
    out
}
