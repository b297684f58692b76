//! UniPC multistep (diffusers `UniPCMultistepScheduler`): a UniP predictor step per model call,
//! preceded (from the second call on) by a UniC corrector that refines the previous step with the
//! new model output, so the corrector costs no extra model call.
//!
//! Supported: every beta schedule, `trained_betas`, `rescale_betas_zero_snr`, the three
//! prediction types, the three timestep spacings with `steps_offset`, `use_karras_sigmas` with
//! `sigma_min` / `sigma_max`, `solver_order` 1-3, `solver_type` `bh1` / `bh2`, `predict_x0`,
//! `lower_order_final`, `disable_corrector`, `final_sigmas_type`. Refused: `thresholding`,
//! `solver_p`, the exponential / beta / flow sigma schedules.
//!
//! One deliberate difference: a first-order predictor step has no correction term, and diffusers
//! still multiplies its zero by `B(h)`; when the last sigma is 0 and `B(h)` is infinite (`bh1`, or
//! `predict_x0` off) diffusers produces NaN there. We leave the zero term out. `predict_x0` off with
//! a final sigma of 0 is NaN in diffusers whatever the solver type, and refused here.

use super::config::{PredictionType, SchedulerConfig, TimestepSpacing};
use super::dpm_multistep::{add_noise_vp, parse_final_zero, solver_schedule, LastSigma};
use super::multistep::{
    alpha_sigma, convert_output, lambda, linear_update, solve, History, Target, VpSchedule,
};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

pub struct UniPcMultistepScheduler {
    schedule: VpSchedule,
    spacing: TimestepSpacing,
    steps_offset: i64,
    prediction: PredictionType,
    solver_order: usize,
    bh1: bool,
    predict_x0: bool,
    lower_order_final: bool,
    disable_corrector: Vec<usize>,
    final_zero: bool,
    use_karras_sigmas: bool,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    all_timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    begin: usize,
    /// Converted outputs, newest last; one more than the order, for the corrector.
    history: History,
    lower_order_nums: usize,
    /// The order of the previous predictor step (the corrector's order).
    this_order: usize,
    last_sample: Vec<f32>,
    has_last_sample: bool,
}

impl UniPcMultistepScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        config.check_sigma_options("unipc-multi")?;
        if config.thresholding {
            return Err(SchedulerError::Unsupported {
                scheduler: "unipc-multi",
                feature: "thresholding".into(),
            });
        }
        let bh1 = match config.solver_type.as_deref().unwrap_or("bh2") {
            "bh1" => true,
            "bh2" | "midpoint" | "heun" | "logrho" => false,
            other => {
                return Err(SchedulerError::InvalidConfig(format!(
                    "solver_type {other:?} is not one of bh1, bh2"
                )))
            }
        };
        if !(1..=3).contains(&config.solver_order) {
            return Err(SchedulerError::InvalidConfig(format!(
                "solver_order must be 1, 2 or 3, not {}",
                config.solver_order
            )));
        }
        let final_zero = parse_final_zero(&config.final_sigmas_type)?;
        if final_zero && !config.predict_x0 {
            // sigma_t * (e^h - 1) at sigma_t = 0 is 0 * inf: NaN in diffusers.
            return Err(SchedulerError::InvalidConfig(
                "predict_x0 false needs final_sigmas_type sigma_min".into(),
            ));
        }
        Ok(Self {
            schedule: VpSchedule::new(config, true)?,
            spacing: config.spacing(TimestepSpacing::Linspace)?,
            steps_offset: config.steps_offset,
            prediction: config.prediction()?,
            solver_order: config.solver_order,
            bh1,
            predict_x0: config.predict_x0,
            lower_order_final: config.lower_order_final.unwrap_or(true),
            disable_corrector: config.disable_corrector.clone(),
            final_zero,
            use_karras_sigmas: config.use_karras_sigmas,
            sigma_min: config.sigma_min,
            sigma_max: config.sigma_max,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            begin: 0,
            history: History::new(config.solver_order + 1),
            lower_order_nums: 0,
            this_order: 1,
            last_sample: Vec::new(),
            has_last_sample: false,
        })
    }

    fn target(&self) -> Target {
        if self.predict_x0 {
            Target::Data
        } else {
            Target::Noise
        }
    }

    /// The scalars of a UniP (`corrector` false) or UniC update from `sigmas[s0]` to
    /// `sigmas[t]`, with the older points `sigmas[s0 - 1 - k]` ... Returns the sample
    /// coefficient, the weight of `m0`, of each older output `m_k` (k = 1..order) and, for the
    /// corrector, of the new output.
    fn weights(&self, t: usize, s0: usize, order: usize, corrector: bool) -> (f32, [f32; 4], f32) {
        let (alpha_t, sigma_t) = alpha_sigma(self.sigmas[t]);
        let (alpha_s0, sigma_s0) = alpha_sigma(self.sigmas[s0]);
        let lambda_t = lambda(self.sigmas[t]);
        let lambda_s0 = lambda(self.sigmas[s0]);
        let h = lambda_t - lambda_s0;
        // rks of the older points, then 1.
        let mut rks = [1f32; 4];
        for (k, rk) in rks.iter_mut().enumerate().take(order - 1) {
            let si = s0 - (k + 1);
            *rk = (lambda(self.sigmas[si]) - lambda_s0) / h;
        }
        let hh = if self.predict_x0 { -h } else { h };
        let h_phi_1 = hh.exp_m1();
        let mut h_phi_k = h_phi_1 / hh - 1.0;
        let mut factorial = 1f32;
        let b_h = if self.bh1 { hh } else { hh.exp_m1() };
        let mut r = [[0f64; 4]; 4];
        let mut b = [0f64; 4];
        for i in 1..=order {
            for (k, &rk) in rks.iter().enumerate().take(order) {
                // rks has order entries: order - 1 older points, then 1.
                let rk = if k == order - 1 { 1.0 } else { rk };
                r[i - 1][k] = (rk as f64).powi(i as i32 - 1);
            }
            b[i - 1] = (h_phi_k * factorial / b_h) as f64;
            factorial *= (i + 1) as f32;
            h_phi_k = h_phi_k / hh - 1.0 / factorial;
        }
        let (a, scale) = if self.predict_x0 {
            (sigma_t / sigma_s0, alpha_t)
        } else {
            (alpha_t / alpha_s0, sigma_t)
        };
        let c = scale * b_h;
        let mut w = [0f32; 4];
        w[0] = -(scale * h_phi_1);
        let mut w_new = 0.0;
        if corrector {
            let rhos = if order == 1 {
                [0.5, 0.0, 0.0, 0.0]
            } else {
                solve(r, b, order)
            };
            for k in 0..order - 1 {
                let weight = c * rhos[k] as f32 / rks[k];
                w[k + 1] -= weight;
                w[0] += weight;
            }
            let last = c * rhos[order - 1] as f32;
            w_new = -last;
            w[0] += last;
        } else if order >= 2 {
            let rhos = if order == 2 {
                [0.5, 0.0, 0.0, 0.0]
            } else {
                solve(r, b, order - 1)
            };
            for k in 0..order - 1 {
                let weight = c * rhos[k] as f32 / rks[k];
                w[k + 1] -= weight;
                w[0] += weight;
            }
        }
        (a, w, w_new)
    }
}

