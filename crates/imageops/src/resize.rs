//! Resampling: onnx-web's resize methods (PIL's `Image.resize`, bit-exact for grey and RGB),
//! scaling by a factor, and PIL's `ImageOps.contain`.

use image::Pixel;

use crate::blend::Image8;
use crate::resample::{nearest, resample, Filter};

/// A resampling filter, by onnx-web's names (`highresMethod`, `upscale-simple`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResizeMethod {
    /// Nearest neighbour.
    Nearest,
    /// Linear (triangle) filter.
    Bilinear,
    /// Cubic filter (Catmull-Rom, a = −0.5, as PIL's BICUBIC).
    Bicubic,
    /// Lanczos with a = 3 (PIL's LANCZOS).
    Lanczos,
}

impl ResizeMethod {
    /// The names accepted by [`ResizeMethod::from_name`].
    pub const NAMES: [&'static str; 4] = ["bilinear", "bicubic", "lanczos", "nearest"];

    /// The method for a name (`bilinear`, `bicubic`, `lanczos`, `nearest`), case-sensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "bilinear" => Self::Bilinear,
            "bicubic" => Self::Bicubic,
            "lanczos" => Self::Lanczos,
            "nearest" => Self::Nearest,
            _ => return None,
        })
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nearest => "nearest",
            Self::Bilinear => "bilinear",
            Self::Bicubic => "bicubic",
            Self::Lanczos => "lanczos",
        }
    }

    fn filter(self) -> Option<Filter> {
        match self {
            Self::Nearest => None,
            Self::Bilinear => Some(Filter::Bilinear),
            Self::Bicubic => Some(Filter::Bicubic),
            Self::Lanczos => Some(Filter::Lanczos),
        }
    }
}

/// Resizes to exactly `width × height` as PIL's `Image.resize(size, method)` does (the filters
/// widen when shrinking; 22-bit fixed-point coefficients; horizontal pass first, clipped to
/// 8 bits). Bit-exact with Pillow for grey and RGB images; RGBA is resized without PIL's alpha
/// premultiplication. Returns a copy when the size is unchanged; an empty image for a zero side.
pub fn resize<P: Pixel<Subpixel = u8> + 'static>(
    img: &Image8<P>,
    width: u32,
    height: u32,
    method: ResizeMethod,
) -> Image8<P> {
    if img.dimensions() == (width, height) {
        return img.clone();
    }
    if width == 0 || height == 0 || img.width() == 0 || img.height() == 0 {
        return Image8::new(width, height);
    }
    let channels = usize::from(P::CHANNEL_COUNT);
    let from = (img.width() as usize, img.height() as usize);
    let to = (width as usize, height as usize);
    let data = match method.filter() {
        Some(filter) => resample(img.as_raw(), channels, from, to, filter),
        None => nearest(img.as_raw(), channels, from, to),
    };
    Image8::from_raw(width, height, data).expect("buffer size matches")
}

/// The size of `width × height` scaled by `factor`, each side rounded to the nearest integer and
/// at least 1 (a factor ≤ 0 or NaN gives the size unchanged).
pub fn scaled_size(width: u32, height: u32, factor: f64) -> (u32, u32) {
    if factor.is_nan() || factor <= 0.0 {
        return (width, height);
    }
    let side = |v: u32| {
        ((f64::from(v) * factor)
            .round()
            .clamp(1.0, f64::from(u32::MAX))) as u32
    };
    (side(width), side(height))
}

/// Resizes by `factor` ([`scaled_size`]): `scale_by(img, 2.0, Lanczos)` is onnx-web's
/// `upscale-simple` / highres `lanczos` step.
pub fn scale_by<P: Pixel<Subpixel = u8> + 'static>(
    img: &Image8<P>,
    factor: f64,
    method: ResizeMethod,
) -> Image8<P> {
    let (w, h) = scaled_size(img.width(), img.height(), factor);
    resize(img, w, h, method)
}

