//! Improved PNDM (diffusers `IPNDMScheduler`, from the "fourth-order iterative" sampler of
//! "Fast Sampling of Diffusion Models with Exponential Integrator"): Adams-Bashforth combinations
//! (orders 1 to 4) of the last model outputs on a fixed trigonometric schedule.
//!
//! Like diffusers' class, this one has its own schedule: `sigma = sin(s pi / 2)^2`,
//! `alpha = sqrt(1 - sigma^2)` for `s` from 1 down to 0, and timesteps `atan2(sigma, alpha) * 2 /
//! pi` in (0, 1], which is what diffusers passes to the model. It reads no beta schedule,
//! prediction type or spacing from the config (diffusers' class has only `num_train_timesteps` and
//! `trained_betas`); `trained_betas` is refused.

use super::config::{torch_linspace_f32, SchedulerConfig};
use super::multistep::History;
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

pub struct IpndmScheduler {
    num_train_timesteps: usize,
    /// `sigma` (diffusers' `betas`) and `alpha` per step, one more than the timesteps.
    sigmas: Vec<f32>,
    alphas: Vec<f32>,
    all_timesteps: Vec<f64>,
    begin: usize,
    ets: History,
    combined: Vec<f32>,
}

impl IpndmScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        if config.trained_betas.is_some() {
            return Err(SchedulerError::Unsupported {
                scheduler: "ipndm",
                feature: "trained_betas".into(),
            });
        }
        Ok(Self {
            num_train_timesteps: config.num_train_timesteps,
            sigmas: Vec::new(),
            alphas: Vec::new(),
            all_timesteps: Vec::new(),
            begin: 0,
            ets: History::new(4),
            combined: Vec::new(),
        })
    }
}

impl Scheduler for IpndmScheduler {
    fn name(&self) -> &'static str {
        "ipndm"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.num_train_timesteps);
        let mut s = torch_linspace_f32(1.0, 0.0, steps + 1);
        s.pop();
        s.push(0.0);
        let half_pi = std::f32::consts::PI / 2.0;
        self.sigmas = s
            .iter()
            .map(|&v| {
                let sine = (v * half_pi).sin();
                sine * sine
            })
            .collect();
        self.alphas = self.sigmas.iter().map(|&b| (1.0 - b * b).sqrt()).collect();
        self.all_timesteps = self
            .sigmas
            .iter()
            .zip(&self.alphas)
            .take(steps)
            .map(|(&b, &a)| (b.atan2(a) / std::f32::consts::PI * 2.0) as f64)
            .collect();
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
        self.ets.clear();
    }

    fn timesteps(&self) -> &[f64] {
        &self.all_timesteps[self.begin..]
    }

    fn sigmas(&self) -> Option<&[f32]> {
        Some(&self.sigmas)
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
            "ipndm: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let (sigma, alpha) = (self.sigmas[i], self.alphas[i]);
        let newest = self.ets.push_slot(sample.len());
        for ((e, &x), &m) in newest.iter_mut().zip(sample.iter()).zip(model_output) {
            *e = x * sigma + m * alpha;
        }
        let ets = &self.ets;
        self.combined.resize(sample.len(), 0.0);
        match ets.len() {
            1 => self.combined.copy_from_slice(ets.back(1)),
            2 => {
                let (e1, e2) = (ets.back(1), ets.back(2));
                for (j, c) in self.combined.iter_mut().enumerate() {
                    *c = (3.0 * e1[j] - e2[j]) / 2.0;
                }
            }
            3 => {
                let (e1, e2, e3) = (ets.back(1), ets.back(2), ets.back(3));
                for (j, c) in self.combined.iter_mut().enumerate() {
                    *c = (23.0 * e1[j] - 16.0 * e2[j] + 5.0 * e3[j]) / 12.0;
                }
            }
            _ => {
                const TWENTY_FOURTH: f32 = (1.0f64 / 24.0) as f32;
                let (e1, e2, e3, e4) = (ets.back(1), ets.back(2), ets.back(3), ets.back(4));
                for (j, c) in self.combined.iter_mut().enumerate() {
                    *c = TWENTY_FOURTH * (55.0 * e1[j] - 59.0 * e2[j] + 37.0 * e3[j] - 9.0 * e4[j]);
                }
            }
        }
        let (next_sigma, next_alpha) = (self.sigmas[i + 1], self.alphas[i + 1]);
        let divisor = alpha.max(1e-8);
        for (x, &e) in sample.iter_mut().zip(&self.combined) {
            let pred = (*x - sigma * e) / divisor;
            *x = next_alpha * pred + e * next_sigma;
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        // diffusers' IPNDMScheduler has no add_noise; this is its schedule's forward process.
        let i = self.begin + index;
        let (sigma, alpha) = (self.sigmas[i], self.alphas[i]);
        assert_eq!(original.len(), noise.len(), "add_noise: lengths differ");
        assert_eq!(
            original.len(),
            out.len(),
            "add_noise: output length differs"
        );
        for ((o, &x), &z) in out.iter_mut().zip(original).zip(noise) {
            *o = alpha * x + sigma * z;
        }
    }

    fn order(&self) -> usize {
        1
    }
}
