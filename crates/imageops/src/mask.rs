//! Inpaint masks: onnx-web's mask filters (`api/onnx_web/image/mask_filter.py`), the upload
//! conversion (RGBA over black → L), fitting the mask to the source, and `expand_image` for
//! outpainting borders (`api/onnx_web/image/utils.py`).
//!
//! Masks are 8-bit grey (`GrayImage`): white (255) = regenerate, black (0) = keep, grey =
//! partial.

use image::{DynamicImage, GrayImage, Luma, Rgb, RgbImage, RgbaImage};

use crate::blend::{chop_multiply, chop_screen, composite, div255, multiply_by_mask, paste};
use crate::blur::gaussian_blur;
use crate::noise::NoiseSource;
use crate::resize::{contain, ResizeMethod};

/// A mask filter, by onnx-web's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskFilter {
    /// The mask pasted on a white canvas (new border area = white = replace).
    None,
    /// `None`, then 3 × (blur radius 5, multiply with the blur): softens and shrinks the white
    /// area.
    GaussianMultiply,
    /// `None`, then 3 × (blur radius 5, screen with the blur): softens and grows the white area.
    GaussianScreen,
}

impl MaskFilter {
    /// The names, in onnx-web's order (`/api/settings/masks`).
    pub const NAMES: [&'static str; 3] = ["none", "gaussian-multiply", "gaussian-screen"];

    /// onnx-web's default (`filter` parameter).
    pub const DEFAULT: Self = Self::None;

    /// The filter for a name of [`MaskFilter::NAMES`].
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Self::None,
            "gaussian-multiply" => Self::GaussianMultiply,
            "gaussian-screen" => Self::GaussianScreen,
            _ => return None,
        })
    }

    /// The filter's name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// onnx-web's Python function name (`mask_filter_none`), which goes into the output name
    /// hash of inpaint jobs.
    pub fn function_name(self) -> &'static str {
        match self {
            Self::None => "mask_filter_none",
            Self::GaussianMultiply => "mask_filter_gaussian_multiply",
            Self::GaussianScreen => "mask_filter_gaussian_screen",
        }
    }

    /// onnx-web's `mask_filter_*(mask, (width, height), origin)`: a white `width × height`
    /// canvas with `mask` pasted at `origin` (clipped), then the filter.
    pub fn apply(self, mask: &GrayImage, width: u32, height: u32, origin: (i32, i32)) -> GrayImage {
        let mut out = GrayImage::from_pixel(width, height, Luma([255]));
        paste(&mut out, mask, i64::from(origin.0), i64::from(origin.1));
        let combine: fn(u8, u8) -> u8 = match self {
            Self::None => return out,
            Self::GaussianMultiply => chop_multiply,
            Self::GaussianScreen => chop_screen,
        };
        for _ in 0..3 {
            let blur = gaussian_blur(&out, 5.0);
            for (o, &b) in out.iter_mut().zip(blur.as_raw()) {
                *o = combine(*o, b);
            }
        }
        out
    }
}

/// An uploaded RGBA mask as onnx-web reads it: alpha-composited over opaque black (transparent
/// = black = keep), then to grey with PIL's `convert("L")` weights (299/587/114).
pub fn rgba_mask_to_luma(mask: &RgbaImage) -> GrayImage {
    let raw = mask
        .as_raw()
        .chunks_exact(4)
        .map(|px| {
            let a = u32::from(px[3]);
            let over = |c: u8| u32::from(div255(u32::from(c) * a));
            luma(over(px[0]), over(px[1]), over(px[2]))
        })
        .collect();
    GrayImage::from_raw(mask.width(), mask.height(), raw).expect("same size")
}

/// [`rgba_mask_to_luma`] for a decoded image of any colour type (images without alpha are
/// opaque).
pub fn mask_from_image(mask: &DynamicImage) -> GrayImage {
    match mask {
        DynamicImage::ImageLuma8(grey) => grey.clone(),
        other => rgba_mask_to_luma(&other.to_rgba8()),
    }
}

/// PIL's `convert("L")`: `(R·19595 + G·38470 + B·7471 + 0x8000) >> 16`.
#[inline]
fn luma(r: u32, g: u32, b: u32) -> u8 {
    ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8
}

/// An RGB image to grey with PIL's `convert("L")` weights.
pub fn rgb_to_luma(img: &RgbImage) -> GrayImage {
    let raw = img
        .as_raw()
        .chunks_exact(3)
        .map(|px| luma(u32::from(px[0]), u32::from(px[1]), u32::from(px[2])))
        .collect();
    GrayImage::from_raw(img.width(), img.height(), raw).expect("same size")
}

/// Fits a mask to a `width × height` source as onnx-web's inpaint does (§6.5 step 1): resize
/// (bicubic, keeping the aspect ratio) to fit in `M × M` with `M = max(width, height)`, then crop
/// to `width × height` from the top-left; any uncovered part is black (keep).
pub fn fit_mask(mask: &GrayImage, width: u32, height: u32) -> GrayImage {
    let side = width.max(height);
    let fitted = contain(mask, side, side, ResizeMethod::Bicubic);
    if fitted.dimensions() == (width, height) {
        return fitted;
    }
    crate::blend::crop(&fitted, 0, 0, width, height)
}

