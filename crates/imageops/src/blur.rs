//! PIL's `ImageFilter.GaussianBlur(radius)`: three passes of an extended box blur per axis
//! (Gwosdek et al.), with PIL's 8.24 fixed-point arithmetic and edge pixels repeated.

use image::Pixel;

use crate::blend::Image8;

/// The (fractional) box radius that `passes` box blurs need to approximate a Gaussian of
/// standard deviation `sigma` (PIL's `_gaussian_blur_radius`).
fn box_radius(sigma: f32, passes: u32) -> f32 {
    let sigma2 = sigma * sigma / passes as f32;
    let big_l = (12.0 * sigma2 + 1.0).sqrt();
    let l = ((big_l - 1.0) / 2.0).floor();
    let mut a = (2.0 * l + 1.0) * (l * (l + 1.0) - 3.0 * sigma2);
    a /= 6.0 * (sigma2 - (l + 1.0) * (l + 1.0));
    l + a
}

/// Box-blurs each line of `len` pixels × `channels` bytes from `src` into `dst`, with the
/// fractional radius `radius`. `pad` is scratch space.
fn box_blur_lines(
    src: &[u8],
    dst: &mut [u8],
    len: usize,
    channels: usize,
    radius: f32,
    pad: &mut Vec<u32>,
) {
    match channels {
        1 => box_blur_lines_n::<1>(src, dst, len, radius, pad),
        2 => box_blur_lines_n::<2>(src, dst, len, radius, pad),
        3 => box_blur_lines_n::<3>(src, dst, len, radius, pad),
        4 => box_blur_lines_n::<4>(src, dst, len, radius, pad),
        _ => unreachable!("8-bit images have 1 to 4 channels"),
    }
}

fn box_blur_lines_n<const C: usize>(
    src: &[u8],
    dst: &mut [u8],
    len: usize,
    radius: f32,
    pad: &mut Vec<u32>,
) {
    let r = radius as usize;
    // PIL: ww = (1 << 24) / (2·radius + 1) in float, truncated; fw = the weight of each of the
    // two far pixels.
    let ww = ((1u32 << 24) as f32 / (radius * 2.0 + 1.0)) as u64;
    let fw = ((1u64 << 24) - (r as u64 * 2 + 1) * ww) / 2;
    let line_bytes = len * C;
    // The line with r + 1 repeated edge pixels on each side: padded index i holds pixel
    // clamp(i − r − 1).
    let padded = len + 2 * r + 2;
    pad.clear();
    pad.resize(padded * C, 0);
    for (src_line, dst_line) in src
        .chunks_exact(line_bytes)
        .zip(dst.chunks_exact_mut(line_bytes))
    {
        let (first, last) = (&src_line[..C], &src_line[line_bytes - C..]);
        for (i, p) in pad.chunks_exact_mut(C).enumerate() {
            let from = if i <= r {
                first
            } else if i > r + len {
                last
            } else {
                &src_line[(i - r - 1) * C..(i - r) * C]
            };
            for (p, &v) in p.iter_mut().zip(from) {
                *p = u32::from(v);
            }
        }
        let pad: &[u32] = pad;
        // acc for x = −1: padded pixels 0 ..= 2r.
        let mut acc = [0u64; C];
        for px in pad[..(2 * r + 1) * C].chunks_exact(C) {
            for c in 0..C {
                acc[c] += u64::from(px[c]);
            }
        }
        // Output x: window padded x + 1 ..= x + 2r + 1, far pixels x and x + 2r + 2.
        for (x, out) in dst_line.chunks_exact_mut(C).enumerate() {
            let old = &pad[x * C..(x + 1) * C];
            let new = &pad[(x + 2 * r + 1) * C..(x + 2 * r + 2) * C];
            let far = &pad[(x + 2 * r + 2) * C..(x + 2 * r + 3) * C];
            for c in 0..C {
                acc[c] = acc[c] + u64::from(new[c]) - u64::from(old[c]);
                let bulk = acc[c] * ww + (u64::from(old[c]) + u64::from(far[c])) * fw;
                out[c] = ((bulk + (1 << 23)) >> 24) as u8;
            }
        }
    }
}

