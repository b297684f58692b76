//! The sigma schedule of diffusers' k-diffusion ports without `rescale_betas_zero_snr` (Heun,
//! KDPM2, KDPM2 ancestral, LMS, DPM-SDE): spaced timesteps, training sigmas interpolated at them,
//! optionally replaced by Karras sigmas between the ends of that schedule.

use super::config::{np_round, spaced_timesteps, PredictionType, SchedulerConfig, TimestepSpacing};
use super::euler::{interp_sigmas, karras_sigmas, sigma_to_t, train_sigmas};
use super::SchedulerError;

pub(crate) struct KSchedule {
    pub num_train_timesteps: usize,
    pub train_sigmas: Vec<f32>,
    pub log_sigmas: Vec<f32>,
    pub spacing: TimestepSpacing,
    pub steps_offset: i64,
    pub use_karras_sigmas: bool,
}

impl KSchedule {
    pub fn new(config: &SchedulerConfig, scheduler: &'static str) -> Result<Self, SchedulerError> {
        config.check_sigma_options(scheduler)?;
        let alphas_cumprod = config.alphas_cumprod(false)?;
        let train_sigmas = train_sigmas(&alphas_cumprod);
        let log_sigmas = train_sigmas.iter().map(|s| s.ln()).collect();
        Ok(Self {
            num_train_timesteps: config.num_train_timesteps,
            train_sigmas,
            log_sigmas,
            spacing: config.spacing(TimestepSpacing::Linspace)?,
            steps_offset: config.steps_offset,
            use_karras_sigmas: config.use_karras_sigmas,
        })
    }

    /// `steps` timesteps (float32 values for `linspace`, as numpy's float32 `linspace` gives) and
    /// their sigmas, in float64 (before the classes round them to float32). With Karras sigmas
    /// the timesteps are `_sigma_to_t` of them, rounded when `round_karras`.
    pub fn timesteps_and_sigmas(&self, steps: usize, round_karras: bool) -> (Vec<f64>, Vec<f64>) {
        let timesteps = spaced_timesteps(
            self.spacing,
            self.num_train_timesteps,
            steps,
            self.steps_offset,
            false,
        );
        let sigmas = interp_sigmas(&self.train_sigmas, &timesteps);
        if !self.use_karras_sigmas {
            return (timesteps, sigmas);
        }
        let sigmas = karras_sigmas(*sigmas.last().unwrap(), sigmas[0], steps);
        let timesteps = sigmas
            .iter()
            .map(|&s| {
                let t = sigma_to_t(s, &self.log_sigmas);
                if round_karras {
                    np_round(t)
                } else {
                    t
                }
            })
            .collect();
        (timesteps, sigmas)
    }

    /// `init_noise_sigma`: the largest sigma, or `sqrt(max^2 + 1)` for `leading` spacing.
    pub fn init_noise_sigma(&self, sigmas: &[f32]) -> f32 {
        super::euler::euler_init_noise_sigma(sigmas, self.spacing)
    }
}

/// `_sigma_to_t` of a float32 sigma tensor (KDPM2's interpolated sigmas), in float32.
pub(crate) fn sigma_to_t_f32(sigma: f32, log_sigmas: &[f32]) -> f32 {
    let log_sigma = sigma.max(1e-10).ln();
    let low_idx = log_sigmas
        .iter()
        .rposition(|&l| log_sigma - l >= 0.0)
        .unwrap_or(0)
        .min(log_sigmas.len() - 2);
    let high_idx = low_idx + 1;
    let low = log_sigmas[low_idx];
    let high = log_sigmas[high_idx];
    let w = ((low - log_sigma) / (low - high)).clamp(0.0, 1.0);
    (1.0 - w) * low_idx as f32 + w * high_idx as f32
}

/// `exp(lerp(ln a, ln b, 0.5))` with torch's float32 `lerp` (`b - (b - a) * 0.5` at weight 0.5):
/// the geometric mean, 0 when `a` or `b` is 0.
pub(crate) fn log_midpoint(a: f32, b: f32) -> f32 {
    let (la, lb) = (a.ln(), b.ln());
    let value = (lb - (lb - la) * 0.5).exp();
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

/// `diffusers`' `[x0, x1, x1, x2, x2, ..., xn, xn, (last)]` layout of the two-call schedulers:
/// the first value once, every other one twice, and `last_once` appended once.
pub(crate) fn interleave_twice<T: Copy>(values: &[T], last_once: Option<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(values.len() * 2 + 1);
    if let Some((&first, rest)) = values.split_first() {
        out.push(first);
        for &v in rest {
            out.push(v);
            out.push(v);
        }
    }
    out.extend(last_once);
    out
}

/// The denoised estimate of the sigma-space schedulers: `x - sigma * eps`, or for v prediction
/// `v * (-sigma / sqrt(sigma^2 + 1)) + x / (sigma^2 + 1)`, or the output itself.
#[inline]
pub(crate) fn sigma_x0(prediction: PredictionType, sigma: f32, x: f32, out: f32) -> f32 {
    match prediction {
        PredictionType::Epsilon => x - sigma * out,
        PredictionType::VPrediction => {
            let s2 = sigma * sigma + 1.0;
            out * (-sigma / s2.sqrt()) + x / s2
        }
        PredictionType::Sample => out,
    }
}

/// Refuses `sample` prediction for the classes that raise on it.
pub(crate) fn no_sample_prediction(
    prediction: PredictionType,
    scheduler: &'static str,
) -> Result<(), SchedulerError> {
    if prediction == PredictionType::Sample {
        return Err(SchedulerError::Unsupported {
            scheduler,
            feature: "prediction_type sample".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_layout() {
        assert_eq!(
            interleave_twice(&[1, 2, 3], Some(0)),
            vec![1, 2, 2, 3, 3, 0]
        );
        assert_eq!(interleave_twice(&[1, 2, 3], None), vec![1, 2, 2, 3, 3]);
        assert_eq!(interleave_twice(&[7], None), vec![7]);
    }
}
