//! DDPM (diffusers `DDPMScheduler`): ancestral sampling of the denoising diffusion probabilistic
//! model: the posterior mean `q(x_prev | x_t, x0)` from the predicted x0, plus fresh noise of the
//! posterior's variance (drawn from the job's noise source at every step whose timestep is > 0).
//!
//! Supported: every beta schedule, `trained_betas`, `rescale_betas_zero_snr`, the three
//! prediction types, the three timestep spacings with `steps_offset`, `clip_sample` /
//! `clip_sample_range`, `variance_type` `fixed_small` (default), `fixed_small_log`,
//! `fixed_large`. Refused: `thresholding`, the learned variances (they need a model with twice
//! the latent channels), `fixed_large_log` (NaN in diffusers: the square root of a logarithm).

use super::config::{spaced_timesteps, PredictionType, SchedulerConfig, TimestepSpacing};
use super::{
    add_noise_alpha, clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variance {
    Small,
    SmallLog,
    Large,
}

pub struct DdpmScheduler {
    alphas_cumprod: Vec<f32>,
    num_train_timesteps: usize,
    spacing: TimestepSpacing,
    steps_offset: i64,
    prediction: PredictionType,
    clip_range: Option<f32>,
    variance: Variance,
    all_timesteps: Vec<f64>,
    begin: usize,
    noise: Vec<f32>,
}

impl DdpmScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        if config.thresholding {
            return Err(SchedulerError::Unsupported {
                scheduler: "ddpm",
                feature: "thresholding".into(),
            });
        }
        let variance = match config.variance_type.as_deref().unwrap_or("fixed_small") {
            "fixed_small" => Variance::Small,
            "fixed_small_log" => Variance::SmallLog,
            "fixed_large" => Variance::Large,
            other @ ("fixed_large_log" | "learned" | "learned_range") => {
                return Err(SchedulerError::Unsupported {
                    scheduler: "ddpm",
                    feature: format!("variance_type {other}"),
                })
            }
            other => {
                return Err(SchedulerError::InvalidConfig(format!(
                "variance_type {other:?} is not one of fixed_small, fixed_small_log, fixed_large"
            )))
            }
        };
        Ok(Self {
            alphas_cumprod: config.alphas_cumprod(true)?,
            num_train_timesteps: config.num_train_timesteps,
            spacing: config.spacing(TimestepSpacing::Leading)?,
            steps_offset: config.steps_offset,
            prediction: config.prediction()?,
            clip_range: config
                .clip_sample
                .unwrap_or(true)
                .then_some(config.clip_sample_range as f32),
            variance,
            all_timesteps: Vec::new(),
            begin: 0,
            noise: Vec::new(),
        })
    }

    pub fn alphas_cumprod(&self) -> &[f32] {
        &self.alphas_cumprod
    }

    fn alpha_at(&self, timestep: f64) -> f32 {
        let t = (timestep.max(0.0) as usize).min(self.alphas_cumprod.len() - 1);
        self.alphas_cumprod[t]
    }
}

impl Scheduler for DdpmScheduler {
    fn name(&self) -> &'static str {
        "ddpm"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.num_train_timesteps);
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
            "ddpm: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let t = self.all_timesteps[i];
        // The previous timestep is the next entry of the schedule (-1 after the last one).
        let alpha_t = self.alpha_at(t);
        let alpha_prev = match self.all_timesteps.get(i + 1) {
            Some(&prev) if prev >= 0.0 => self.alpha_at(prev),
            _ => 1.0,
        };
        let beta_t = 1.0 - alpha_t;
        let beta_prev = 1.0 - alpha_prev;
        let current_alpha = alpha_t / alpha_prev;
        let current_beta = 1.0 - current_alpha;
        let (sqrt_alpha_t, sqrt_beta_t) = (alpha_t.sqrt(), beta_t.sqrt());
        let x0_coeff = alpha_prev.sqrt() * current_beta / beta_t;
        let sample_coeff = current_alpha.sqrt() * beta_prev / beta_t;
        let prediction = self.prediction;
        let clip = self.clip_range;
        for (x, &out) in sample.iter_mut().zip(model_output) {
            let mut x0 = match prediction {
                PredictionType::Epsilon => (*x - sqrt_beta_t * out) / sqrt_alpha_t,
                PredictionType::Sample => out,
                PredictionType::VPrediction => sqrt_alpha_t * *x - sqrt_beta_t * out,
            };
            if let Some(range) = clip {
                x0 = x0.clamp(-range, range);
            }
            *x = x0_coeff * x0 + sample_coeff * *x;
        }
        if t > 0.0 {
            let variance = (beta_prev / beta_t * current_beta).max(1e-20);
            let std = match self.variance {
                Variance::Small => variance.sqrt(),
                Variance::SmallLog => (0.5 * variance.ln()).exp(),
                Variance::Large => current_beta.sqrt(),
            };
            self.noise.resize(sample.len(), 0.0);
            noise.fill_standard_normal(&mut self.noise);
            for (x, &z) in sample.iter_mut().zip(&self.noise) {
                *x += std * z;
            }
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_alpha(self.alpha_at(self.timesteps()[index]), original, noise, out);
    }

    fn order(&self) -> usize {
        1
    }
}