/// Outpaint borders, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Border {
    pub left: u32,
    pub right: u32,
    pub top: u32,
    pub bottom: u32,
}

impl Border {
    /// The same border on every side.
    pub fn all(size: u32) -> Self {
        Self {
            left: size,
            right: size,
            top: size,
            bottom: size,
        }
    }

    /// Whether every side is 0 (onnx-web's `Border.isZero`).
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// The result of [`expand_image`].
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded {
    /// The expanded source: the original at `(left, top)`, masked areas replaced by the noise.
    pub source: RgbImage,
    /// The filtered mask at the expanded size (borders white).
    pub mask: GrayImage,
    /// The noise at the expanded size, already multiplied by the mask.
    pub noise: RgbImage,
}

/// onnx-web's `expand_image` (§6.5 step 2): grows `source` by `border` for outpainting.
/// `mask` must be the source's size (see [`fit_mask`]). With size `(left + w + right) × (top +
/// h + bottom)` and origin `(left, top)`:
/// - full source = canvas filled with `fill`, the source pasted at the origin;
/// - full mask = `filter.apply(mask, size, origin)` (the border is white);
/// - full noise = `noise.generate(source, size, origin, fill, seed)` × full mask;
/// - source = composite: full mask white → noise, black → full source.
///
/// With a zero border this still replaces the masked area by noise, as onnx-web does.
///
/// # Panics
/// If a side of the expanded size overflows `u32`.
pub fn expand_image(
    source: &RgbImage,
    mask: &GrayImage,
    border: Border,
    fill: Rgb<u8>,
    noise: NoiseSource,
    filter: MaskFilter,
    seed: u64,
) -> Expanded {
    let width = border.left + source.width() + border.right;
    let height = border.top + source.height() + border.bottom;
    let origin = (
        i32::try_from(border.left).expect("border fits in i32"),
        i32::try_from(border.top).expect("border fits in i32"),
    );
    let mut full_source = RgbImage::from_pixel(width, height, fill);
    paste(
        &mut full_source,
        source,
        i64::from(border.left),
        i64::from(border.top),
    );
    let full_mask = filter.apply(mask, width, height, origin);
    let mut full_noise = noise.generate(source, width, height, origin, fill, seed);
    multiply_by_mask(&mut full_noise, &full_mask).expect("same size");
    let source = composite(&full_source, &full_noise, &full_mask).expect("same size");
    Expanded {
        source,
        mask: full_mask,
        noise: full_noise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    fn white_count(mask: &GrayImage) -> usize {
        mask.as_raw().iter().filter(|&&v| v >= 128).count()
    }

    /// A 64×64 black mask with a white 24×24 square in the middle.
    fn square_mask() -> GrayImage {
        GrayImage::from_fn(64, 64, |x, y| {
            if (20..44).contains(&x) && (20..44).contains(&y) {
                Luma([255])
            } else {
                Luma([0])
            }
        })
    }

    #[test]
    fn names_in_onnx_web_order() {
        for name in MaskFilter::NAMES {
            assert_eq!(MaskFilter::from_name(name).unwrap().name(), name);
        }
        assert_eq!(MaskFilter::from_name("gaussian"), None);
        assert_eq!(MaskFilter::DEFAULT, MaskFilter::None);
        assert_eq!(
            MaskFilter::GaussianScreen.function_name(),
            "mask_filter_gaussian_screen"
        );
    }

    #[test]
    fn filters_shrink_and_grow_the_white_area() {
        let mask = square_mask();
        let none = MaskFilter::None.apply(&mask, 64, 64, (0, 0));
        assert_eq!(none, mask);
        let base = white_count(&none);
        assert_eq!(base, 24 * 24);
        let multiply = MaskFilter::GaussianMultiply.apply(&mask, 64, 64, (0, 0));
        let screen = MaskFilter::GaussianScreen.apply(&mask, 64, 64, (0, 0));
        assert!(white_count(&multiply) < base, "{}", white_count(&multiply));
        assert!(white_count(&screen) > base, "{}", white_count(&screen));
        // Softened: grey values appear.
        assert!(multiply.as_raw().iter().any(|&v| v > 0 && v < 255));
        assert!(screen.as_raw().iter().any(|&v| v > 0 && v < 255));
        // Multiply never brightens, screen never darkens.
        for ((&m, &s), &o) in multiply.iter().zip(screen.as_raw()).zip(mask.as_raw()) {
            assert!(m <= o && s >= o);
        }
    }

    #[test]
    fn filter_pastes_on_white() {
        let mask = GrayImage::new(4, 4); // all black = keep
        let out = MaskFilter::None.apply(&mask, 10, 8, (3, 2));
        assert_eq!(out.dimensions(), (10, 8));
        assert_eq!(out.get_pixel(0, 0)[0], 255);
        assert_eq!(out.get_pixel(3, 2)[0], 0);
        assert_eq!(out.get_pixel(6, 5)[0], 0);
        assert_eq!(out.get_pixel(7, 5)[0], 255);
        assert_eq!(white_count(&out), 80 - 16);
    }

    #[test]
    fn rgba_masks_composite_over_black() {
        let mask = RgbaImage::from_raw(
            4,
            1,
            vec![
                255, 255, 255, 255, // opaque white → 255
                255, 255, 255, 0, // transparent → black
                255, 255, 255, 128, // half → 128
                255, 0, 0, 255, // red → 76 (0.299 · 255)
            ],
        )
        .unwrap();
        assert_eq!(rgba_mask_to_luma(&mask).as_raw(), &vec![255, 0, 128, 76]);
        let dynamic = DynamicImage::ImageRgba8(mask.clone());
        assert_eq!(mask_from_image(&dynamic), rgba_mask_to_luma(&mask));
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_pixel(2, 2, Rgb([0, 255, 0])));
        assert!(mask_from_image(&rgb).pixels().all(|p| p[0] == 150));
        let _ = Rgba([0u8; 4]);
    }

    #[test]
    fn fit_mask_contains_then_crops() {
        // The GUI's 512×512 mask on a 768×512 source: scaled to 768×768, cropped to 768×512.
        let mask = GrayImage::from_fn(64, 64, |x, _| Luma([if x < 32 { 0 } else { 255 }]));
        let fitted = fit_mask(&mask, 96, 64);
        assert_eq!(fitted.dimensions(), (96, 64));
        assert_eq!(fitted.get_pixel(10, 10)[0], 0);
        assert_eq!(fitted.get_pixel(90, 60)[0], 255);
        // A wide mask on a square source: the lower part is uncovered → black.
        let wide = GrayImage::from_pixel(64, 32, Luma([255]));
        let fitted = fit_mask(&wide, 64, 64);
        assert_eq!(fitted.dimensions(), (64, 64));
        assert_eq!(fitted.get_pixel(5, 5)[0], 255);
        assert_eq!(fitted.get_pixel(5, 40)[0], 0);
        // Same size: unchanged.
        assert_eq!(fit_mask(&mask, 64, 64), mask);
    }

    #[test]
    fn expand_image_sizes_and_layers() {
        let source = RgbImage::from_pixel(20, 10, Rgb([10, 20, 30]));
        let mask = GrayImage::new(20, 10); // keep everything inside
        let border = Border {
            left: 3,
            right: 5,
            top: 7,
            bottom: 2,
        };
        let fill = Rgb([0, 0, 0]);
        for noise in NoiseSource::NAMES.map(|n| NoiseSource::from_name(n).unwrap()) {
            for filter in [MaskFilter::None, MaskFilter::GaussianMultiply] {
                let out = expand_image(&source, &mask, border, fill, noise, filter, 1);
                assert_eq!(out.source.dimensions(), (3 + 20 + 5, 7 + 10 + 2));
                assert_eq!(out.mask.dimensions(), (28, 19));
                assert_eq!(out.noise.dimensions(), (28, 19));
            }
        }
        let out = expand_image(
            &source,
            &mask,
            border,
            fill,
            NoiseSource::FillMask,
            MaskFilter::None,
            1,
        );
        // Inside: the source (mask black); border: white mask, noise = fill colour.
        assert_eq!(out.source.get_pixel(3, 7).0, [10, 20, 30]);
        assert_eq!(out.source.get_pixel(22, 16).0, [10, 20, 30]);
        assert_eq!(out.mask.get_pixel(0, 0)[0], 255);
        assert_eq!(out.mask.get_pixel(3, 7)[0], 0);
        assert_eq!(out.noise.get_pixel(3, 7).0, [0, 0, 0], "noise × black mask");
        let out = expand_image(
            &source,
            &mask,
            border,
            Rgb([200, 100, 50]),
            NoiseSource::FillMask,
            MaskFilter::None,
            1,
        );
        assert_eq!(out.source.get_pixel(0, 0).0, [200, 100, 50]);
        assert_eq!(out.source.get_pixel(27, 18).0, [200, 100, 50]);
        // Histogram noise in the border draws from the source's colours.
        let out = expand_image(
            &source,
            &mask,
            border,
            fill,
            NoiseSource::Histogram,
            MaskFilter::None,
            9,
        );
        assert_eq!(out.source.get_pixel(0, 0).0, [10, 20, 30]);
        assert!(Border::default().is_zero() && !border.is_zero());
        assert_eq!(Border::all(4).bottom, 4);
    }

    #[test]
    fn expand_image_replaces_masked_inside_areas() {
        let source = RgbImage::from_pixel(64, 64, Rgb([10, 20, 30]));
        let out = expand_image(
            &source,
            &square_mask(),
            Border::default(),
            Rgb([255, 255, 255]),
            NoiseSource::FillMask,
            MaskFilter::None,
            0,
        );
        assert_eq!(out.source.dimensions(), (64, 64));
        assert_eq!(out.source.get_pixel(30, 30).0, [255, 255, 255]);
        assert_eq!(out.source.get_pixel(5, 5).0, [10, 20, 30]);
    }
}
