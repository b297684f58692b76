//! Euler (diffusers `EulerDiscreteScheduler`, k-diffusion's `sample_euler`), plus the sigma
//! schedule helpers shared by the k-diffusion family.
//!
//! The latents live in sigma space (`x = x0 + sigma * eps`); the model sees them scaled by
//! `1 / sqrt(sigma^2 + 1)`.
//!
//! Supported: every beta schedule, `trained_betas`, `rescale_betas_zero_snr`, the three
//! prediction types, the three timestep spacings with `steps_offset`, `interpolation_type`
//! (`linear`, `log_linear`), `use_karras_sigmas` with `sigma_min` / `sigma_max`,
//! `final_sigmas_type` (`zero`, `sigma_min`), `timestep_type` (`discrete`, `continuous`).
//! Not supported: the step's churn options (`s_churn`, `s_tmin`, `s_tmax`, `s_noise`; diffusers'
//! pipelines leave churn at 0, which makes the step deterministic), custom timesteps or sigmas.

use super::config::{
    np_linspace, spaced_timesteps, torch_linspace_f32, PredictionType, SchedulerConfig,
    TimestepSpacing,
};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

/// `((1 - abar) / abar) ** 0.5` per training timestep, in float32 like torch.
pub(crate) fn train_sigmas(alphas_cumprod: &[f32]) -> Vec<f32> {
    alphas_cumprod
        .iter()
        .map(|&a| ((1.0 - a) / a).sqrt())
        .collect()
}

/// `alphas_cumprod` for the sigma-space schedulers: with `rescale_betas_zero_snr` the last value
/// becomes 2^-24 instead of 0, so that the first sigma is finite.
pub(crate) fn sigma_space_alphas_cumprod(
    config: &SchedulerConfig,
) -> Result<Vec<f32>, SchedulerError> {
    let mut alphas_cumprod = config.alphas_cumprod(true)?;
    if config.rescale_betas_zero_snr {
        if let Some(last) = alphas_cumprod.last_mut() {
            *last = 2f32.powi(-24);
        }
    }
    Ok(alphas_cumprod)
}

/// `np.interp(timesteps, arange(len(sigmas)), sigmas)` in float64.
pub(crate) fn interp_sigmas(train_sigmas: &[f32], timesteps: &[f64]) -> Vec<f64> {
    let last = train_sigmas.len() - 1;
    timesteps
        .iter()
        .map(|&t| {
            if t <= 0.0 {
                return train_sigmas[0] as f64;
            }
            if t >= last as f64 {
                return train_sigmas[last] as f64;
            }
            let j = t.floor() as usize;
            if j as f64 == t {
                return train_sigmas[j] as f64;
            }
            let (low, high) = (train_sigmas[j] as f64, train_sigmas[j + 1] as f64);
            let slope = high - low; // over a unit interval
            slope * (t - j as f64) + low
        })
        .collect()
}

/// The Karras et al. (2022) schedule, rho = 7, from `sigma_max` down to `sigma_min`.
pub(crate) fn karras_sigmas(sigma_min: f64, sigma_max: f64, steps: usize) -> Vec<f64> {
    let rho = 7.0;
    let min_inv_rho = sigma_min.powf(1.0 / rho);
    let max_inv_rho = sigma_max.powf(1.0 / rho);
    np_linspace(0.0, 1.0, steps)
        .into_iter()
        .map(|ramp| (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)).powf(rho))
        .collect()
}

/// diffusers' `_sigma_to_t`: the fractional training timestep of `sigma`, interpolating
/// linearly in log-sigma between neighbouring training timesteps.
pub(crate) fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    // Last index whose log sigma is <= log_sigma (0 if none), at most len - 2.
    let low_idx = log_sigmas
        .iter()
        .rposition(|&l| log_sigma - l as f64 >= 0.0)
        .unwrap_or(0)
        .min(log_sigmas.len() - 2);
    let high_idx = low_idx + 1;
    let low = log_sigmas[low_idx] as f64;
    let high = log_sigmas[high_idx] as f64;
    let w = ((low - log_sigma) / (low - high)).clamp(0.0, 1.0);
    (1.0 - w) * low_idx as f64 + w * high_idx as f64
}