/// The largest size with the aspect ratio of `width × height` that fits in `max_w × max_h`, as
/// PIL's `ImageOps.contain` computes it (Python's half-to-even `round`).
pub fn contain_size(width: u32, height: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    if width == 0 || height == 0 || max_h == 0 {
        return (max_w, max_h);
    }
    let im_ratio = f64::from(width) / f64::from(height);
    let dest_ratio = f64::from(max_w) / f64::from(max_h);
    if im_ratio == dest_ratio {
        return (max_w, max_h);
    }
    if im_ratio > dest_ratio {
        let new_h = (f64::from(height) / f64::from(width) * f64::from(max_w)).round_ties_even();
        (max_w, new_h as u32)
    } else {
        let new_w = (f64::from(width) / f64::from(height) * f64::from(max_h)).round_ties_even();
        (new_w as u32, max_h)
    }
}

/// PIL's `ImageOps.contain(img, (max_w, max_h), method)`: resized, keeping the aspect ratio, to
/// the largest size that fits (up or down).
pub fn contain<P: Pixel<Subpixel = u8> + 'static>(
    img: &Image8<P>,
    max_w: u32,
    max_h: u32,
    method: ResizeMethod,
) -> Image8<P> {
    let (w, h) = contain_size(img.width(), img.height(), max_w, max_h);
    resize(img, w, h, method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Rgb, RgbImage};

    #[test]
    fn names_round_trip() {
        for name in ResizeMethod::NAMES {
            assert_eq!(ResizeMethod::from_name(name).unwrap().name(), name);
        }
        assert_eq!(ResizeMethod::from_name("Lanczos"), None);
        assert_eq!(ResizeMethod::from_name("upscale"), None);
    }

    #[test]
    fn resize_gives_the_requested_size() {
        let img = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8 * 6, y as u8 * 8, 100]));
        for method in ResizeMethod::NAMES.map(|n| ResizeMethod::from_name(n).unwrap()) {
            assert_eq!(resize(&img, 80, 60, method).dimensions(), (80, 60));
            assert_eq!(resize(&img, 17, 9, method).dimensions(), (17, 9));
            assert_eq!(scale_by(&img, 2.0, method).dimensions(), (80, 60));
            assert_eq!(scale_by(&img, 0.5, method).dimensions(), (20, 15));
            assert_eq!(scale_by(&img, 1.5, method).dimensions(), (60, 45));
            assert_eq!(resize(&img, 40, 30, method), img);
        }
        // A flat image stays flat, with every filter.
        let flat = RgbImage::from_pixel(16, 16, Rgb([200, 10, 77]));
        for method in [
            ResizeMethod::Bicubic,
            ResizeMethod::Lanczos,
            ResizeMethod::Bilinear,
        ] {
            let up = resize(&flat, 37, 23, method);
            assert!(up.pixels().all(|p| p.0 == [200, 10, 77]), "{method:?}");
        }
        let nearest = resize(&img, 80, 60, ResizeMethod::Nearest);
        assert_eq!(nearest.get_pixel(3, 5).0, img.get_pixel(1, 2).0);
        assert_eq!(
            resize(&img, 0, 5, ResizeMethod::Bilinear).dimensions(),
            (0, 5)
        );
        let mask = GrayImage::new(10, 10);
        assert_eq!(
            scale_by(&mask, 3.0, ResizeMethod::Nearest).dimensions(),
            (30, 30)
        );
    }

    #[test]
    fn contain_like_pil() {
        assert_eq!(contain_size(512, 512, 768, 768), (768, 768));
        assert_eq!(contain_size(512, 256, 768, 768), (768, 384));
        assert_eq!(contain_size(256, 512, 768, 768), (384, 768));
        assert_eq!(contain_size(300, 200, 100, 100), (100, 67));
        // 5/3·3 = 5 exactly; 3/7 · 10 = 4.2857 → 4.
        assert_eq!(contain_size(5, 3, 10, 3), (5, 3));
        assert_eq!(contain_size(7, 3, 10, 10), (10, 4));
        // Half-way rounds to even: 10/4 · 3 = 7.5 → 8; 2/4·5 = 2.5 → 2.
        assert_eq!(contain_size(10, 4, 100, 3), (8, 3));
        assert_eq!(contain_size(4, 2, 5, 5), (5, 2));
        let img = RgbImage::new(512, 256);
        assert_eq!(
            contain(&img, 64, 64, ResizeMethod::Bicubic).dimensions(),
            (64, 32)
        );
    }
}
