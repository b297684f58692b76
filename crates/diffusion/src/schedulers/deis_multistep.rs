//! DEIS multistep (diffusers `DEISMultistepScheduler`, the "log-rho" variant): an exponential
//! integrator in `rho = sigma_t / alpha_t` over the history of noise predictions, orders 1 to 3,
//! one model call per step.
//!
//! Supported: every beta schedule, `trained_betas`, the three prediction types, the three
//! timestep spacings with `steps_offset`, `use_karras_sigmas`, `solver_order` 1-3,
//! `lower_order_final`. The class has no `rescale_betas_zero_snr` (ignored, as in diffusers).
//! Refused: `thresholding`, the exponential / beta / flow sigma schedules. As in diffusers, the
//! schedule ends at the smallest training sigma, not at 0, so the result keeps a trace of noise.

use super::config::{PredictionType, SchedulerConfig, TimestepSpacing};
use super::dpm_multistep::{
    add_noise_vp, dpm_update_weights, solver_schedule, Algorithm, LastSigma,
};
use super::multistep::{alpha_sigma, convert_output, linear_update, History, Target, VpSchedule};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

pub struct DeisMultistepScheduler {
    schedule: VpSchedule,
    spacing: TimestepSpacing,
    steps_offset: i64,
    prediction: PredictionType,
    solver_order: usize,
    lower_order_final: bool,
    use_karras_sigmas: bool,
    all_timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    begin: usize,
    history: History,
    lower_order_nums: usize,
}

impl DeisMultistepScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        config.check_sigma_options("deis-multi")?;
        if config.thresholding {
            return Err(SchedulerError::Unsupported {
                scheduler: "deis-multi",
                feature: "thresholding".into(),
            });
        }
        match config.algorithm_type.as_deref().unwrap_or("deis") {
            "deis" | "dpmsolver" | "dpmsolver++" => {}
            other => {
                return Err(SchedulerError::InvalidConfig(format!(
                    "algorithm_type {other:?} is not deis"
                )))
            }
        }
        match config.solver_type.as_deref().unwrap_or("logrho") {
            "logrho" | "midpoint" | "heun" | "bh1" | "bh2" => {}
            other => {
                return Err(SchedulerError::InvalidConfig(format!(
                    "solver_type {other:?} is not logrho"
                )))
            }
        }
        if !(1..=3).contains(&config.solver_order) {
            return Err(SchedulerError::InvalidConfig(format!(
                "solver_order must be 1, 2 or 3, not {}",
                config.solver_order
            )));
        }
        Ok(Self {
            schedule: VpSchedule::new(config, false)?,
            spacing: config.spacing(TimestepSpacing::Linspace)?,
            steps_offset: config.steps_offset,
            prediction: config.prediction()?,
            solver_order: config.solver_order,
            lower_order_final: config.lower_order_final.unwrap_or(true),
            use_karras_sigmas: config.use_karras_sigmas,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            begin: 0,
            history: History::new(config.solver_order),
            lower_order_nums: 0,
        })
    }
}

/// `ind_fn` of the second-order log-rho update, float32.
fn ind2(t: f32, b: f32, c: f32) -> f32 {
    t * (-c.ln() + t.ln() - 1.0) / (b.ln() - c.ln())
}

/// `ind_fn` of the third-order log-rho update, float32.
fn ind3(t: f32, b: f32, c: f32, d: f32) -> f32 {
    let (lt, lc, ld) = (t.ln(), c.ln(), d.ln());
    let numerator = t * (lc * (ld - lt + 1.0) - ld * lt + ld + lt * lt - 2.0 * lt + 2.0);
    let denominator = (b.ln() - c.ln()) * (b.ln() - d.ln());
    numerator / denominator
}

impl Scheduler for DeisMultistepScheduler {
    fn name(&self) -> &'static str {
        "deis-multi"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let (timesteps, sigmas) = solver_schedule(
            &self.schedule,
            self.spacing,
            steps,
            self.steps_offset,
            0,
            self.use_karras_sigmas.then_some((None, None, true)),
            if self.use_karras_sigmas {
                LastSigma::Repeat
            } else {
                LastSigma::TrainMin
            },
        );
        self.all_timesteps = timesteps;
        self.sigmas = sigmas;
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
        self.history.clear();
        self.lower_order_nums = 0;
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
            "deis-multi: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let n = self.all_timesteps.len();
        let lower_order_final = i == n - 1 && self.lower_order_final && n < 15;
        let lower_order_second = i + 2 == n && self.lower_order_final && n < 15;

        let converted = self.history.push_slot(sample.len());
        convert_output(
            self.prediction,
            Target::Noise,
            self.sigmas[i],
            model_output,
            sample,
            converted,
        );
        let order = if self.solver_order == 1 || self.lower_order_nums < 1 || lower_order_final {
            1
        } else if self.solver_order == 2 || self.lower_order_nums < 2 || lower_order_second {
            2
        } else {
            3
        };
        let history = &self.history;
        if order == 1 {
            let (a, w, _) = dpm_update_weights(
                Algorithm::DpmSolver,
                true,
                1,
                self.sigmas[i + 1],
                self.sigmas[i],
                self.sigmas[i],
                self.sigmas[i],
                false,
            );
            linear_update(sample, None, a, &[(history.back(1), w[0])]);
        } else {
            let rho = |sigma: f32| {
                let (alpha, sigma) = alpha_sigma(sigma);
                sigma / alpha
            };
            let (alpha_t, _) = alpha_sigma(self.sigmas[i + 1]);
            let (alpha_s0, _) = alpha_sigma(self.sigmas[i]);
            let (rt, r0, r1) = (
                rho(self.sigmas[i + 1]),
                rho(self.sigmas[i]),
                rho(self.sigmas[i - 1]),
            );
            let a = alpha_t / alpha_s0;
            if order == 2 {
                let coef1 = ind2(rt, r0, r1) - ind2(r0, r0, r1);
                let coef2 = ind2(rt, r1, r0) - ind2(r0, r1, r0);
                linear_update(
                    sample,
                    None,
                    a,
                    &[
                        (history.back(1), alpha_t * coef1),
                        (history.back(2), alpha_t * coef2),
                    ],
                );
            } else {
                let r2 = rho(self.sigmas[i - 2]);
                let coef1 = ind3(rt, r0, r1, r2) - ind3(r0, r0, r1, r2);
                let coef2 = ind3(rt, r1, r2, r0) - ind3(r0, r1, r2, r0);
                let coef3 = ind3(rt, r2, r0, r1) - ind3(r0, r2, r0, r1);
                linear_update(
                    sample,
                    None,
                    a,
                    &[
                        (history.back(1), alpha_t * coef1),
                        (history.back(2), alpha_t * coef2),
                        (history.back(3), alpha_t * coef3),
                    ],
                );
            }
        }
        if self.lower_order_nums < self.solver_order {
            self.lower_order_nums += 1;
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_vp(self.sigmas[self.begin + index], original, noise, out);
    }

    fn order(&self) -> usize {
        1
    }
}
