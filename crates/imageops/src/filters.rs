//! Source filters for img2img and ControlNet (`api/onnx_web/image/source_filter.py`, spec
//! §3.3). The ones that need no model run here; the model-based ones are named, and
//! [`SourceFilter::apply`] refuses them with [`ImageError::FilterNeedsModel`] so that the
//! pipelines run their ONNX model instead.

use image::{GrayImage, RgbImage};

use crate::blend::blend_linear;
use crate::blur::gaussian_blur;
use crate::error::ImageError;
use crate::noise::NoiseSource;

/// A source filter, by onnx-web's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFilter {
    /// Canny edges (low 100, high 200), as RGB.
    Canny,
    /// Depth map (a depth-estimation model), as 3 equal channels.
    Depth,
    /// MediaPipe face mesh annotation.
    Face,
    /// Gaussian blur, radius 3.
    Gaussian,
    /// HED soft edges.
    Hed,
    /// M-LSD straight lines.
    Mlsd,
    /// 50% blend with histogram noise.
    Noise,
    /// Identity.
    None,
    /// Normal map from DPT depth.
    Normal,
    /// OpenPose skeleton.
    Openpose,
    /// UperNet semantic segmentation with the ADE20k palette.
    Segment,
    /// HED with `scribble=True`.
    Scribble,
}

impl SourceFilter {
    /// The names, in onnx-web's order (`/api/settings/filters`, `load.py`).
    pub const NAMES: [&'static str; 12] = [
        "canny", "depth", "face", "gaussian", "hed", "mlsd", "noise", "none", "normal", "openpose",
        "segment", "scribble",
    ];

    const ALL: [Self; 12] = [
        Self::Canny,
        Self::Depth,
        Self::Face,
        Self::Gaussian,
        Self::Hed,
        Self::Mlsd,
        Self::Noise,
        Self::None,
        Self::Normal,
        Self::Openpose,
        Self::Segment,
        Self::Scribble,
    ];

    /// The filter for a name of [`SourceFilter::NAMES`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|&n| n == name)
            .map(|i| Self::ALL[i])
    }

    /// The filter's name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The model a filter needs (what onnx-web loads), or `None` for the filters that run here
    /// (`canny`, `gaussian`, `noise`, `none`).
    pub fn model(self) -> Option<&'static str> {
        match self {
            Self::Canny | Self::Gaussian | Self::Noise | Self::None => None,
            Self::Depth => Some("a depth-estimation model (DPT, transformers' default)"),
            Self::Face => Some("a MediaPipe face mesh model"),
            Self::Hed | Self::Scribble => Some("the HED annotator (lllyasviel/Annotators)"),
            Self::Mlsd => Some("the M-LSD line detector (lllyasviel/ControlNet)"),
            Self::Normal => {
                Some("DPT depth (Intel/dpt-hybrid-midas, models/filter/dpt-hybrid-midas)")
            }
            Self::Openpose => Some("the OpenPose detector (lllyasviel/ControlNet)"),
            Self::Segment => Some(
                "UperNet ConvNeXt-small (openmmlab/upernet-convnext-small, \
                 models/filter/upernet-convnext-small)",
            ),
        }
    }

    /// Runs a filter that needs no model; `seed` seeds the `noise` filter. The others return
    /// [`ImageError::FilterNeedsModel`].
    pub fn apply(self, source: &RgbImage, seed: u64) -> Result<RgbImage, ImageError> {
        match self {
            Self::None => Ok(source.clone()),
            Self::Gaussian => Ok(gaussian_blur(source, 3.0)),
            Self::Noise => {
                let (w, h) = source.dimensions();
                let noise = NoiseSource::Histogram.generate(
                    source,
                    w,
                    h,
                    (0, 0),
                    image::Rgb([0, 0, 0]),
                    seed,
                );
                blend_linear(source, &noise, 0.5)
            }
            Self::Canny => Ok(grey_to_rgb(&canny(source, 100.0, 200.0))),
            other => Err(ImageError::FilterNeedsModel {
                filter: other.name(),
                model: other.model().unwrap_or("a model"),
            }),
        }
    }
}

fn grey_to_rgb(img: &GrayImage) -> RgbImage {
    let raw = img.as_raw().iter().flat_map(|&v| [v, v, v]).collect();
    RgbImage::from_raw(img.width(), img.height(), raw).expect("same size")
}

