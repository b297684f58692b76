//! onnx-web's noise sources (`api/onnx_web/image/noise_source.py`): what fills new outpaint
//! borders and tile margins. onnx-web's are unseeded; ours take a seed and are reproducible.

use image::{Rgb, RgbImage};
use rand::{RngCore, SeedableRng};
use rand_pcg::Pcg64;

use crate::blend::paste;
use crate::blur::gaussian_blur;

/// A noise source, by onnx-web's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoiseSource {
    /// The canvas filled with the fill colour, the source pasted at the origin.
    FillEdge,
    /// The canvas filled with the fill colour; the source is not pasted.
    FillMask,
    /// Uniform noise, the source pasted at the origin, then 3 rounds of Gaussian blur (radius 5).
    Gaussian,
    /// Per-channel random pixels drawn from the source's R, G and B histograms (the default).
    Histogram,
    /// Per-channel normal noise, mean 128, standard deviation 32.
    Normal,
    /// Per-channel uniform noise in [0, 256).
    Uniform,
}

impl NoiseSource {
    /// The names, in onnx-web's order (`/api/settings/noises`).
    pub const NAMES: [&'static str; 6] = [
        "fill-edge",
        "fill-mask",
        "gaussian",
        "histogram",
        "normal",
        "uniform",
    ];

    /// onnx-web's default (`noise` parameter).
    pub const DEFAULT: Self = Self::Histogram;

    const ALL: [Self; 6] = [
        Self::FillEdge,
        Self::FillMask,
        Self::Gaussian,
        Self::Histogram,
        Self::Normal,
        Self::Uniform,
    ];

    /// The source for a name of [`NoiseSource::NAMES`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|&n| n == name)
            .map(|i| Self::ALL[i])
    }

    /// The source's name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// onnx-web's Python function name (`noise_source_histogram`), which goes into the output
    /// name hash of inpaint jobs.
    pub fn function_name(self) -> &'static str {
        match self {
            Self::FillEdge => "noise_source_fill_edge",
            Self::FillMask => "noise_source_fill_mask",
            Self::Gaussian => "noise_source_gaussian",
            Self::Histogram => "noise_source_histogram",
            Self::Normal => "noise_source_normal",
            Self::Uniform => "noise_source_uniform",
        }
    }

    /// A `width × height` noise image made from `source`, as onnx-web's
    /// `noise_source_*(source, (width, height), origin, fill=fill)`. `origin` (where the source
    /// is pasted by `fill-edge` and `gaussian`) may be negative; the pasted source is clipped.
    /// `seed` makes the random sources reproducible.
    pub fn generate(
        self,
        source: &RgbImage,
        width: u32,
        height: u32,
        origin: (i32, i32),
        fill: Rgb<u8>,
        seed: u64,
    ) -> RgbImage {
        let mut rng = Pcg64::seed_from_u64(seed);
        let (ox, oy) = (i64::from(origin.0), i64::from(origin.1));
        match self {
            Self::FillEdge => {
                let mut out = RgbImage::from_pixel(width, height, fill);
                paste(&mut out, source, ox, oy);
                out
            }
            Self::FillMask => RgbImage::from_pixel(width, height, fill),
            Self::Gaussian => {
                let mut out = uniform(width, height, &mut rng);
                paste(&mut out, source, ox, oy);
                for _ in 0..3 {
                    out = gaussian_blur(&out, 5.0);
                }
                out
            }
            Self::Histogram => histogram(source, width, height, &mut rng),
            Self::Normal => normal(width, height, &mut rng),
            Self::Uniform => uniform(width, height, &mut rng),
        }
    }
}

fn uniform(width: u32, height: u32, rng: &mut Pcg64) -> RgbImage {
    let mut out = RgbImage::new(width, height);
    // Every byte uniform in 0..=255, as `int(uniform(0, 256))`.
    rng.fill_bytes(&mut out);
    out
}

