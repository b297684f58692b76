//! LCM (diffusers `LCMScheduler`, latent consistency models): every step maps the sample to the
//! model's consistency estimate of x0 (`c_skip * x + c_out * x0`), then re-noises it to the next
//! timestep with fresh noise from the job's noise source (all steps but the last). The timesteps
//! are picked from the `original_inference_steps`-long schedule the model was distilled on.
//!
//! Supported: every beta schedule, `trained_betas`, `rescale_betas_zero_snr`, the three
//! prediction types, `original_inference_steps`, `timestep_scaling`, `set_alpha_to_one`,
//! `clip_sample` / `clip_sample_range`. Like diffusers' class, this one ignores
//! `timestep_spacing` and `steps_offset`. Refused: `thresholding`. One difference: diffusers
//! raises for more steps than `original_inference_steps` (50 by default); the step count is
//! clamped to it here, so a request for 100 LCM steps runs 50.

use super::config::{PredictionType, SchedulerConfig};
use super::{
    add_noise_alpha, clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError,
};

pub struct LcmScheduler {
    alphas_cumprod: Vec<f32>,
    final_alpha_cumprod: f32,
    num_train_timesteps: usize,
    original_steps: usize,
    timestep_scaling: f32,
    prediction: PredictionType,
    clip_range: Option<f32>,
    num_inference_steps: usize,
    all_timesteps: Vec<f64>,
    begin: usize,
    noise: Vec<f32>,
}

impl LcmScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        if config.thresholding {
            return Err(SchedulerError::Unsupported {
                scheduler: "lcm",
                feature: "thresholding".into(),
            });
        }
        let original_steps = config.original_inference_steps;
        if original_steps == 0 || original_steps > config.num_train_timesteps {
            return Err(SchedulerError::InvalidConfig(format!(
                "original_inference_steps must be in 1..={}, not {original_steps}",
                config.num_train_timesteps
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
            original_steps,
            timestep_scaling: config.timestep_scaling as f32,
            prediction: config.prediction()?,
            clip_range: config
                .clip_sample
                .unwrap_or(false)
                .then_some(config.clip_sample_range as f32),
            num_inference_steps: 0,
            all_timesteps: Vec::new(),
            begin: 0,
            noise: Vec::new(),
        })
    }

    fn alpha_at(&self, timestep: f64) -> f32 {
        if timestep >= 0.0 {
            self.alphas_cumprod[(timestep as usize).min(self.alphas_cumprod.len() - 1)]
        } else {
            self.final_alpha_cumprod
        }
    }
}

impl Scheduler for LcmScheduler {
    fn name(&self) -> &'static str {
        "lcm"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.num_train_timesteps).min(self.original_steps);
        let k = self.num_train_timesteps / self.original_steps;
        // The distillation schedule, descending: original_steps * k - 1, ..., 2k - 1, k - 1.
        let origin: Vec<f64> = (1..=self.original_steps)
            .rev()
            .map(|i| (i * k) as f64 - 1.0)
            .collect();
        // floor(np.linspace(0, len, steps, endpoint=False)).
        let stride = origin.len() as f64 / steps as f64;
        self.all_timesteps = (0..steps)
            .map(|i| origin[((i as f64 * stride).floor() as usize).min(origin.len() - 1)])
            .collect();
        self.num_inference_steps = steps;
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
            "lcm: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let t = self.all_timesteps[i];
        let prev = self.all_timesteps.get(i + 1).copied().unwrap_or(t);
        let alpha_t = self.alpha_at(t);
        let alpha_prev = self.alpha_at(prev);
        let (sqrt_alpha_t, sqrt_beta_t) = (alpha_t.sqrt(), (1.0 - alpha_t).sqrt());
        // Boundary-condition scalings, sigma_data = 0.5.
        let scaled = t as f32 * self.timestep_scaling;
        let c_skip = 0.25 / (scaled * scaled + 0.25);
        let c_out = scaled / (scaled * scaled + 0.25).sqrt();
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
            *x = c_out * x0 + c_skip * *x;
        }
        if i + 1 != self.num_inference_steps {
            self.noise.resize(sample.len(), 0.0);
            noise.fill_standard_normal(&mut self.noise);
            let (a, b) = (alpha_prev.sqrt(), (1.0 - alpha_prev).sqrt());
            for (x, &z) in sample.iter_mut().zip(&self.noise) {
                *x = a * *x + b * z;
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
