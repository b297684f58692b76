//! Seeded standard-normal noise: the initial latents and the per-step noise of stochastic
//! schedulers (DDIM with eta > 0, Euler ancestral, ...).
//!
//! Everything that needs random numbers takes a `&mut dyn NoiseSource`, so the generator can be
//! swapped (a numpy-exact `RandomState` generator is planned) without touching the schedulers.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// A stream of independent N(0, 1) samples.
pub trait NoiseSource {
    /// Overwrites every element of `out` with the next standard-normal samples of the stream,
    /// in order.
    fn fill_standard_normal(&mut self, out: &mut [f32]);
}

impl<N: NoiseSource + ?Sized> NoiseSource for &mut N {
    fn fill_standard_normal(&mut self, out: &mut [f32]) {
        (**self).fill_standard_normal(out)
    }
}

impl<N: NoiseSource + ?Sized> NoiseSource for Box<N> {
    fn fill_standard_normal(&mut self, out: &mut [f32]) {
        (**self).fill_standard_normal(out)
    }
}

/// PCG-64 seeded noise, Box-Muller in f64, rounded to f32.
///
/// The same seed always gives the same stream, on every platform. Values come in pairs; the
/// second of a pair is kept for the next call, so the stream does not depend on how it is cut
/// into calls.
#[derive(Debug, Clone)]
pub struct SeededNoise {
    rng: Pcg64,
    spare: Option<f64>,
}

impl SeededNoise {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Pcg64::seed_from_u64(seed),
            spare: None,
        }
    }

    /// The next sample of the stream, in f64.
    pub fn next_f64(&mut self) -> f64 {
        if let Some(value) = self.spare.take() {
            return value;
        }
        // u1 in (0, 1] so that ln(u1) is finite; u2 in [0, 1).
        let u1 = 1.0 - self.rng.random::<f64>();
        let u2 = self.rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

impl NoiseSource for SeededNoise {
    fn fill_standard_normal(&mut self, out: &mut [f32]) {
        for value in out.iter_mut() {
            *value = self.next_f64() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let mut a = vec![0f32; 1001];
        let mut b = vec![0f32; 1001];
        let mut c = vec![0f32; 1001];
        SeededNoise::new(42).fill_standard_normal(&mut a);
        SeededNoise::new(42).fill_standard_normal(&mut b);
        SeededNoise::new(43).fill_standard_normal(&mut c);
        assert_eq!(a, b);
        assert!(a.iter().zip(&c).filter(|(x, y)| x != y).count() > 990);
    }

    #[test]
    fn stream_does_not_depend_on_call_sizes() {
        let mut whole = vec![0f32; 9];
        SeededNoise::new(7).fill_standard_normal(&mut whole);
        let mut noise = SeededNoise::new(7);
        let mut parts = vec![0f32; 9];
        let (first, rest) = parts.split_at_mut(3);
        noise.fill_standard_normal(first);
        noise.fill_standard_normal(rest);
        assert_eq!(whole, parts);
    }

    #[test]
    fn moments_are_standard_normal() {
        let n = 200_000;
        let mut values = vec![0f32; n];
        SeededNoise::new(1234).fill_standard_normal(&mut values);
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        let within_one = values.iter().filter(|v| v.abs() < 1.0).count() as f64 / n as f64;
        // Standard errors: mean 1/sqrt(n) ~ 0.0022, variance sqrt(2/n) ~ 0.0032.
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
        // P(|z| < 1) = 0.6827.
        assert!((within_one - 0.6827).abs() < 0.005, "P(|z|<1) {within_one}");
        assert!(values.iter().all(|v| v.is_finite()));
    }
}