/// Standard normal pairs by the Box-Muller transform, in f64.
fn normal_pair(rng: &mut Pcg64) -> (f64, f64) {
    let unit = |r: &mut Pcg64| (r.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    let u1 = 1.0 - unit(rng); // (0, 1]
    let u2 = unit(rng);
    let radius = (-2.0 * u1.ln()).sqrt();
    let angle = std::f64::consts::TAU * u2;
    (radius * angle.cos(), radius * angle.sin())
}

fn normal(width: u32, height: u32, rng: &mut Pcg64) -> RgbImage {
    let mut out = RgbImage::new(width, height);
    // `int(normal(128, 32))` truncates toward zero; PIL's putpixel clips to 0..=255.
    let byte = |z: f64| (128.0 + 32.0 * z).trunc().clamp(0.0, 255.0) as u8;
    let mut pairs = out.chunks_exact_mut(2);
    for pair in &mut pairs {
        let (a, b) = normal_pair(rng);
        pair[0] = byte(a);
        pair[1] = byte(b);
    }
    for last in pairs.into_remainder() {
        *last = byte(normal_pair(rng).0);
    }
    out
}

/// Per-channel draws from the source's histograms. A source without pixels has no histogram:
/// uniform noise then (onnx-web fails).
fn histogram(source: &RgbImage, width: u32, height: u32, rng: &mut Pcg64) -> RgbImage {
    let total = u64::from(source.width()) * u64::from(source.height());
    if total == 0 {
        return uniform(width, height, rng);
    }
    // Cumulative counts per channel: cdf[c][v] = number of pixels with channel c <= v.
    let mut cdf = [[0u64; 256]; 3];
    for px in source.as_raw().chunks_exact(3) {
        for c in 0..3 {
            cdf[c][usize::from(px[c])] += 1;
        }
    }
    for hist in &mut cdf {
        for v in 1..256 {
            hist[v] += hist[v - 1];
        }
    }
    let mut out = RgbImage::new(width, height);
    for px in out.chunks_exact_mut(3) {
        for (c, hist) in cdf.iter().enumerate() {
            // u uniform in [0, total): the first value whose cumulative count exceeds u, so a
            // value with a zero count is never drawn.
            let u = ((u128::from(rng.next_u64()) * u128::from(total)) >> 64) as u64;
            px[c] = hist.partition_point(|&count| count <= u) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> RgbImage {
        RgbImage::from_fn(8, 6, |x, y| {
            if (x + y) % 3 == 0 {
                Rgb([10, 100, 200])
            } else {
                Rgb([30, 101, 250])
            }
        })
    }

    #[test]
    fn names_in_onnx_web_order() {
        for (i, name) in NoiseSource::NAMES.iter().enumerate() {
            let source = NoiseSource::from_name(name).unwrap();
            assert_eq!(source.name(), *name);
            assert_eq!(source, NoiseSource::ALL[i]);
            assert!(source.function_name().starts_with("noise_source_"));
        }
        assert_eq!(NoiseSource::from_name("fill"), None);
        assert_eq!(NoiseSource::DEFAULT.name(), "histogram");
        assert_eq!(
            NoiseSource::FillEdge.function_name(),
            "noise_source_fill_edge"
        );
    }

    #[test]
    fn every_source_makes_the_requested_size_and_is_seeded() {
        let src = source();
        let white = Rgb([255, 255, 255]);
        for name in NoiseSource::NAMES {
            let noise = NoiseSource::from_name(name).unwrap();
            let a = noise.generate(&src, 20, 13, (3, 4), white, 7);
            assert_eq!(a.dimensions(), (20, 13), "{name}");
            let b = noise.generate(&src, 20, 13, (3, 4), white, 7);
            assert_eq!(a, b, "{name}: same seed, same noise");
            if matches!(name, "histogram" | "normal" | "uniform" | "gaussian") {
                let c = noise.generate(&src, 20, 13, (3, 4), white, 8);
                assert_ne!(a, c, "{name}: another seed, other noise");
            }
        }
    }

    #[test]
    fn fill_edge_pastes_the_source_at_the_origin() {
        let src = source();
        let fill = Rgb([1, 2, 3]);
        let out = NoiseSource::FillEdge.generate(&src, 20, 10, (5, 2), fill, 0);
        assert_eq!(out.get_pixel(0, 0), &fill);
        assert_eq!(out.get_pixel(4, 2), &fill);
        assert_eq!(out.get_pixel(5, 2), src.get_pixel(0, 0));
        assert_eq!(out.get_pixel(12, 7), src.get_pixel(7, 5));
        assert_eq!(out.get_pixel(13, 7), &fill);
        assert_eq!(out.get_pixel(12, 8), &fill);
        // Negative origins clip.
        let out = NoiseSource::FillEdge.generate(&src, 4, 4, (-2, -1), fill, 0);
        assert_eq!(out.get_pixel(0, 0), src.get_pixel(2, 1));
        let mask = NoiseSource::FillMask.generate(&src, 9, 9, (0, 0), fill, 0);
        assert!(mask.pixels().all(|p| *p == fill));
    }

    #[test]
    fn histogram_draws_only_source_colours() {
        let src = source();
        let out = NoiseSource::Histogram.generate(&src, 64, 64, (0, 0), Rgb([0, 0, 0]), 3);
        let mut seen = [[false; 256]; 3];
        for px in out.pixels() {
            assert!([10, 30].contains(&px[0]), "{px:?}");
            assert!([100, 101].contains(&px[1]), "{px:?}");
            assert!([200, 250].contains(&px[2]), "{px:?}");
            for c in 0..3 {
                seen[c][usize::from(px[c])] = true;
            }
        }
        assert!(seen[0][10] && seen[0][30] && seen[1][100] && seen[1][101]);
        // Proportions follow the histogram: 16 of 48 source pixels are the first colour.
        let first = out.pixels().filter(|p| p[0] == 10).count() as f64 / 4096.0;
        assert!((first - 16.0 / 48.0).abs() < 0.03, "{first}");
        // An empty source still gives noise.
        let empty = RgbImage::new(0, 0);
        let out = NoiseSource::Histogram.generate(&empty, 4, 4, (0, 0), Rgb([0, 0, 0]), 3);
        assert_eq!(out.dimensions(), (4, 4));
    }

    #[test]
    fn normal_and_uniform_statistics() {
        let src = source();
        let n = NoiseSource::Normal.generate(&src, 128, 128, (0, 0), Rgb([0, 0, 0]), 11);
        let values: Vec<f64> = n.as_raw().iter().map(|&v| f64::from(v)).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let sd =
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        // Truncation toward zero lowers the mean by about 0.5.
        assert!((mean - 127.5).abs() < 1.0, "{mean}");
        assert!((sd - 32.0).abs() < 1.0, "{sd}");
        let u = NoiseSource::Uniform.generate(&src, 128, 128, (0, 0), Rgb([0, 0, 0]), 11);
        let mean = u.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / (128.0 * 128.0 * 3.0);
        assert!((mean - 127.5).abs() < 2.0, "{mean}");
        assert!(u.as_raw().contains(&0) && u.as_raw().contains(&255));
    }

    #[test]
    fn gaussian_is_smooth_around_the_pasted_source() {
        let src = RgbImage::from_pixel(32, 32, Rgb([255, 0, 0]));
        let out = NoiseSource::Gaussian.generate(&src, 64, 64, (16, 16), Rgb([0, 0, 0]), 5);
        // The centre of the pasted red square is still clearly red after the blur.
        let c = out.get_pixel(32, 32);
        assert!(c[0] > 200 && c[1] < 60, "{c:?}");
        // Far away the uniform noise is blurred towards grey.
        let far = out.get_pixel(2, 2);
        for v in far.0 {
            assert!((60..200).contains(&v), "{far:?}");
        }
    }
}
