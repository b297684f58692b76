//! LMS (diffusers `LMSDiscreteScheduler`, k-diffusion's `sample_lms`): a linear multistep
//! method over the last 4 slopes, whose coefficients integrate the Lagrange basis polynomials
//! through the previous sigmas over the current sigma step (diffusers integrates numerically with
//! `scipy.integrate.quad`; the integrands are polynomials of degree <= 3, integrated exactly
//! here with 3-point Gauss-Legendre).
//!
//! Supported: every beta schedule, `trained_betas`, the three prediction types, the three
//! timestep spacings with `steps_offset`, `use_karras_sigmas`. Refused: the exponential / beta
//! sigma schedules. diffusers' `step` has an `order` argument (default 4) that its pipelines never
//! pass; it is 4 here.

use super::config::{PredictionType, SchedulerConfig};
use super::euler::add_noise_sigma;
use super::k_sigmas::{sigma_x0, KSchedule};
use super::multistep::History;
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

const ORDER: usize = 4;

pub struct LmsDiscreteScheduler {
    schedule: KSchedule,
    prediction: PredictionType,
    all_timesteps: Vec<f64>,
    /// One sigma per step, then 0.
    sigmas: Vec<f32>,
    begin: usize,
    derivatives: History,
}

impl LmsDiscreteScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        Ok(Self {
            schedule: KSchedule::new(config, "lms-discrete")?,
            prediction: config.prediction()?,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            begin: 0,
            derivatives: History::new(ORDER),
        })
    }

    /// `get_lms_coefficient(order, t, current_order)`: the integral over
    /// `[sigmas[t], sigmas[t + 1]]` of the Lagrange basis polynomial of node
    /// `sigmas[t - current_order]` among `sigmas[t - k]`, `k < order`.
    fn coefficient(&self, order: usize, t: usize, current: usize) -> f64 {
        let node = |k: usize| self.sigmas[t - k] as f64;
        let basis = |tau: f64| {
            let mut product = 1.0;
            for k in 0..order {
                if k != current {
                    product *= (tau - node(k)) / (node(current) - node(k));
                }
            }
            product
        };
        let (a, b) = (self.sigmas[t] as f64, self.sigmas[t + 1] as f64);
        let half = (b - a) / 2.0;
        let mid = (a + b) / 2.0;
        let x = (3.0f64 / 5.0).sqrt();
        half * (5.0 / 9.0 * basis(mid - half * x)
            + 8.0 / 9.0 * basis(mid)
            + 5.0 / 9.0 * basis(mid + half * x))
    }
}

impl Scheduler for LmsDiscreteScheduler {
    fn name(&self) -> &'static str {
        "lms-discrete"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let (timesteps, sigmas) = self.schedule.timesteps_and_sigmas(steps, false);
        self.all_timesteps = timesteps.iter().map(|&t| t as f32 as f64).collect();
        self.sigmas = sigmas.iter().map(|&s| s as f32).collect();
        self.sigmas.push(0.0);
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
        self.derivatives.clear();
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
            "lms-discrete: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let sigma = self.sigmas[i];
        let prediction = self.prediction;
        let derivative = self.derivatives.push_slot(sample.len());
        for ((d, &x), &out) in derivative.iter_mut().zip(sample.iter()).zip(model_output) {
            *d = (x - sigma_x0(prediction, sigma, x, out)) / sigma;
        }
        // As in diffusers, the order follows the position in the full schedule, and only the
        // slopes of this run are combined.
        let order = (i + 1).min(ORDER);
        let used = order.min(self.derivatives.len());
        let mut coefficients = [0f32; ORDER];
        for (k, c) in coefficients.iter_mut().enumerate().take(used) {
            *c = self.coefficient(order, i, k) as f32;
        }
        let derivatives = &self.derivatives;
        let slopes: [&[f32]; ORDER] = std::array::from_fn(|k| {
            if k < used {
                derivatives.back(k + 1)
            } else {
                &[]
            }
        });
        for (j, x) in sample.iter_mut().enumerate() {
            let mut acc = 0f32;
            for k in 0..used {
                acc += coefficients[k] * slopes[k][j];
            }
            *x += acc;
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_sigma(self.sigmas[self.begin + index], original, noise, out);
    }

    fn order(&self) -> usize {
        1
    }
}
