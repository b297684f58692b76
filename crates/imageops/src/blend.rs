//! Pixel compositing with PIL's integer arithmetic: mask composite, linear blend, multiply,
//! screen, and clipped paste/crop helpers. Generic over 8-bit pixel types (`Luma`, `Rgb`, `Rgba`).

use image::{GrayImage, ImageBuffer, Pixel};

use crate::error::ImageError;

/// An 8-bit image of any pixel type.
pub type Image8<P> = ImageBuffer<P, Vec<u8>>;

/// `round(v / 255)` for `v <= 255 * 255`, as PIL's `DIV255`.
#[inline]
pub(crate) fn div255(v: u32) -> u8 {
    let t = v + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// `a · b / 255`, truncated, as PIL's `ImageChops.multiply`.
#[inline]
pub(crate) fn chop_multiply(a: u8, b: u8) -> u8 {
    (u32::from(a) * u32::from(b) / 255) as u8
}

/// `255 − (255 − a)·(255 − b) / 255`, the product truncated, as PIL's `ImageChops.screen`.
#[inline]
pub(crate) fn chop_screen(a: u8, b: u8) -> u8 {
    255 - chop_multiply(255 - a, 255 - b)
}

fn same_size<A: Pixel<Subpixel = u8>, B: Pixel<Subpixel = u8>>(
    what: &'static str,
    a: &Image8<A>,
    b: &Image8<B>,
) -> Result<(), ImageError> {
    if a.dimensions() == b.dimensions() {
        Ok(())
    } else {
        Err(ImageError::SizeMismatch {
            what,
            a_width: a.width(),
            a_height: a.height(),
            b_width: b.width(),
            b_height: b.height(),
        })
    }
}

/// Mixes two images through a mask, per pixel: black (0) → `a`, white (255) → `b`, grey → the
/// mix `(a·(255−m) + b·m) / 255`, rounded (PIL's `Image.composite(b, a, mask)`).
/// All three must have the same size.
pub fn composite<P: Pixel<Subpixel = u8>>(
    a: &Image8<P>,
    b: &Image8<P>,
    mask: &GrayImage,
) -> Result<Image8<P>, ImageError> {
    same_size("composite", a, b)?;
    same_size("composite mask", a, mask)?;
    let channels = usize::from(P::CHANNEL_COUNT);
    let mut out = vec![0u8; a.as_raw().len()];
    for (((o, a), b), &m) in out
        .chunks_exact_mut(channels)
        .zip(a.as_raw().chunks_exact(channels))
        .zip(b.as_raw().chunks_exact(channels))
        .zip(mask.as_raw())
    {
        match m {
            0 => o.copy_from_slice(a),
            255 => o.copy_from_slice(b),
            _ => {
                let (m, n) = (u32::from(m), 255 - u32::from(m));
                for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                    *o = div255(u32::from(a) * n + u32::from(b) * m);
                }
            }
        }
    }
    Ok(ImageBuffer::from_raw(a.width(), a.height(), out).expect("same size"))
}

/// Linear interpolation `a + alpha·(b − a)` per channel, truncated as PIL's `Image.blend` does
/// (black and white at 0.5 → 127). `alpha` is clamped to [0, 1].
pub fn blend_linear<P: Pixel<Subpixel = u8>>(
    a: &Image8<P>,
    b: &Image8<P>,
    alpha: f32,
) -> Result<Image8<P>, ImageError> {
    same_size("blend", a, b)?;
    let alpha = if alpha.is_nan() {
        0.0
    } else {
        alpha.clamp(0.0, 1.0)
    };
    let out = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&a, &b)| {
            let v = f32::from(a) + alpha * (f32::from(b) - f32::from(a));
            v.clamp(0.0, 255.0) as u8
        })
        .collect();
    Ok(ImageBuffer::from_raw(a.width(), a.height(), out).expect("same size"))
}

fn zip_map<P: Pixel<Subpixel = u8>>(
    what: &'static str,
    a: &Image8<P>,
    b: &Image8<P>,
    f: impl Fn(u8, u8) -> u8,
) -> Result<Image8<P>, ImageError> {
    same_size(what, a, b)?;
    let out = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&a, &b)| f(a, b))
        .collect();
    Ok(ImageBuffer::from_raw(a.width(), a.height(), out).expect("same size"))
}