/// Timesteps and sigmas (one more sigma than steps, at least) of the plain sigma schedule:
/// spaced timesteps, sigmas interpolated at them, then 0 — Euler ancestral, and Euler with the
/// default options.
pub(crate) fn interpolated_schedule(
    config_spacing: TimestepSpacing,
    num_train_timesteps: usize,
    steps: usize,
    steps_offset: i64,
    train_sigmas: &[f32],
) -> (Vec<f64>, Vec<f32>) {
    let timesteps = spaced_timesteps(
        config_spacing,
        num_train_timesteps,
        steps,
        steps_offset,
        false,
    );
    let mut sigmas: Vec<f32> = interp_sigmas(train_sigmas, &timesteps)
        .into_iter()
        .map(|s| s as f32)
        .collect();
    sigmas.push(0.0);
    (timesteps, sigmas)
}

/// `init_noise_sigma` of the Euler family: the largest sigma, or `sqrt(max^2 + 1)` for `leading`
/// spacing (whose first timestep sits below the top of the schedule).
pub(crate) fn euler_init_noise_sigma(sigmas: &[f32], spacing: TimestepSpacing) -> f32 {
    let max = sigmas.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    match spacing {
        TimestepSpacing::Linspace | TimestepSpacing::Trailing => max,
        TimestepSpacing::Leading => (max * max + 1.0).sqrt(),
    }
}

/// `x0 + sigma * noise`, float32.
pub(crate) fn add_noise_sigma(sigma: f32, original: &[f32], noise: &[f32], out: &mut [f32]) {
    assert_eq!(
        original.len(),
        noise.len(),
        "add_noise: original and noise lengths differ"
    );
    assert_eq!(
        original.len(),
        out.len(),
        "add_noise: output length differs"
    );
    for ((o, &x), &n) in out.iter_mut().zip(original).zip(noise) {
        *o = x + n * sigma;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interpolation {
    Linear,
    LogLinear,
}

pub struct EulerDiscreteScheduler {
    train_sigmas: Vec<f32>,
    log_sigmas: Vec<f32>,
    num_train_timesteps: usize,
    spacing: TimestepSpacing,
    steps_offset: i64,
    prediction: PredictionType,
    interpolation: Interpolation,
    use_karras_sigmas: bool,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    final_sigma_min: bool,
    continuous_timesteps: bool,
    all_timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    begin: usize,
}

impl EulerDiscreteScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        let alphas_cumprod = sigma_space_alphas_cumprod(config)?;
        let train_sigmas = train_sigmas(&alphas_cumprod);
        let log_sigmas = train_sigmas.iter().map(|s| s.ln()).collect();
        let interpolation = match config.interpolation_type.as_str() {
            "linear" => Interpolation::Linear,
            "log_linear" => Interpolation::LogLinear,
            other => {
                return Err(SchedulerError::InvalidConfig(format!(
                    "interpolation_type {other:?} is not one of linear, log_linear"
                )))
            }
        };
        let final_sigma_min = match config.final_sigmas_type.as_str() {
            "zero" => false,
            "sigma_min" => true,
            other => {
                return Err(SchedulerError::InvalidConfig(format!(
                    "final_sigmas_type {other:?} is not one of zero, sigma_min"
                )))
            }
        };
        let prediction = config.prediction()?;
        let continuous = match config.timestep_type.as_str() {
            "discrete" => false,
            "continuous" => true,
            other => {
                return Err(SchedulerError::InvalidConfig(format!(
                    "timestep_type {other:?} is not one of discrete, continuous"
                )))
            }
        };
        Ok(Self {
            train_sigmas,
            log_sigmas,
            num_train_timesteps: config.num_train_timesteps,
            spacing: config.spacing(TimestepSpacing::Linspace)?,
            steps_offset: config.steps_offset,
            prediction,
            interpolation,
            use_karras_sigmas: config.use_karras_sigmas,
            sigma_min: config.sigma_min,
            sigma_max: config.sigma_max,
            final_sigma_min,
            // diffusers only uses continuous timesteps together with v-prediction.
            continuous_timesteps: continuous && prediction == PredictionType::VPrediction,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            begin: 0,
        })
    }

    /// Sigmas of the schedule from `timesteps()[0]` on, ending with the final sigma.
    pub fn sigmas(&self) -> &[f32] {
        &self.sigmas[self.begin..]
    }
}

