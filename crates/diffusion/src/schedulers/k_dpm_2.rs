//! KDPM2 (diffusers `KDPM2DiscreteScheduler`, k-diffusion's `sample_dpm_2`): each step evaluates
//! the model at the current sigma and at the log-midpoint sigma towards the next one, then steps
//! with the midpoint slope. One entry per model call, as diffusers lists them:
//! `[t0, tm1, t1, tm2, t2, ..., tm(n-1), t(n-1)]` (`tm` the midpoints' timesteps), `2n - 1` calls
//! for `n` steps (the last step, down to sigma 0, is a plain Euler step).
//!
//! Supported: every beta schedule, `trained_betas`, `epsilon` and `v_prediction`, the three
//! timestep spacings with `steps_offset`, `use_karras_sigmas`. Refused: `sample` prediction (as in
//! diffusers), the exponential / beta sigma schedules.

use super::config::{PredictionType, SchedulerConfig};
use super::euler::add_noise_sigma;
use super::k_sigmas::{
    interleave_twice, log_midpoint, no_sample_prediction, sigma_to_t_f32, sigma_x0, KSchedule,
};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

pub struct KDpm2DiscreteScheduler {
    schedule: KSchedule,
    prediction: PredictionType,
    all_timesteps: Vec<f64>,
    /// `[s0, s1, s1, ..., s(n-1), s(n-1), 0, 0, 0]`.
    sigmas: Vec<f32>,
    /// The log-midpoints in the same layout: entry `2k - 1` and `2k` hold `sqrt(s(k-1) s(k))`.
    sigmas_interpol: Vec<f32>,
    begin: usize,
    /// The sample the current step started from, between its two calls.
    saved: Vec<f32>,
    second_call: bool,
}

impl KDpm2DiscreteScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        let prediction = config.prediction()?;
        no_sample_prediction(prediction, "k-dpm-2")?;
        Ok(Self {
            schedule: KSchedule::new(config, "k-dpm-2")?,
            prediction,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            sigmas_interpol: Vec::new(),
            begin: 0,
            saved: Vec::new(),
            second_call: false,
        })
    }
}

impl Scheduler for KDpm2DiscreteScheduler {
    fn name(&self) -> &'static str {
        "k-dpm-2"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let (timesteps, sigmas) = self.schedule.timesteps_and_sigmas(steps, true);
        // Without Karras sigmas diffusers keeps float32 timesteps; with them, float64 ones.
        let karras = self.schedule.use_karras_sigmas;
        let cast = |t: f64| if karras { t } else { t as f32 as f64 };
        let mut sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
        sigmas.push(0.0);
        // interpol[k] = exp(lerp(ln s[k], ln s[k - 1], 0.5)); interpol[0] is never used.
        let interpol: Vec<f32> = (0..sigmas.len())
            .map(|k| {
                if k == 0 {
                    0.0
                } else {
                    log_midpoint(sigmas[k], sigmas[k - 1])
                }
            })
            .collect();
        let mut all = Vec::with_capacity(2 * steps);
        all.push(cast(timesteps[0]));
        for k in 1..steps {
            let tm = sigma_to_t_f32(interpol[k], &self.schedule.log_sigmas) as f64;
            all.push(cast(tm));
            all.push(cast(timesteps[k]));
        }
        self.all_timesteps = all;
        let last = *sigmas.last().unwrap();
        self.sigmas = interleave_twice(&sigmas, Some(last));
        self.sigmas_interpol = interleave_twice(&interpol, Some(*interpol.last().unwrap()));
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
        self.second_call = false;
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
        let i = self.begin + index;
        // Calls alternate from the start of the (tail of the) schedule.
        let sigma = if index.is_multiple_of(2) {
            self.sigmas[i]
        } else {
            self.sigmas_interpol[i]
        };
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
            "k-dpm-2: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let prediction = self.prediction;
        if !self.second_call {
            let sigma = self.sigmas[i];
            let sigma_interpol = self.sigmas_interpol[i + 1];
            let dt = sigma_interpol - sigma;
            self.saved.clear();
            self.saved.extend_from_slice(sample);
            for (x, &out) in sample.iter_mut().zip(model_output) {
                let derivative = (*x - sigma_x0(prediction, sigma, *x, out)) / sigma;
                *x += derivative * dt;
            }
            self.second_call = true;
        } else {
            let sigma = self.sigmas[i - 1];
            let sigma_interpol = self.sigmas_interpol[i];
            let dt = self.sigmas[i] - sigma;
            for ((x, &out), &start) in sample.iter_mut().zip(model_output).zip(&self.saved) {
                let derivative =
                    (*x - sigma_x0(prediction, sigma_interpol, *x, out)) / sigma_interpol;
                *x = start + derivative * dt;
            }
            self.second_call = false;
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_sigma(self.sigmas[self.begin + index], original, noise, out);
    }

    fn order(&self) -> usize {
        2
    }
}
