//! DPM-Solver SDE (diffusers `DPMSolverSDEScheduler`, k-diffusion's `sample_dpmpp_sde` with
//! eta 1, r 1/2): each step evaluates the model at the current sigma and at the log-midpoint
//! towards the next one, with an ancestral (noise-injecting) sub-step to each. One entry per model
//! call, as diffusers lists them: `[t0, tm0, t1, tm1, ..., tm(n-2), t(n-1)]`, `2n - 1` calls for
//! `n` steps; the last step, down to sigma 0, is a plain Euler step.
//!
//! Noise: diffusers draws the SDE's noise from a Brownian tree (torchsde's `BrownianInterval`,
//! seeded at random unless the config has `noise_sampler_seed`), so that the increments over
//! nested sigma intervals are consistent. Each draw it makes is one N(0, 1) tensor (the Brownian
//! increment divided by the square root of the interval length). Here every such draw is the next
//! N(0, 1) tensor of the job's noise source instead: the same distribution per draw and the same
//! number of draws (two per step but the last), but the increments of the two sub-steps of a step
//! are independent rather than correlated through the tree. Results are reproducible from the job's
//! seed; `noise_sampler_seed` is not read.
//!
//! Supported: every beta schedule, `trained_betas`, `epsilon` and `v_prediction`, the three
//! timestep spacings with `steps_offset`, `use_karras_sigmas`. Refused: `sample` prediction (as in
//! diffusers), the exponential / beta sigma schedules.

use super::config::{np_linspace, PredictionType, SchedulerConfig, TimestepSpacing};
use super::euler::{add_noise_sigma, interp_sigmas, sigma_to_t};
use super::k_sigmas::{interleave_twice, no_sample_prediction, sigma_x0, KSchedule};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

pub struct DpmSolverSdeScheduler {
    schedule: KSchedule,
    prediction: PredictionType,
    all_timesteps: Vec<f64>,
    /// `[s0, s1, s1, ..., s(n-1), s(n-1), 0]`.
    sigmas: Vec<f32>,
    /// The midpoint sigma of step `k` (between `s(k)` and `s(k+1)`), the model's input level at
    /// its second call.
    mid_sigmas: Vec<f32>,
    begin: usize,
    saved: Vec<f32>,
    second_call: bool,
    noise: Vec<f32>,
}

impl DpmSolverSdeScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        let prediction = config.prediction()?;
        no_sample_prediction(prediction, "dpm-sde")?;
        Ok(Self {
            schedule: KSchedule::new(config, "dpm-sde")?,
            prediction,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            mid_sigmas: Vec::new(),
            begin: 0,
            saved: Vec::new(),
            second_call: false,
            noise: Vec::new(),
        })
    }
}

/// `exp(-(t + (t_next - t) / 2))` with `t = -ln(sigma)`: the log-midpoint, float32 as in the step.
fn midpoint_sigma(sigma: f32, sigma_next: f32) -> f32 {
    let t = -sigma.ln();
    let t_next = -sigma_next.ln();
    (-(t + (t_next - t) * 0.5)).exp()
}

impl Scheduler for DpmSolverSdeScheduler {
    fn name(&self) -> &'static str {
        "dpm-sde"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let (timesteps, sigmas) = if self.schedule.spacing == TimestepSpacing::Linspace
            && !self.schedule.use_karras_sigmas
        {
            // This class's linspace is float64 (`dtype=float`), not rounded to float32.
            let mut timesteps =
                np_linspace(0.0, self.schedule.num_train_timesteps as f64 - 1.0, steps);
            timesteps.reverse();
            let sigmas = interp_sigmas(&self.schedule.train_sigmas, &timesteps);
            (timesteps, sigmas)
        } else {
            // (Karras sigmas span the same ends whether linspace is float64 or float32.)
            self.schedule.timesteps_and_sigmas(steps, false)
        };
        // Timesteps of the midpoints, from the float64 sigmas.
        let mut all = Vec::with_capacity(2 * steps);
        all.push(timesteps[0]);
        for k in 0..steps - 1 {
            let (t, t_next) = (-sigmas[k].ln(), -sigmas[k + 1].ln());
            let sigma_mid = (-(t + (t_next - t) * 0.5)).exp();
            all.push(sigma_to_t(sigma_mid, &self.schedule.log_sigmas));
            all.push(timesteps[k + 1]);
        }
        self.all_timesteps = all;
        let sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
        self.mid_sigmas = sigmas
            .windows(2)
            .map(|w| midpoint_sigma(w[0], w[1]))
            .collect();
        self.sigmas = interleave_twice(&sigmas, Some(0.0));
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
        let sigma = if index.is_multiple_of(2) {
            self.sigmas[i]
        } else {
            self.mid_sigmas[i / 2]
        };
        1.0 / (sigma * sigma + 1.0).sqrt()
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
            "dpm-sde: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let first = !self.second_call;
        let (sigma, sigma_next) = if first {
            (self.sigmas[i], self.sigmas[i + 1])
        } else {
            (self.sigmas[i - 1], self.sigmas[i])
        };
        let t = -sigma.ln();
        let mut t_next = -sigma_next.ln();
        let t_proposed = t + (t_next - t) * 0.5;
        let sigma_input = if first { sigma } else { (-t_proposed).exp() };
        let prediction = self.prediction;

        if sigma_next == 0.0 {
            let dt = sigma_next - sigma;
            for (x, &out) in sample.iter_mut().zip(model_output) {
                let x0 = sigma_x0(prediction, sigma_input, *x, out);
                *x += (*x - x0) / sigma * dt;
            }
            return;
        }
        if first {
            t_next = t_proposed;
        }
        let sigma_from = (-t).exp();
        let sigma_to = (-t_next).exp();
        let sigma_up = sigma_to.min(
            (sigma_to * sigma_to * (sigma_from * sigma_from - sigma_to * sigma_to)
                / (sigma_from * sigma_from))
                .sqrt(),
        );
        let sigma_down = (sigma_to * sigma_to - sigma_up * sigma_up).sqrt();
        let ancestral_t = -sigma_down.ln();
        let sample_coeff = (-ancestral_t).exp() / (-t).exp();
        let x0_coeff = -(t - ancestral_t).exp_m1();

        self.noise.resize(sample.len(), 0.0);
        noise.fill_standard_normal(&mut self.noise);
        if first {
            self.saved.clear();
            self.saved.extend_from_slice(sample);
            for ((x, &out), &z) in sample.iter_mut().zip(model_output).zip(&self.noise) {
                let x0 = sigma_x0(prediction, sigma_input, *x, out);
                *x = sample_coeff * *x + x0_coeff * x0 + z * sigma_up;
            }
        } else {
            for (((x, &out), &z), &start) in sample
                .iter_mut()
                .zip(model_output)
                .zip(&self.noise)
                .zip(&self.saved)
            {
                let x0 = sigma_x0(prediction, sigma_input, *x, out);
                *x = sample_coeff * start + x0_coeff * x0 + z * sigma_up;
            }
        }
        self.second_call = first;
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_sigma(self.sigmas[self.begin + index], original, noise, out);
    }

    fn order(&self) -> usize {
        2
    }
}