fn transpose(src: &[u8], dst: &mut [u8], width: usize, height: usize, channels: usize) {
    // Blocked to stay in cache on large images.
    const B: usize = 32;
    for by in (0..height).step_by(B) {
        for bx in (0..width).step_by(B) {
            for y in by..(by + B).min(height) {
                for x in bx..(bx + B).min(width) {
                    let s = (y * width + x) * channels;
                    let d = (x * height + y) * channels;
                    dst[d..d + channels].copy_from_slice(&src[s..s + channels]);
                }
            }
        }
    }
}

/// Gaussian blur with standard deviation `radius`, as PIL's `ImageFilter.GaussianBlur(radius)`
/// (three box-blur passes per axis). A radius ≤ 0 returns a copy.
pub fn gaussian_blur<P: Pixel<Subpixel = u8>>(img: &Image8<P>, radius: f32) -> Image8<P> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if radius <= 0.0 || radius.is_nan() || w == 0 || h == 0 {
        return img.clone();
    }
    const PASSES: u32 = 3;
    let box_r = box_radius(radius, PASSES);
    let c = usize::from(P::CHANNEL_COUNT);
    let mut a = img.as_raw().clone();
    let mut b = vec![0u8; a.len()];
    let mut pad = Vec::new();
    for _ in 0..PASSES {
        box_blur_lines(&a, &mut b, w, c, box_r, &mut pad);
        std::mem::swap(&mut a, &mut b);
    }
    transpose(&a, &mut b, w, h, c);
    std::mem::swap(&mut a, &mut b);
    for _ in 0..PASSES {
        box_blur_lines(&a, &mut b, h, c, box_r, &mut pad);
        std::mem::swap(&mut a, &mut b);
    }
    transpose(&a, &mut b, h, w, c);
    Image8::from_raw(img.width(), img.height(), b).expect("same size")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Rgb, RgbImage};

    #[test]
    fn box_radius_like_pil() {
        // sigma 5, 3 passes: sigma² = 8.333, L = 10.05, l = 4, a = 9·(20 − 25)/(6·(8.333 − 25)).
        let r = box_radius(5.0, 3);
        assert!((r - 4.45).abs() < 1e-4, "{r}");
        let r = box_radius(3.0, 3);
        assert!(r > 2.0 && r < 3.0, "{r}");
    }

    #[test]
    fn flat_images_stay_flat() {
        let img = RgbImage::from_pixel(9, 5, Rgb([10, 200, 255]));
        let out = gaussian_blur(&img, 5.0);
        assert_eq!(out, img);
        let tiny = GrayImage::from_pixel(1, 1, image::Luma([77]));
        assert_eq!(gaussian_blur(&tiny, 5.0), tiny);
    }

    #[test]
    fn blur_spreads_and_keeps_the_mean() {
        let mut img = GrayImage::new(41, 41);
        img.put_pixel(20, 20, image::Luma([255]));
        let mut big = GrayImage::new(41, 41);
        for y in 15..26 {
            for x in 15..26 {
                big.put_pixel(x, y, image::Luma([255]));
            }
        }
        let out = gaussian_blur(&big, 3.0);
        let sum = |i: &GrayImage| i.as_raw().iter().map(|&v| u64::from(v)).sum::<u64>();
        let (before, after) = (sum(&big), sum(&out));
        assert!(before.abs_diff(after) < before / 50, "{before} vs {after}");
        // Symmetric, smooth, and the centre stays brightest.
        assert_eq!(out.get_pixel(10, 20), out.get_pixel(30, 20));
        assert_eq!(out.get_pixel(20, 10), out.get_pixel(20, 30));
        assert!(out.get_pixel(20, 20)[0] > out.get_pixel(14, 20)[0]);
        assert!(out.get_pixel(14, 20)[0] > 0 && out.get_pixel(14, 20)[0] < 255);
        assert!(out.get_pixel(12, 20)[0] > out.get_pixel(8, 20)[0]);
        // The single dot spreads out.
        let dot = gaussian_blur(&img, 1.0);
        assert!(dot.get_pixel(20, 20)[0] < 255 && dot.get_pixel(21, 20)[0] > 0);
    }
}
