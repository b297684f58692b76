//! Small image helpers of the pipelines: tensors in the layouts the models want, PIL-compatible
//! luminance, resizing by onnx-web's method names, crops and pastes with a fill.

use image::{GrayImage, Rgb, RgbImage};

/// Resampling filters by onnx-web's names (PIL's `Image.resize` filters).
pub use onnx_web_imageops::ResizeMethod as Resample;

/// Resizes an RGB image; the same size is a copy.
pub fn resize(image: &RgbImage, width: u32, height: u32, method: Resample) -> RgbImage {
    onnx_web_imageops::resize(image, width.max(1), height.max(1), method)
}

/// Resizes a mask.
pub fn resize_gray(mask: &GrayImage, width: u32, height: u32, method: Resample) -> GrayImage {
    onnx_web_imageops::resize(mask, width.max(1), height.max(1), method)
}

/// PIL's `convert("L")`.
pub fn luma(image: &RgbImage) -> GrayImage {
    onnx_web_imageops::rgb_to_luma(image)
}

/// A grey mask as RGB (for saving or compositing).
pub fn gray_to_rgb(mask: &GrayImage) -> RgbImage {
    RgbImage::from_fn(mask.width(), mask.height(), |x, y| {
        let v = mask.get_pixel(x, y).0[0];
        Rgb([v, v, v])
    })
}

/// The image as a `[1, 3, h, w]` tensor in [-1, 1] (VAE input).
pub fn to_signed_tensor(image: &RgbImage) -> Vec<f32> {
    let mut out = vec![0f32; 3 * image.width() as usize * image.height() as usize];
    onnx_web_imageops::image_to_tensor(image, &mut out);
    out
}

/// The image as a `[1, 3, h, w]` tensor in [0, 1] (Real-ESRGAN input).
pub fn to_unit_tensor(image: &RgbImage) -> Vec<f32> {
    let plane = image.width() as usize * image.height() as usize;
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in image.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = f32::from(px.0[c]) / 255.0;
        }
    }
    out
}

/// A `[1, 3, h, w]` tensor in [0, 1] to an image, clipped and rounded.
pub fn from_unit_tensor(data: &[f32], height: usize, width: usize) -> RgbImage {
    let plane = height * width;
    RgbImage::from_fn(width as u32, height as u32, |x, y| {
        let i = y as usize * width + x as usize;
        let px = |c: usize| (data[c * plane + i].clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([px(0), px(1), px(2)])
    })
}

/// A `[1, 3, h, w]` tensor in [-1, 1] to an image (VAE output).
pub fn from_signed_tensor(data: &[f32], height: usize, width: usize) -> RgbImage {
    onnx_web_imageops::decoded_to_images(data, 1, height, width)
        .pop()
        .expect("one image")
}

/// The `width × height` region at `(left, top)` of `image`; parts outside the image come from
/// `fill` (same size as the region).
pub fn crop_with_fill(
    image: &RgbImage,
    left: i64,
    top: i64,
    width: u32,
    height: u32,
    fill: Option<&RgbImage>,
) -> RgbImage {
    let mut out = match fill {
        Some(fill) => fill.clone(),
        None => RgbImage::new(width, height),
    };
    paste(&mut out, image, -left, -top);
    out
}

/// The same for masks; outside the image is black (keep).
pub fn crop_gray(mask: &GrayImage, left: i64, top: i64, width: u32, height: u32) -> GrayImage {
    let mut out = GrayImage::new(width, height);
    for y in 0..height {
        let sy = top + i64::from(y);
        if sy < 0 || sy >= i64::from(mask.height()) {
            continue;
        }
        for x in 0..width {
            let sx = left + i64::from(x);
            if sx >= 0 && sx < i64::from(mask.width()) {
                out.put_pixel(x, y, *mask.get_pixel(sx as u32, sy as u32));
            }
        }
    }
    out
}

/// Image sides for the UNet: multiples of 64 pixels (latents in multiples of 8, which UNets with
/// three down-sampling levels need).
pub const UNET_ALIGN: u32 = 64;

/// `value` rounded up to a multiple of `multiple`.
pub fn align_up(value: u32, multiple: u32) -> u32 {
    value.div_ceil(multiple).max(1) * multiple
}

/// The image extended to `width × height` by repeating its last row and column.
pub fn pad_edge(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    RgbImage::from_fn(width, height, |x, y| {
        *image.get_pixel(x.min(w - 1), y.min(h - 1))
    })
}

/// The top-left `width × height` of an image.
pub fn crop_top_left(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    crop_with_fill(image, 0, 0, width, height, None)
}

/// Pastes `src` into `dst` with its top-left corner at `(left, top)`, clipped to `dst`.
pub fn paste(dst: &mut RgbImage, src: &RgbImage, left: i64, top: i64) {
    let (dw, dh) = (i64::from(dst.width()), i64::from(dst.height()));
    let x0 = left.max(0);
    let x1 = (left + i64::from(src.width())).min(dw);
    if x0 >= x1 {
        return;
    }
    for dy in top.max(0)..(top + i64::from(src.height())).min(dh) {
        let sy = (dy - top) as u32;
        for dx in x0..x1 {
            let sx = (dx - left) as u32;
            dst.put_pixel(dx as u32, dy as u32, *src.get_pixel(sx, sy));
        }
    }
}

/// Whether every mask pixel is black (nothing to regenerate).
pub fn mask_is_empty(mask: &GrayImage) -> bool {
    mask.as_raw().iter().all(|&v| v == 0)
}

/// Linear mix `a·(1 − t) + b·t` of two images of the same size.
pub fn mix(a: &RgbImage, b: &RgbImage, t: f32) -> RgbImage {
    RgbImage::from_fn(a.width(), a.height(), |x, y| {
        let pa = a.get_pixel(x, y).0;
        let pb = b.get_pixel(x, y).0;
        let m = |c: usize| {
            (f32::from(pa[c]) * (1.0 - t) + f32::from(pb[c]) * t)
                .round()
                .clamp(0.0, 255.0) as u8
        };
        Rgb([m(0), m(1), m(2)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_matches_pil() {
        let img = RgbImage::from_fn(3, 1, |x, _| match x {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([255, 255, 255]),
        });
        let l = luma(&img);
        // PIL: red → 76, green → 150, white → 255.
        assert_eq!(l.as_raw(), &vec![76, 150, 255]);
    }

    #[test]
    fn crop_paste_and_composite() {
        let img = RgbImage::from_fn(4, 4, |x, y| Rgb([x as u8, y as u8, 9]));
        let fill = RgbImage::from_pixel(3, 3, Rgb([200, 200, 200]));
        let crop = crop_with_fill(&img, -1, 2, 3, 3, Some(&fill));
        assert_eq!(crop.get_pixel(0, 0).0, [200, 200, 200]);
        assert_eq!(crop.get_pixel(1, 0).0, [0, 2, 9]);
        assert_eq!(crop.get_pixel(2, 1).0, [1, 3, 9]);
        assert_eq!(crop.get_pixel(1, 2).0, [200, 200, 200]);
    }

    #[test]
    fn tensors_round_trip() {
        let img = RgbImage::from_fn(5, 3, |x, y| Rgb([x as u8 * 40, y as u8 * 80, 17]));
        assert_eq!(from_unit_tensor(&to_unit_tensor(&img), 3, 5), img);
        assert_eq!(from_signed_tensor(&to_signed_tensor(&img), 3, 5), img);
    }
}
