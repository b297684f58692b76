//! DDIM (diffusers `DDIMScheduler`): deterministic for eta = 0, with variance noise for eta > 0.
//!
//! Supported: every beta schedule, `trained_betas`, `rescale_betas_zero_snr`, the three
//! prediction types, the three timestep spacings with `steps_offset`, `set_alpha_to_one`,
//! `clip_sample` / `clip_sample_range`. Not supported: `thresholding` (refused at creation),
//! `use_clipped_model_output` (diffusers' pipelines leave it off), custom timesteps.

use super::config::{spaced_timesteps, PredictionType, SchedulerConfig, TimestepSpacing};
use super::{
    add_noise_alpha, clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError,
};

pub struct DdimScheduler {
    alphas_cumprod: Vec<f32>,
    final_alpha_cumprod: f32,
    num_train_timesteps: usize,
    spacing: TimestepSpacing,
    steps_offset: i64,
    prediction: PredictionType,
    /// `Some(range)` when `clip_sample` is on.
    clip_range: Option<f32>,
    eta: f32,
    num_inference_steps: usize,
    /// The full schedule; `timesteps()` is its tail from `begin`.
    all_timesteps: Vec<f64>,
    begin: usize,
    /// Variance noise of one step, reused.
    noise: Vec<f32>,
}

impl DdimScheduler {
    pub fn new(config: &SchedulerConfig, eta: f32) -> Result<Self, SchedulerError> {
        if config.thresholding {
            return Err(SchedulerError::Unsupported {
                scheduler: "ddim",
                feature: "thresholding".into(),
            });
        }
        if !eta.is_finite() || eta < 0.0 {
            return Err(SchedulerError::InvalidConfig(format!(
                "eta must be >= 0, not {eta}"
            )));
        }
        let alphas_cumprod = config.alphas_cumprod(true)?;
        let final_alpha_cumprod = if config.set_alpha_to_one.unwrap_or(true) {
            1.0
        } else {
            alphas_cumprod[0]
        };
        Ok(Self {
            alphas_cumprod,
            final_alpha_cumprod,
            num_train_timesteps: config.num_train_timesteps,
            spacing: config.spacing(TimestepSpacing::Leading)?,
            steps_offset: config.steps_offset,
            prediction: config.prediction()?,
            clip_range: config
                .clip_sample
                .unwrap_or(true)
                .then_some(config.clip_sample_range as f32),
            eta,
            num_inference_steps: 0,
            all_timesteps: Vec::new(),
            begin: 0,
            noise: Vec::new(),
        })
    }

    pub fn alphas_cumprod(&self) -> &[f32] {
        &self.alphas_cumprod
    }

    fn alpha_at(&self, timestep: i64) -> f32 {
        if timestep >= 0 {
            self.alphas_cumprod[(timestep as usize).min(self.alphas_cumprod.len() - 1)]
        } else {
            self.final_alpha_cumprod
        }
    }
}