/// `a·b / 255` per channel, truncated (PIL's `ImageChops.multiply`): darkens, white is
/// neutral.
pub fn multiply<P: Pixel<Subpixel = u8>>(
    a: &Image8<P>,
    b: &Image8<P>,
) -> Result<Image8<P>, ImageError> {
    zip_map("multiply", a, b, chop_multiply)
}

/// `255 − (255−a)·(255−b) / 255` per channel, truncated (PIL's `ImageChops.screen`):
/// lightens, black is neutral.
pub fn screen<P: Pixel<Subpixel = u8>>(
    a: &Image8<P>,
    b: &Image8<P>,
) -> Result<Image8<P>, ImageError> {
    zip_map("screen", a, b, chop_screen)
}

/// Multiplies every channel of `img` by the mask, in place, truncated (PIL's
/// `ImageChops.multiply` with a grey mask image).
pub fn multiply_by_mask<P: Pixel<Subpixel = u8>>(
    img: &mut Image8<P>,
    mask: &GrayImage,
) -> Result<(), ImageError> {
    same_size("multiply by mask", img, mask)?;
    let channels = usize::from(P::CHANNEL_COUNT);
    for (px, &m) in img.chunks_exact_mut(channels).zip(mask.as_raw()) {
        for c in px {
            *c = chop_multiply(*c, m);
        }
    }
    Ok(())
}

/// The overlap of a `w×h` rectangle at `(x, y)` with a `bw×bh` canvas at the origin:
/// `(dst_x, dst_y, src_x, src_y, width, height)`, or `None` when empty.
fn clip(
    x: i64,
    y: i64,
    w: u32,
    h: u32,
    bw: u32,
    bh: u32,
) -> Option<(u32, u32, u32, u32, u32, u32)> {
    let x0 = x.max(0);
    let y0 = y.max(0);
    let x1 = (x + i64::from(w)).min(i64::from(bw));
    let y1 = (y + i64::from(h)).min(i64::from(bh));
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    Some((
        x0 as u32,
        y0 as u32,
        (x0 - x) as u32,
        (y0 - y) as u32,
        (x1 - x0) as u32,
        (y1 - y0) as u32,
    ))
}

/// Copies `src` into `dst` with its top-left corner at `(x, y)` (may be negative); the parts
/// outside `dst` are dropped (PIL's `paste` without a mask).
pub fn paste<P: Pixel<Subpixel = u8>>(dst: &mut Image8<P>, src: &Image8<P>, x: i64, y: i64) {
    let Some((dx, dy, sx, sy, w, h)) =
        clip(x, y, src.width(), src.height(), dst.width(), dst.height())
    else {
        return;
    };
    let c = usize::from(P::CHANNEL_COUNT);
    let (dw, sw) = (dst.width() as usize * c, src.width() as usize * c);
    let row = w as usize * c;
    let src_raw = src.as_raw();
    let dst_raw: &mut [u8] = dst;
    for r in 0..h as usize {
        let d = (dy as usize + r) * dw + dx as usize * c;
        let s = (sy as usize + r) * sw + sx as usize * c;
        dst_raw[d..d + row].copy_from_slice(&src_raw[s..s + row]);
    }
}