impl Scheduler for UniPcMultistepScheduler {
    fn name(&self) -> &'static str {
        "unipc-multi"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let last = match (self.final_zero, self.use_karras_sigmas) {
            (true, _) => LastSigma::Zero,
            (false, true) => LastSigma::Repeat,
            (false, false) => LastSigma::TrainMin,
        };
        let (timesteps, sigmas) = solver_schedule(
            &self.schedule,
            self.spacing,
            steps,
            self.steps_offset,
            0,
            self.use_karras_sigmas
                .then_some((self.sigma_min, self.sigma_max, true)),
            last,
        );
        self.all_timesteps = timesteps;
        self.sigmas = sigmas;
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
        self.history.clear();
        self.lower_order_nums = 0;
        self.this_order = 1;
        self.has_last_sample = false;
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
            "unipc-multi: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let n = self.all_timesteps.len();
        let use_corrector =
            i > 0 && !self.disable_corrector.contains(&(i - 1)) && self.has_last_sample;

        let target = self.target();
        let converted = self.history.push_slot(sample.len());
        convert_output(
            self.prediction,
            target,
            self.sigmas[i],
            model_output,
            sample,
            converted,
        );

        if use_corrector {
            // The history before this call is back(2), back(3), ...; the new output is back(1).
            let order = self.this_order;
            let (a, w, w_new) = self.weights(i, i - 1, order, true);
            let history = &self.history;
            let mut terms: [(&[f32], f32); 5] = [(&[], 0.0); 5];
            terms[0] = (history.back(1), w_new);
            for k in 0..order {
                terms[k + 1] = (history.back(k + 2), w[k]);
            }
            linear_update(sample, Some(&self.last_sample), a, &terms[..order + 1]);
        }

        let this_order = if self.lower_order_final {
            self.solver_order.min(n - i)
        } else {
            self.solver_order
        };
        self.this_order = this_order.min(self.lower_order_nums + 1);
        self.last_sample.clear();
        self.last_sample.extend_from_slice(sample);
        self.has_last_sample = true;

        let order = self.this_order;
        let (a, w, _) = self.weights(i + 1, i, order, false);
        let history = &self.history;
        let mut terms: [(&[f32], f32); 4] = [(&[], 0.0); 4];
        for k in 0..order {
            terms[k] = (history.back(k + 1), w[k]);
        }
        linear_update(sample, None, a, &terms[..order]);
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