impl Scheduler for DdimScheduler {
    fn name(&self) -> &'static str {
        "ddim"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.num_train_timesteps);
        self.num_inference_steps = steps;
        self.all_timesteps = spaced_timesteps(
            self.spacing,
            self.num_train_timesteps,
            steps,
            self.steps_offset,
            true,
        );
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
    }

    fn timesteps(&self) -> &[f64] {
        &self.all_timesteps[self.begin..]
    }

    fn step(
        &mut self,
        model_output: &[f32],
        index: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) {
        assert_eq!(
            model_output.len(),
            sample.len(),
            "ddim: model output and sample lengths differ"
        );
        let timestep = self.timesteps()[index] as i64;
        let prev_timestep = timestep - (self.num_train_timesteps / self.num_inference_steps) as i64;

        // Scalars as diffusers computes them: float32 0-dim tensors.
        let alpha_t = self.alpha_at(timestep);
        let alpha_prev = self.alpha_at(prev_timestep);
        let beta_t = 1.0 - alpha_t;
        let beta_prev = 1.0 - alpha_prev;
        let sqrt_alpha_t = alpha_t.sqrt();
        let sqrt_beta_t = beta_t.sqrt();
        let sqrt_alpha_prev = alpha_prev.sqrt();

        let variance = (beta_prev / beta_t) * (1.0 - alpha_t / alpha_prev);
        let std_dev = self.eta * variance.sqrt();
        let direction_coeff = (1.0 - alpha_prev - std_dev * std_dev).max(0.0).sqrt();

        let prediction = self.prediction;
        let clip = self.clip_range;
        for (x, &out) in sample.iter_mut().zip(model_output) {
            let (mut x0, eps) = match prediction {
                PredictionType::Epsilon => ((*x - sqrt_beta_t * out) / sqrt_alpha_t, out),
                PredictionType::Sample => (out, (*x - sqrt_alpha_t * out) / sqrt_beta_t),
                PredictionType::VPrediction => (
                    sqrt_alpha_t * *x - sqrt_beta_t * out,
                    sqrt_alpha_t * out + sqrt_beta_t * *x,
                ),
            };
            if let Some(range) = clip {
                x0 = x0.clamp(-range, range);
            }
            *x = sqrt_alpha_prev * x0 + direction_coeff * eps;
        }

        if self.eta > 0.0 {
            self.noise.resize(sample.len(), 0.0);
            noise.fill_standard_normal(&mut self.noise);
            let noise_scale = variance.sqrt() * self.eta;
            for (x, &z) in sample.iter_mut().zip(&self.noise) {
                *x += noise_scale * z;
            }
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        let timestep = self.timesteps()[index] as i64;
        add_noise_alpha(self.alpha_at(timestep), original, noise, out);
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

    fn ddim(config: &SchedulerConfig, eta: f32) -> DdimScheduler {
        DdimScheduler::new(config, eta).unwrap()
    }

    /// SD 1.5's config with `set_alpha_to_one`, so the last step lands on x0 itself.
    fn to_one_config() -> SchedulerConfig {
        let mut config = sd15_config();
        config.set_alpha_to_one = Some(true);
        config
    }

    // Expected timesteps re-derived from DDIMScheduler.set_timesteps:
    //   leading:  (arange(n) * (1000 // n)).round()[::-1] + steps_offset
    //   linspace: linspace(0, 999, n).round()[::-1]   (numpy rounds halves to even)
    //   trailing: round(arange(1000, 0, -1000 / n)) - 1
    // and checked with numpy 2.4.

    #[test]
    fn leading_timesteps_with_steps_offset() {
        let mut scheduler = ddim(&sd15_config(), 0.0);
        scheduler.set_timesteps(10, None);
        assert_eq!(
            scheduler.timesteps(),
            &[901.0, 801.0, 701.0, 601.0, 501.0, 401.0, 301.0, 201.0, 101.0, 1.0]
        );
        scheduler.set_timesteps(4, None);
        assert_eq!(scheduler.timesteps(), &[751.0, 501.0, 251.0, 1.0]);
        scheduler.set_timesteps(3, None);
        assert_eq!(scheduler.timesteps(), &[667.0, 334.0, 1.0]);
    }

    #[test]
    fn linspace_and_trailing_timesteps() {
        let mut config = SchedulerConfig {
            timestep_spacing: Some("linspace".into()),
            ..Default::default()
        };
        let mut scheduler = ddim(&config, 0.0);
        scheduler.set_timesteps(5, None);
        assert_eq!(scheduler.timesteps(), &[999.0, 749.0, 500.0, 250.0, 0.0]);
        scheduler.set_timesteps(3, None);
        assert_eq!(scheduler.timesteps(), &[999.0, 500.0, 0.0]);

        config.timestep_spacing = Some("trailing".into());
        let mut scheduler = ddim(&config, 0.0);
        scheduler.set_timesteps(4, None);
        assert_eq!(scheduler.timesteps(), &[999.0, 749.0, 499.0, 249.0]);
        scheduler.set_timesteps(3, None);
        assert_eq!(scheduler.timesteps(), &[999.0, 666.0, 332.0]);
        scheduler.set_timesteps(7, None);
        assert_eq!(
            scheduler.timesteps(),
            &[999.0, 856.0, 713.0, 570.0, 428.0, 285.0, 142.0]
        );
    }

    #[test]
    fn strength_keeps_the_tail() {
        let mut scheduler = ddim(&sd15_config(), 0.0);
        scheduler.set_timesteps(10, Some(0.5));
        assert_eq!(scheduler.timesteps(), &[401.0, 301.0, 201.0, 101.0, 1.0]);
        scheduler.set_timesteps(10, Some(0.75));
        assert_eq!(
            scheduler.timesteps(),
            &[601.0, 501.0, 401.0, 301.0, 201.0, 101.0, 1.0]
        );
    }

    fn check_oracle(
        config: &SchedulerConfig,
        eta: f32,
        prediction: PredictionType,
        tolerance: f32,
    ) {
        let x0 = clean_sample(257);
        for steps in [4, 10, 25] {
            let mut scheduler = ddim(config, eta);
            let ac = scheduler.alphas_cumprod().to_vec();
            let out = run_oracle(
                &mut scheduler,
                &Oracle::Alpha(&ac),
                prediction,
                steps,
                &x0,
                11,
            );
            let err = max_abs_diff(&out, &x0);
            assert!(
                err < tolerance,
                "{prediction:?} eta={eta} steps={steps}: max error {err}"
            );
        }
    }

    #[test]
    fn oracle_epsilon_reaches_x0() {
        check_oracle(&to_one_config(), 0.0, PredictionType::Epsilon, 1e-4);
    }

    #[test]
    fn oracle_v_prediction_reaches_x0() {
        let mut config = to_one_config();
        config.prediction_type = "v_prediction".into();
        check_oracle(&config, 0.0, PredictionType::VPrediction, 1e-4);
    }

    #[test]
    fn oracle_sample_prediction_reaches_x0() {
        let mut config = to_one_config();
        config.prediction_type = "sample".into();
        check_oracle(&config, 0.0, PredictionType::Sample, 1e-5);
    }

    #[test]
    fn oracle_with_eta_reaches_x0() {
        // With eta > 0 every step re-noises, but the oracle's x0 is exact and the last step
        // (to alpha 1) has zero variance.
        check_oracle(&to_one_config(), 1.0, PredictionType::Epsilon, 1e-4);
        check_oracle(&to_one_config(), 0.5, PredictionType::Epsilon, 1e-4);
    }

    #[test]
    fn sd_config_final_step_stops_at_alphas_cumprod_0() {
        // set_alpha_to_one = false: the last step goes to alphas_cumprod[0], not 1, so the
        // result keeps sqrt(1 - abar_0) ~ 0.029 of the trajectory's noise:
        // x = sqrt(abar_0) x0 + sqrt(1 - abar_0) eps_T, eps_T the oracle's first epsilon.
        let config = sd15_config();
        let x0 = clean_sample(64);
        let mut scheduler = ddim(&config, 0.0);
        let ac = scheduler.alphas_cumprod().to_vec();
        let out = run_oracle(
            &mut scheduler,
            &Oracle::Alpha(&ac),
            PredictionType::Epsilon,
            10,
            &x0,
            5,
        );
        let mut x_t = vec![0f32; 64];
        SeededNoise::new(5).fill_standard_normal(&mut x_t);
        let a_t = ac[901] as f64;
        let a_0 = ac[0] as f64;
        for i in 0..64 {
            let eps = (x_t[i] as f64 - a_t.sqrt() * x0[i] as f64) / (1.0 - a_t).sqrt();
            let expected = a_0.sqrt() * x0[i] as f64 + (1.0 - a_0).sqrt() * eps;
            assert!(
                (out[i] as f64 - expected).abs() < 1e-4,
                "{i}: {} vs {expected}",
                out[i]
            );
        }
        assert!(max_abs_diff(&out, &x0) > 1e-2);
    }

    #[test]
    fn one_step_with_eta_matches_closed_form() {
        // x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - s^2) eps + s z,
        // s = eta sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).
        let config = sd15_config();
        let eta = 0.8f32;
        let mut scheduler = ddim(&config, eta);
        scheduler.set_timesteps(10, None);
        let ac = scheduler.alphas_cumprod().to_vec();
        let n = 32;
        let mut sample = vec![0f32; n];
        SeededNoise::new(3).fill_standard_normal(&mut sample);
        let eps: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).cos()).collect();
        let mut z = vec![0f32; n];
        SeededNoise::new(99).fill_standard_normal(&mut z);
        let original = sample.clone();
        scheduler.step(&eps, 0, &mut sample, &mut SeededNoise::new(99));
        let (a_t, a_prev) = (ac[901] as f64, ac[801] as f64);
        let s = eta as f64 * ((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev)).sqrt();
        for i in 0..n {
            let x0 = (original[i] as f64 - (1.0 - a_t).sqrt() * eps[i] as f64) / a_t.sqrt();
            let expected = a_prev.sqrt() * x0
                + (1.0 - a_prev - s * s).sqrt() * eps[i] as f64
                + s * z[i] as f64;
            assert!(
                (sample[i] as f64 - expected).abs() < 1e-5,
                "{i}: {} vs {expected}",
                sample[i]
            );
        }
    }

    #[test]
    fn clip_sample_clamps_predicted_x0() {
        let mut config = to_one_config();
        config.prediction_type = "sample".into();
        config.clip_sample = None; // DDIM's default: clip to [-1, 1]
        let mut scheduler = ddim(&config, 0.0);
        scheduler.set_timesteps(1, None);
        let mut sample = vec![0.3f32, -0.2];
        scheduler.step(&[2.5, -3.0], 0, &mut sample, &mut SeededNoise::new(0));
        // One step from t=1 (steps_offset 1) straight to alpha 1: the sample becomes x0.
        assert_eq!(sample, vec![1.0, -1.0]);

        config.clip_sample = Some(false);
        let mut scheduler = ddim(&config, 0.0);
        scheduler.set_timesteps(1, None);
        let mut sample = vec![0.3f32, -0.2];
        scheduler.step(&[2.5, -3.0], 0, &mut sample, &mut SeededNoise::new(0));
        assert_eq!(sample, vec![2.5, -3.0]);
    }

    #[test]
    fn add_noise_matches_closed_form_at_index() {
        let mut scheduler = ddim(&sd15_config(), 0.0);
        scheduler.set_timesteps(10, Some(0.5));
        let ac = scheduler.alphas_cumprod().to_vec();
        let original = clean_sample(16);
        let mut noise = vec![0f32; 16];
        SeededNoise::new(8).fill_standard_normal(&mut noise);
        let mut out = vec![0f32; 16];
        scheduler.add_noise(&original, &noise, 0, &mut out);
        let a = ac[401] as f64; // timesteps()[0] with strength 0.5
        for i in 0..16 {
            let expected = a.sqrt() * original[i] as f64 + (1.0 - a).sqrt() * noise[i] as f64;
            assert!((out[i] as f64 - expected).abs() < 1e-6);
        }
    }

    #[test]
    fn img2img_from_add_noise_reaches_x0() {
        let config = to_one_config();
        let x0 = clean_sample(100);
        let mut scheduler = ddim(&config, 0.0);
        scheduler.set_timesteps(20, Some(0.6));
        assert_eq!(scheduler.timesteps().len(), 12);
        let ac = scheduler.alphas_cumprod().to_vec();
        let mut noise = vec![0f32; 100];
        SeededNoise::new(4).fill_standard_normal(&mut noise);
        let mut sample = vec![0f32; 100];
        scheduler.add_noise(&x0, &noise, 0, &mut sample);
        let mut out = vec![0f32; 100];
        let timesteps = scheduler.timesteps().to_vec();
        for (index, &t) in timesteps.iter().enumerate() {
            oracle_output(
                &Oracle::Alpha(&ac),
                PredictionType::Epsilon,
                t,
                index,
                &sample,
                &x0,
                &mut out,
            );
            // The oracle's epsilon is the noise that was added.
            if index == 0 {
                assert!(max_abs_diff(&out, &noise) < 1e-4);
            }
            scheduler.step(&out, index, &mut sample, &mut SeededNoise::new(0));
        }
        assert!(max_abs_diff(&sample, &x0) < 1e-4);
    }

    #[test]
    fn refuses_thresholding_and_negative_eta() {
        let config = SchedulerConfig {
            thresholding: true,
            ..Default::default()
        };
        assert!(matches!(
            DdimScheduler::new(&config, 0.0),
            Err(SchedulerError::Unsupported { .. })
        ));
        assert!(DdimScheduler::new(&SchedulerConfig::default(), -1.0).is_err());
    }
}