/// Pastes `src` at `(x, y)` through `mask` (same size as `src`): white → `src`, black → keep
/// `dst`, grey → mix (PIL's `paste(src, box, mask)`).
pub fn paste_masked<P: Pixel<Subpixel = u8>>(
    dst: &mut Image8<P>,
    src: &Image8<P>,
    mask: &GrayImage,
    x: i64,
    y: i64,
) -> Result<(), ImageError> {
    same_size("paste mask", src, mask)?;
    let Some((dx, dy, sx, sy, w, h)) =
        clip(x, y, src.width(), src.height(), dst.width(), dst.height())
    else {
        return Ok(());
    };
    let c = usize::from(P::CHANNEL_COUNT);
    let (dw, sw) = (dst.width() as usize, src.width() as usize);
    let src_raw = src.as_raw();
    let mask_raw = mask.as_raw();
    let dst_raw: &mut [u8] = dst;
    for r in 0..h as usize {
        let d = ((dy as usize + r) * dw + dx as usize) * c;
        let s = (sy as usize + r) * sw + sx as usize;
        let dst_row = &mut dst_raw[d..d + w as usize * c];
        let src_row = &src_raw[s * c..(s + w as usize) * c];
        let mask_row = &mask_raw[s..s + w as usize];
        for ((o, i), &m) in dst_row
            .chunks_exact_mut(c)
            .zip(src_row.chunks_exact(c))
            .zip(mask_row)
        {
            match m {
                0 => {}
                255 => o.copy_from_slice(i),
                _ => {
                    let (m, n) = (u32::from(m), 255 - u32::from(m));
                    for (o, &i) in o.iter_mut().zip(i) {
                        *o = div255(u32::from(*o) * n + u32::from(i) * m);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The `width×height` region of `img` whose top-left corner is `(x, y)`; the parts outside the
/// image are zero (black, transparent), as PIL's `crop`.
pub fn crop<P: Pixel<Subpixel = u8>>(
    img: &Image8<P>,
    x: i64,
    y: i64,
    width: u32,
    height: u32,
) -> Image8<P> {
    let mut out = ImageBuffer::new(width, height);
    if x >= 0
        && y >= 0
        && x + i64::from(width) <= i64::from(img.width())
        && y + i64::from(height) <= i64::from(img.height())
    {
        // Fully inside: copy rows without the clipping arithmetic.
        let c = usize::from(P::CHANNEL_COUNT);
        let (iw, row) = (img.width() as usize * c, width as usize * c);
        let raw = img.as_raw();
        let out_raw: &mut [u8] = &mut out;
        for r in 0..height as usize {
            let s = (y as usize + r) * iw + x as usize * c;
            out_raw[r * row..(r + 1) * row].copy_from_slice(&raw[s..s + row]);
        }
        return out;
    }
    paste(&mut out, img, -x, -y);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Luma, Rgb, RgbImage, Rgba, RgbaImage};

    #[test]
    fn div255_matches_exact_rounding() {
        for a in 0..=255u32 {
            for b in 0..=255u32 {
                let want = ((a * b) as f64 / 255.0).round() as u8;
                assert_eq!(div255(a * b), want, "{a}·{b}");
            }
        }
    }

    #[test]
    fn composite_white_black_grey() {
        let a = RgbImage::from_pixel(3, 1, Rgb([10, 20, 30]));
        let b = RgbImage::from_pixel(3, 1, Rgb([210, 220, 230]));
        let mask = GrayImage::from_raw(3, 1, vec![0, 255, 128]).unwrap();
        let out = composite(&a, &b, &mask).unwrap();
        assert_eq!(out.get_pixel(0, 0).0, [10, 20, 30], "black keeps a");
        assert_eq!(out.get_pixel(1, 0).0, [210, 220, 230], "white takes b");
        // 10·127/255 + 210·128/255 = 110.39 → 110
        assert_eq!(out.get_pixel(2, 0).0, [110, 120, 130], "grey mixes");
        // Gray and RGBA images too.
        let ga = GrayImage::from_pixel(1, 1, Luma([0]));
        let gb = GrayImage::from_pixel(1, 1, Luma([255]));
        let m = GrayImage::from_pixel(1, 1, Luma([51]));
        assert_eq!(composite(&ga, &gb, &m).unwrap().get_pixel(0, 0).0, [51]);
        let ra = RgbaImage::from_pixel(1, 1, Rgba([0, 0, 0, 0]));
        let rb = RgbaImage::from_pixel(1, 1, Rgba([255, 255, 255, 255]));
        assert_eq!(
            composite(&ra, &rb, &m).unwrap().get_pixel(0, 0).0,
            [51, 51, 51, 51]
        );
    }

    #[test]
    fn composite_refuses_other_sizes() {
        let a = RgbImage::new(3, 2);
        let b = RgbImage::new(3, 2);
        let err = composite(&a, &b, &GrayImage::new(2, 3)).unwrap_err();
        assert!(matches!(err, ImageError::SizeMismatch { .. }), "{err}");
        assert!(err.to_string().contains("3×2 and 2×3"), "{err}");
        assert!(composite(&a, &RgbImage::new(2, 2), &GrayImage::new(3, 2)).is_err());
    }

    #[test]
    fn blend_linear_black_white_half_is_127() {
        let black = RgbImage::from_pixel(2, 2, Rgb([0, 0, 0]));
        let white = RgbImage::from_pixel(2, 2, Rgb([255, 255, 255]));
        let out = blend_linear(&black, &white, 0.5).unwrap();
        assert!(out.pixels().all(|p| p.0 == [127, 127, 127]));
        let out = blend_linear(&white, &black, 0.5).unwrap();
        assert!(out.pixels().all(|p| p.0 == [127, 127, 127]));
        assert_eq!(blend_linear(&black, &white, 0.0).unwrap(), black);
        assert_eq!(blend_linear(&black, &white, 1.0).unwrap(), white);
        assert_eq!(blend_linear(&black, &white, 7.0).unwrap(), white);
    }

    #[test]
    fn multiply_and_screen() {
        let a = GrayImage::from_raw(4, 1, vec![0, 255, 128, 200]).unwrap();
        let b = GrayImage::from_raw(4, 1, vec![255, 255, 128, 100]).unwrap();
        assert_eq!(multiply(&a, &b).unwrap().as_raw(), &vec![0, 255, 64, 78]);
        // 255 − (255·0/255) = 255; 255 − 127·127/255 = 255 − 63.25 → 192
        assert_eq!(screen(&a, &b).unwrap().as_raw(), &vec![255, 255, 192, 222]);
        // PIL truncates: multiply(100, 155) = 60.78 → 60, screen(100, 155) = 195.
        let c = GrayImage::from_raw(2, 1, vec![100, 254]).unwrap();
        let d = GrayImage::from_raw(2, 1, vec![155, 254]).unwrap();
        assert_eq!(multiply(&c, &d).unwrap().as_raw(), &vec![60, 253]);
        assert_eq!(screen(&c, &d).unwrap().as_raw(), &vec![195, 255]);
        let mut img = RgbImage::from_pixel(4, 1, Rgb([200, 100, 255]));
        multiply_by_mask(&mut img, &a).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(1, 0).0, [200, 100, 255]);
        assert_eq!(img.get_pixel(2, 0).0, [100, 50, 128]);
    }

    #[test]
    fn paste_and_crop_clip_at_the_borders() {
        let src = RgbImage::from_fn(4, 3, |x, y| Rgb([x as u8, y as u8, 1]));
        let mut dst = RgbImage::from_pixel(5, 5, Rgb([9, 9, 9]));
        paste(&mut dst, &src, -2, 3);
        assert_eq!(dst.get_pixel(0, 3).0, [2, 0, 1]);
        assert_eq!(dst.get_pixel(1, 4).0, [3, 1, 1]);
        assert_eq!(dst.get_pixel(2, 3).0, [9, 9, 9]);
        assert_eq!(dst.get_pixel(0, 2).0, [9, 9, 9]);
        paste(&mut dst, &src, 10, 10); // fully outside: nothing
        paste(&mut dst, &src, -4, 0);

        let c = crop(&src, -1, 1, 3, 3);
        assert_eq!(c.dimensions(), (3, 3));
        assert_eq!(c.get_pixel(0, 0).0, [0, 0, 0], "outside is black");
        assert_eq!(c.get_pixel(1, 0).0, [0, 1, 1]);
        assert_eq!(c.get_pixel(2, 1).0, [1, 2, 1]);
        assert_eq!(c.get_pixel(2, 2).0, [0, 0, 0], "below the image");
        let inside = crop(&src, 1, 1, 2, 2);
        assert_eq!(inside.get_pixel(1, 1).0, [2, 2, 1]);
        assert_eq!(crop(&src, 100, 100, 2, 2), RgbImage::new(2, 2));
    }

    #[test]
    fn paste_masked_mixes() {
        let mut dst = RgbImage::from_pixel(3, 1, Rgb([0, 0, 0]));
        let src = RgbImage::from_pixel(2, 1, Rgb([255, 255, 255]));
        let mask = GrayImage::from_raw(2, 1, vec![255, 128]).unwrap();
        paste_masked(&mut dst, &src, &mask, 1, 0).unwrap();
        assert_eq!(dst.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(dst.get_pixel(1, 0).0, [255, 255, 255]);
        assert_eq!(dst.get_pixel(2, 0).0, [128, 128, 128]);
    }
}