impl Scheduler for EulerDiscreteScheduler {
    fn name(&self) -> &'static str {
        "euler"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.num_train_timesteps);
        let mut timesteps = spaced_timesteps(
            self.spacing,
            self.num_train_timesteps,
            steps,
            self.steps_offset,
            false,
        );
        let mut sigmas: Vec<f64> = match self.interpolation {
            Interpolation::Linear => interp_sigmas(&self.train_sigmas, &timesteps),
            // diffusers makes steps + 1 log-spaced sigmas here (one more than the timesteps).
            Interpolation::LogLinear => {
                // From the largest training sigma down to the smallest.
                let log_max = self.train_sigmas[self.train_sigmas.len() - 1].ln() as f64;
                let log_min = self.train_sigmas[0].ln() as f64;
                torch_linspace_f32(log_max, log_min, steps + 1)
                    .into_iter()
                    .map(|l| l.exp() as f64)
                    .collect()
            }
        };
        if self.use_karras_sigmas {
            let sigma_min = self.sigma_min.unwrap_or(*sigmas.last().unwrap());
            let sigma_max = self.sigma_max.unwrap_or(sigmas[0]);
            sigmas = karras_sigmas(sigma_min, sigma_max, steps);
            timesteps = sigmas
                .iter()
                .map(|&s| sigma_to_t(s, &self.log_sigmas))
                .collect();
        }
        let last = if self.final_sigma_min {
            self.train_sigmas[0]
        } else {
            0.0
        };
        let mut sigmas: Vec<f32> = sigmas.into_iter().map(|s| s as f32).collect();
        sigmas.push(last);
        self.all_timesteps = if self.continuous_timesteps {
            sigmas[..sigmas.len() - 1]
                .iter()
                .map(|&s| (0.25 * s.ln()) as f64)
                .collect()
        } else {
            timesteps.into_iter().map(|t| t as f32 as f64).collect()
        };
        self.sigmas = sigmas;
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
    }

    fn timesteps(&self) -> &[f64] {
        &self.all_timesteps[self.begin..]
    }

    fn sigmas(&self) -> Option<&[f32]> {
        Some(&self.sigmas)
    }

    fn init_noise_sigma(&self) -> f32 {
        euler_init_noise_sigma(&self.sigmas, self.spacing)
    }

    fn input_scale(&self, index: usize) -> f32 {
        let sigma = self.sigmas[self.begin + index];
        1.0 / (sigma * sigma + 1.0).sqrt()
    }

    fn step(
        &mut self,
        model_output: &[f32],
        index: usize,
        sample: &mut [f32],
        _noise: &mut dyn NoiseSource,
    ) {
        assert_eq!(
            model_output.len(),
            sample.len(),
            "euler: model output and sample lengths differ"
        );
        let i = self.begin + index;
        // No churn: sigma_hat = sigma.
        let sigma = self.sigmas[i];
        let dt = self.sigmas[i + 1] - sigma;
        let v_out = -sigma / (sigma * sigma + 1.0).sqrt();
        let v_skip = sigma * sigma + 1.0;
        let prediction = self.prediction;
        for (x, &out) in sample.iter_mut().zip(model_output) {
            let x0 = match prediction {
                PredictionType::Epsilon => *x - sigma * out,
                PredictionType::VPrediction => out * v_out + *x / v_skip,
                PredictionType::Sample => out,
            };
            let derivative = (*x - x0) / sigma;
            *x += derivative * dt;
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_sigma(self.sigmas[self.begin + index], original, noise, out);
    }

    fn order(&self) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::noise::SeededNoise;

    fn euler(config: &SchedulerConfig) -> EulerDiscreteScheduler {
        EulerDiscreteScheduler::new(config).unwrap()
    }

    // Expected timesteps re-derived from EulerDiscreteScheduler.set_timesteps:
    //   linspace: np.linspace(0, 999, n, dtype=float32)[::-1]       (fractional, no offset)
    //   leading:  (arange(n) * (1000 // n)).round()[::-1] + steps_offset
    // and checked with numpy 2.4.

    #[test]
    fn linspace_timesteps_and_sigmas() {
        let config = sd15_config();
        let mut scheduler = euler(&config);
        scheduler.set_timesteps(4, None);
        assert_eq!(scheduler.timesteps(), &[999.0, 666.0, 333.0, 0.0]);
        let ac = config.alphas_cumprod(true).unwrap();
        let sigma = |t: usize| ((1.0 - ac[t]) / ac[t]).sqrt();
        assert_eq!(
            scheduler.sigmas(),
            &[sigma(999), sigma(666), sigma(333), sigma(0), 0.0]
        );
        // SD's well-known sigma range: 14.6146 .. 0.0292.
        assert!((scheduler.sigmas()[0] - 14.6146).abs() < 1e-3);
        assert!((scheduler.sigmas()[3] - 0.02917).abs() < 1e-4);
        assert_eq!(scheduler.init_noise_sigma(), sigma(999));
        assert!(
            (scheduler.input_scale(0) - 1.0 / (14.6146f32 * 14.6146 + 1.0).sqrt()).abs() < 1e-6
        );

        scheduler.set_timesteps(25, None);
        let ts = scheduler.timesteps();
        assert_eq!(ts.len(), 25);
        assert_eq!(&ts[..4], &[999.0, 957.375, 915.75, 874.125]);
        assert_eq!(ts[24], 0.0);
        for (i, &t) in ts.iter().enumerate() {
            assert_eq!(t, 999.0 - 41.625 * i as f64);
        }
        // Fractional timestep 957.375: sigma linearly interpolated between 957 and 958.
        let s = scheduler.sigmas()[1] as f64;
        let expected = sigma(957) as f64 * 0.625 + sigma(958) as f64 * 0.375;
        assert!((s - expected).abs() < 1e-6, "{s} vs {expected}");
    }

    #[test]
    fn leading_spacing_uses_offset_and_larger_init_sigma() {
        let mut config = sd15_config();
        config.timestep_spacing = Some("leading".into());
        let mut scheduler = euler(&config);
        scheduler.set_timesteps(10, None);
        assert_eq!(
            scheduler.timesteps(),
            &[901.0, 801.0, 701.0, 601.0, 501.0, 401.0, 301.0, 201.0, 101.0, 1.0]
        );
        let s0 = scheduler.sigmas()[0];
        assert_eq!(scheduler.init_noise_sigma(), (s0 * s0 + 1.0).sqrt());
    }

    #[test]
    fn karras_sigmas_span_the_schedule() {
        let mut config = sd15_config();
        config.use_karras_sigmas = true;
        let mut scheduler = euler(&config);
        scheduler.set_timesteps(10, None);
        let sigmas = scheduler.sigmas().to_vec();
        let ts = scheduler.timesteps().to_vec();
        assert_eq!(sigmas.len(), 11);
        assert!((sigmas[0] - 14.6146).abs() < 1e-3);
        assert!((sigmas[9] - 0.02917).abs() < 1e-4);
        assert_eq!(sigmas[10], 0.0);
        assert!(sigmas.windows(2).all(|w| w[0] > w[1]));
        // Karras: sigma_i^(1/7) evenly spaced.
        let r: Vec<f64> = sigmas[..10]
            .iter()
            .map(|&s| (s as f64).powf(1.0 / 7.0))
            .collect();
        for w in r.windows(3) {
            assert!(((w[0] - w[1]) - (w[1] - w[2])).abs() < 1e-5);
        }
        // Timesteps map back through the log-sigma table: ends at 999 and 0, fractional between.
        assert!((ts[0] - 999.0).abs() < 1e-3, "{}", ts[0]);
        assert!(ts[9].abs() < 1e-3, "{}", ts[9]);
        assert!(ts.windows(2).all(|w| w[0] > w[1]));
        assert!(ts[1..9].iter().any(|t| t.fract() != 0.0));
    }

    #[test]
    fn sigma_to_t_inverts_interpolation() {
        let config = sd15_config();
        let ac = config.alphas_cumprod(false).unwrap();
        let sigmas = train_sigmas(&ac);
        let logs: Vec<f32> = sigmas.iter().map(|s| s.ln()).collect();
        assert!((sigma_to_t(sigmas[500] as f64, &logs) - 500.0).abs() < 1e-4);
        let mid = ((sigmas[500] as f64).ln() * 0.75 + (sigmas[501] as f64).ln() * 0.25).exp();
        assert!((sigma_to_t(mid, &logs) - 500.25).abs() < 1e-4);
        assert_eq!(sigma_to_t(100.0, &logs), 999.0);
        assert_eq!(sigma_to_t(1e-4, &logs), 0.0);
    }

    #[test]
    fn log_linear_and_sigma_min_final() {
        let mut config = sd15_config();
        config.interpolation_type = "log_linear".into();
        let mut scheduler = euler(&config);
        scheduler.set_timesteps(4, None);
        // diffusers: steps + 1 log-spaced sigmas, then the final 0.
        let sigmas = scheduler.sigmas().to_vec();
        assert_eq!(sigmas.len(), 6);
        assert!((sigmas[0] - 14.6146).abs() < 1e-3);
        assert!((sigmas[4] - 0.02917).abs() < 1e-4);
        let ratios: Vec<f32> = sigmas[..5].windows(2).map(|w| w[0] / w[1]).collect();
        assert!(ratios.iter().all(|r| (r - ratios[0]).abs() < 1e-3));

        let mut config = sd15_config();
        config.final_sigmas_type = "sigma_min".into();
        let mut scheduler = euler(&config);
        scheduler.set_timesteps(4, None);
        let sigmas = scheduler.sigmas();
        assert_eq!(sigmas[4], sigmas[3]);
    }

    fn check_oracle(config: &SchedulerConfig, prediction: PredictionType, tolerance: f32) {
        let x0 = clean_sample(257);
        for steps in [4, 10, 25] {
            let mut scheduler = euler(config);
            scheduler.set_timesteps(steps, None);
            let sigmas = scheduler.sigmas().to_vec();
            let oracle = Oracle::Sigma(Box::new(move |i| sigmas[i] as f64));
            let out = run_oracle(&mut scheduler, &oracle, prediction, steps, &x0, 21);
            let err = max_abs_diff(&out, &x0);
            assert!(
                err < tolerance,
                "{prediction:?} steps={steps}: max error {err}"
            );
        }
    }

    // With the exact model, every Euler step predicts x0 exactly and the last step goes to
    // sigma 0, so the result is x0 up to float32 rounding of samples of size ~sigma_max.

    #[test]
    fn oracle_epsilon_reaches_x0() {
        check_oracle(&sd15_config(), PredictionType::Epsilon, 1e-4);
    }

    #[test]
    fn oracle_v_prediction_reaches_x0() {
        let mut config = sd15_config();
        config.prediction_type = "v_prediction".into();
        check_oracle(&config, PredictionType::VPrediction, 1e-4);
    }

    #[test]
    fn oracle_sample_prediction_reaches_x0() {
        let mut config = sd15_config();
        config.prediction_type = "sample".into();
        check_oracle(&config, PredictionType::Sample, 1e-5);
    }

    #[test]
    fn oracle_karras_and_leading_reach_x0() {
        let mut config = sd15_config();
        config.use_karras_sigmas = true;
        check_oracle(&config, PredictionType::Epsilon, 1e-4);
        let mut config = sd15_config();
        config.timestep_spacing = Some("leading".into());
        check_oracle(&config, PredictionType::Epsilon, 1e-4);
        config.timestep_spacing = Some("trailing".into());
        check_oracle(&config, PredictionType::Epsilon, 1e-4);
    }

    #[test]
    fn one_step_matches_closed_form() {
        // x_next = x + (x - (x - sigma eps)) / sigma * (sigma_next - sigma)
        let mut scheduler = euler(&sd15_config());
        scheduler.set_timesteps(10, None);
        let (s0, s1) = (scheduler.sigmas()[0] as f64, scheduler.sigmas()[1] as f64);
        let mut sample: Vec<f32> = (0..8).map(|i| i as f32 - 3.0).collect();
        let eps: Vec<f32> = (0..8).map(|i| (i as f32 * 0.3).sin()).collect();
        let before = sample.clone();
        scheduler.step(&eps, 0, &mut sample, &mut SeededNoise::new(0));
        for i in 0..8 {
            let expected = before[i] as f64 + eps[i] as f64 * (s1 - s0);
            assert!((sample[i] as f64 - expected).abs() < 1e-5);
        }
    }

    #[test]
    fn strength_and_add_noise() {
        let mut scheduler = euler(&sd15_config());
        scheduler.set_timesteps(10, Some(0.5));
        assert_eq!(scheduler.timesteps(), &[444.0, 333.0, 222.0, 111.0, 0.0]);
        let sigma = scheduler.sigmas()[0];
        let x0 = clean_sample(16);
        let mut noise = vec![0f32; 16];
        SeededNoise::new(2).fill_standard_normal(&mut noise);
        let mut out = vec![0f32; 16];
        scheduler.add_noise(&x0, &noise, 0, &mut out);
        for i in 0..16 {
            assert_eq!(out[i], x0[i] + noise[i] * sigma);
        }
        // And the img2img loop from there lands on x0.
        let sigmas = scheduler.sigmas().to_vec();
        let oracle = Oracle::Sigma(Box::new(move |i| sigmas[i] as f64));
        let mut model_out = vec![0f32; 16];
        let timesteps = scheduler.timesteps().to_vec();
        for (index, &t) in timesteps.iter().enumerate() {
            oracle_output(
                &oracle,
                PredictionType::Epsilon,
                t,
                index,
                &out,
                &x0,
                &mut model_out,
            );
            scheduler.step(&model_out, index, &mut out, &mut SeededNoise::new(0));
        }
        assert!(max_abs_diff(&out, &x0) < 1e-5);
    }

    #[test]
    fn continuous_timesteps_for_v_prediction() {
        let mut config = sd15_config();
        config.prediction_type = "v_prediction".into();
        config.timestep_type = "continuous".into();
        let mut scheduler = euler(&config);
        scheduler.set_timesteps(4, None);
        let sigmas = scheduler.sigmas().to_vec();
        for (t, s) in scheduler.timesteps().iter().zip(&sigmas) {
            assert!((t - 0.25 * (*s as f64).ln()).abs() < 1e-6);
        }
    }

    #[test]
    fn rejects_bad_options() {
        let mut config = sd15_config();
        config.interpolation_type = "cubic".into();
        assert!(EulerDiscreteScheduler::new(&config).is_err());
        let mut config = sd15_config();
        config.final_sigmas_type = "one".into();
        assert!(EulerDiscreteScheduler::new(&config).is_err());
    }
}
