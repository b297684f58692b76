//! Heun (diffusers `HeunDiscreteScheduler`, k-diffusion's `sample_heun` without churn): an Euler
//! step to the next sigma, then a second model call there and the average of both slopes.
//! diffusers lists every timestep but the first twice, so there is one entry per model call:
//! `[t0, t1, t1, t2, t2, ..., t(n-1), t(n-1)]`, `2n - 1` calls for `n` steps (the last step,
//! down to sigma 0, is a plain Euler step).
//!
//! Supported: every beta schedule but `exp`, `trained_betas`, the three prediction types, the
//! three timestep spacings with `steps_offset`, `use_karras_sigmas`, `clip_sample` /
//! `clip_sample_range`. Refused: the exponential / beta sigma schedules.

use super::config::{PredictionType, SchedulerConfig};
use super::euler::add_noise_sigma;
use super::k_sigmas::{interleave_twice, sigma_x0, KSchedule};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

pub struct HeunDiscreteScheduler {
    schedule: KSchedule,
    prediction: PredictionType,
    clip_range: Option<f32>,
    all_timesteps: Vec<f64>,
    /// `[s0, s1, s1, ..., s(n-1), s(n-1), 0]`.
    sigmas: Vec<f32>,
    begin: usize,
    /// Between the two calls of a step: its first slope, its dt and its starting sample.
    derivative: Vec<f32>,
    saved: Vec<f32>,
    dt: Option<f32>,
}

impl HeunDiscreteScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        Ok(Self {
            schedule: KSchedule::new(config, "heun")?,
            prediction: config.prediction()?,
            clip_range: config
                .clip_sample
                .unwrap_or(false)
                .then_some(config.clip_sample_range as f32),
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            begin: 0,
            derivative: Vec::new(),
            saved: Vec::new(),
            dt: None,
        })
    }
}

impl Scheduler for HeunDiscreteScheduler {
    fn name(&self) -> &'static str {
        "heun"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let (timesteps, sigmas) = self.schedule.timesteps_and_sigmas(steps, false);
        let timesteps: Vec<f64> = timesteps.iter().map(|&t| t as f32 as f64).collect();
        let sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
        self.all_timesteps = interleave_twice(&timesteps, None);
        self.sigmas = interleave_twice(&sigmas, Some(0.0));
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
        self.dt = None;
    }

    fn timesteps(&self) -> &[f64] {
        &self.all_timesteps[self.begin..]
    }

    fn sigmas(&self) -> Option<&[f32]> {
        Some(&self.sigmas)
    }

    fn init_noise_sigma(&self) -> f32 {
        self.schedule.init_noise_sigma(&self.sigmas)
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
            "heun: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let prediction = self.prediction;
        let clip = self.clip_range;
        let x0_of = |sigma: f32, x: f32, out: f32| {
            let x0 = sigma_x0(prediction, sigma, x, out);
            match clip {
                Some(range) => x0.clamp(-range, range),
                None => x0,
            }
        };
        match self.dt.take() {
            None => {
                let sigma = self.sigmas[i];
                let dt = self.sigmas[i + 1] - sigma;
                self.derivative.resize(sample.len(), 0.0);
                self.saved.clear();
                self.saved.extend_from_slice(sample);
                for ((x, &out), d) in sample
                    .iter_mut()
                    .zip(model_output)
                    .zip(self.derivative.iter_mut())
                {
                    *d = (*x - x0_of(sigma, *x, out)) / sigma;
                    *x += *d * dt;
                }
                self.dt = Some(dt);
            }
            Some(dt) => {
                let sigma_next = self.sigmas[i];
                for (((x, &out), &d1), &start) in sample
                    .iter_mut()
                    .zip(model_output)
                    .zip(&self.derivative)
                    .zip(&self.saved)
                {
                    let d2 = (*x - x0_of(sigma_next, *x, out)) / sigma_next;
                    *x = start + (d1 + d2) / 2.0 * dt;
                }
            }
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_sigma(self.sigmas[self.begin + index], original, noise, out);
    }

    fn order(&self) -> usize {
        2
    }
}
