//! KDPM2 ancestral (diffusers `KDPM2AncestralDiscreteScheduler`, k-diffusion's
//! `sample_dpm_2_ancestral`): a KDPM2 step down to the ancestral `sigma_down`, then fresh noise of
//! size `sigma_up`. One entry per model call, as diffusers lists them:
//! `[t0, tm0, t1, tm1, ..., tm(n-2), t(n-1)]` (`tm` the midpoints' timesteps), `2n - 1` calls for
//! `n` steps; noise is drawn at every midpoint call (`n - 1` draws), from the job's noise source.
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

pub struct KDpm2AncestralDiscreteScheduler {
    schedule: KSchedule,
    prediction: PredictionType,
    all_timesteps: Vec<f64>,
    /// `[s0, s1, s1, ..., s(n-1), s(n-1), 0, 0, 0]`, and the midpoints, `sigma_up` and
    /// `sigma_down` of each step in the same layout.
    sigmas: Vec<f32>,
    sigmas_interpol: Vec<f32>,
    sigmas_up: Vec<f32>,
    sigmas_down: Vec<f32>,
    begin: usize,
    saved: Vec<f32>,
    second_call: bool,
    noise: Vec<f32>,
}

impl KDpm2AncestralDiscreteScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        let prediction = config.prediction()?;
        no_sample_prediction(prediction, "k-dpm-2-a")?;
        Ok(Self {
            schedule: KSchedule::new(config, "k-dpm-2-a")?,
            prediction,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            sigmas_interpol: Vec::new(),
            sigmas_up: Vec::new(),
            sigmas_down: Vec::new(),
            begin: 0,
            saved: Vec::new(),
            second_call: false,
            noise: Vec::new(),
        })
    }
}

impl Scheduler for KDpm2AncestralDiscreteScheduler {
    fn name(&self) -> &'static str {
        "k-dpm-2-a"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let (timesteps, sigmas) = self.schedule.timesteps_and_sigmas(steps, true);
        let karras = self.schedule.use_karras_sigmas;
        let cast = |t: f64| if karras { t } else { t as f32 as f64 };
        let mut sigmas: Vec<f32> = sigmas.iter().map(|&s| s as f32).collect();
        sigmas.push(0.0);
        let n = sigmas.len();
        let mut up = vec![0f32; n];
        let mut down = vec![0f32; n];
        let mut interpol = vec![0f32; n];
        for k in 0..n {
            let s = sigmas[k];
            let next = if k + 1 < n { sigmas[k + 1] } else { 0.0 };
            up[k] = (next * next * (s * s - next * next) / (s * s)).sqrt();
            down[k] = if k + 1 < n {
                (next * next - up[k] * up[k]).sqrt()
            } else {
                0.0
            };
            interpol[k] = if k + 2 >= n {
                0.0
            } else {
                log_midpoint(s, down[k])
            };
        }
        let mut all = Vec::with_capacity(2 * steps);
        all.push(cast(timesteps[0]));
        for k in 0..steps - 1 {
            let tm = sigma_to_t_f32(interpol[k], &self.schedule.log_sigmas) as f64;
            all.push(cast(tm));
            all.push(cast(timesteps[k + 1]));
        }
        self.all_timesteps = all;
        let expand = |values: &[f32]| interleave_twice(values, Some(values[values.len() - 1]));
        self.sigmas = expand(&sigmas);
        self.sigmas_interpol = expand(&interpol);
        self.sigmas_up = expand(&up);
        self.sigmas_down = expand(&down);
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
            self.sigmas_interpol[i - 1]
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
            "k-dpm-2-a: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let prediction = self.prediction;
        if !self.second_call {
            let sigma = self.sigmas[i];
            let dt = self.sigmas_interpol[i] - sigma;
            self.saved.clear();
            self.saved.extend_from_slice(sample);
            for (x, &out) in sample.iter_mut().zip(model_output) {
                let derivative = (*x - sigma_x0(prediction, sigma, *x, out)) / sigma;
                *x += derivative * dt;
            }
            self.second_call = true;
        } else {
            let sigma = self.sigmas[i - 1];
            let sigma_interpol = self.sigmas_interpol[i - 1];
            let sigma_up = self.sigmas_up[i - 1];
            let dt = self.sigmas_down[i - 1] - sigma;
            self.noise.resize(sample.len(), 0.0);
            noise.fill_standard_normal(&mut self.noise);
            for (((x, &out), &start), &z) in sample
                .iter_mut()
                .zip(model_output)
                .zip(&self.saved)
                .zip(&self.noise)
            {
                let derivative =
                    (*x - sigma_x0(prediction, sigma_interpol, *x, out)) / sigma_interpol;
                *x = start + derivative * dt + z * sigma_up;
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