/// Canny edge detection as OpenCV's `cv2.Canny(image, low, high)` on a colour image: 3×3 Sobel
/// per channel with replicated borders, the channel with the largest L1 magnitude
/// `|dx| + |dy|` per pixel, non-maximum suppression in 4 directions (OpenCV's tan 22.5°
/// sectors), then hysteresis (8-connected): pixels above `high` seed edges that grow through
/// pixels above `low`. Edges are 255, the rest 0.
pub fn canny(source: &RgbImage, low: f32, high: f32) -> GrayImage {
    let (w, h) = (source.width() as usize, source.height() as usize);
    if w == 0 || h == 0 {
        return GrayImage::new(source.width(), source.height());
    }
    let low = low.floor() as i32;
    let high = high.floor() as i32;
    let raw = source.as_raw();
    let px = |x: isize, y: isize, c: usize| -> i32 {
        let x = x.clamp(0, w as isize - 1) as usize;
        let y = y.clamp(0, h as isize - 1) as usize;
        i32::from(raw[(y * w + x) * 3 + c])
    };
    // Gradients of the strongest channel, and magnitudes in a buffer with a zero border.
    let (mw, mh) = (w + 2, h + 2);
    let mut mag = vec![0i32; mw * mh];
    let mut dxs = vec![0i32; w * h];
    let mut dys = vec![0i32; w * h];
    for y in 0..h {
        let yi = y as isize;
        for x in 0..w {
            let xi = x as isize;
            let (mut best, mut bdx, mut bdy) = (-1, 0, 0);
            for c in 0..3 {
                let dx = (px(xi + 1, yi - 1, c) - px(xi - 1, yi - 1, c))
                    + 2 * (px(xi + 1, yi, c) - px(xi - 1, yi, c))
                    + (px(xi + 1, yi + 1, c) - px(xi - 1, yi + 1, c));
                let dy = (px(xi - 1, yi + 1, c) - px(xi - 1, yi - 1, c))
                    + 2 * (px(xi, yi + 1, c) - px(xi, yi - 1, c))
                    + (px(xi + 1, yi + 1, c) - px(xi + 1, yi - 1, c));
                let m = dx.abs() + dy.abs();
                if m > best {
                    (best, bdx, bdy) = (m, dx, dy);
                }
            }
            mag[(y + 1) * mw + x + 1] = best;
            dxs[y * w + x] = bdx;
            dys[y * w + x] = bdy;
        }
    }
    // Non-maximum suppression: 2 = strong, 1 = weak candidate, 0 = none.
    const SHIFT: i32 = 15;
    const TG22: i64 = (0.414_213_562_373_095_f64 * (1 << SHIFT) as f64 + 0.5) as i64;
    let mut state = vec![0u8; w * h];
    let mut stack = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let at = |xx: usize, yy: usize| mag[yy * mw + xx];
            let (cx, cy) = (x + 1, y + 1);
            let m = at(cx, cy);
            if m <= low {
                continue;
            }
            let (xs, ys) = (dxs[y * w + x], dys[y * w + x]);
            let ax = i64::from(xs.abs());
            let ay = i64::from(ys.abs()) << SHIFT;
            let tg22x = ax * TG22;
            let is_max = if ay < tg22x {
                m > at(cx - 1, cy) && m >= at(cx + 1, cy)
            } else {
                let tg67x = tg22x + (ax << (SHIFT + 1));
                if ay > tg67x {
                    m > at(cx, cy - 1) && m >= at(cx, cy + 1)
                } else {
                    let s: isize = if (xs ^ ys) < 0 { -1 } else { 1 };
                    m > at((cx as isize - s) as usize, cy - 1)
                        && m > at((cx as isize + s) as usize, cy + 1)
                }
            };
            if is_max {
                if m > high {
                    state[y * w + x] = 2;
                    stack.push((x, y));
                } else {
                    state[y * w + x] = 1;
                }
            }
        }
    }
    // Hysteresis.
    while let Some((x, y)) = stack.pop() {
        for ny in y.saturating_sub(1)..(y + 2).min(h) {
            for nx in x.saturating_sub(1)..(x + 2).min(w) {
                if state[ny * w + nx] == 1 {
                    state[ny * w + nx] = 2;
                    stack.push((nx, ny));
                }
            }
        }
    }
    let out = state
        .iter()
        .map(|&s| if s == 2 { 255 } else { 0 })
        .collect();
    GrayImage::from_raw(source.width(), source.height(), out).expect("same size")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn names_in_onnx_web_order() {
        for name in SourceFilter::NAMES {
            assert_eq!(SourceFilter::from_name(name).unwrap().name(), name);
        }
        assert_eq!(SourceFilter::from_name("blur"), None);
        let local: Vec<_> = SourceFilter::NAMES
            .iter()
            .filter(|n| SourceFilter::from_name(n).unwrap().model().is_none())
            .collect();
        assert_eq!(local, [&"canny", &"gaussian", &"noise", &"none"]);
    }

    #[test]
    fn model_filters_are_refused_with_the_model() {
        let img = RgbImage::new(8, 8);
        let err = SourceFilter::Depth.apply(&img, 0).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::FilterNeedsModel {
                    filter: "depth",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("depth source filter needs a model"),
            "{err}"
        );
        for name in [
            "face", "hed", "mlsd", "normal", "openpose", "segment", "scribble",
        ] {
            let f = SourceFilter::from_name(name).unwrap();
            assert!(f.apply(&img, 0).is_err(), "{name}");
        }
    }

    #[test]
    fn local_filters() {
        let img = RgbImage::from_fn(16, 16, |x, _| Rgb([if x < 8 { 0 } else { 255 }, 50, 9]));
        assert_eq!(SourceFilter::None.apply(&img, 0).unwrap(), img);
        let blurred = SourceFilter::Gaussian.apply(&img, 0).unwrap();
        assert_eq!(blurred.dimensions(), (16, 16));
        let edge = blurred.get_pixel(7, 4)[0];
        assert!(edge > 0 && edge < 255, "{edge}");
        assert_eq!(blurred.get_pixel(4, 4)[1], 50);
        // Noise: halfway between the source and histogram noise (of its own colours).
        let noisy = SourceFilter::Noise.apply(&img, 3).unwrap();
        for (n, s) in noisy.pixels().zip(img.pixels()) {
            assert!([0, 127, 255].contains(&n[0]), "{n:?}");
            assert!(n[0].abs_diff(s[0]) <= 128);
            assert_eq!(n[1], 50);
        }
        assert_ne!(noisy, SourceFilter::Noise.apply(&img, 4).unwrap());
    }

    #[test]
    fn canny_finds_the_edges_of_a_white_square() {
        let img = RgbImage::from_fn(64, 64, |x, y| {
            if (16..48).contains(&x) && (16..48).contains(&y) {
                Rgb([255, 255, 255])
            } else {
                Rgb([0, 0, 0])
            }
        });
        let edges = canny(&img, 100.0, 200.0);
        let on = |x: u32, y: u32| edges.get_pixel(x, y)[0] == 255;
        // Nothing far from the border of the square, inside or out.
        for y in 0..64 {
            for x in 0..64 {
                let near = |v: u32| (14..=17).contains(&v) || (46..=49).contains(&v);
                let in_band =
                    (near(x) && (14..=49).contains(&y)) || (near(y) && (14..=49).contains(&x));
                if !in_band {
                    assert!(!on(x, y), "edge at ({x}, {y})");
                }
            }
        }
        // Every side has an edge along its whole length (one pixel wide, next to the step).
        for t in 18..46 {
            assert!((15..=16).any(|x| on(x, t)), "left side at y = {t}");
            assert!((47..=48).any(|x| on(x, t)), "right side at y = {t}");
            assert!((15..=16).any(|y| on(t, y)), "top side at x = {t}");
            assert!((47..=48).any(|y| on(t, y)), "bottom side at x = {t}");
            let left = (14..=17).filter(|&x| on(x, t)).count();
            assert_eq!(left, 1, "thin edge at y = {t}");
        }
        // The filter returns it as RGB.
        let rgb = SourceFilter::Canny.apply(&img, 0).unwrap();
        assert_eq!(rgb.get_pixel(30, 30).0, [0, 0, 0]);
        assert_eq!(rgb.dimensions(), (64, 64));
        // A flat image has no edges; a weak step (below low) neither.
        assert!(canny(&RgbImage::new(9, 9), 100.0, 200.0)
            .pixels()
            .all(|p| p[0] == 0));
        let weak = RgbImage::from_fn(16, 16, |x, _| Rgb([if x < 8 { 100 } else { 110 }; 3]));
        assert!(canny(&weak, 100.0, 200.0).pixels().all(|p| p[0] == 0));
    }
}
