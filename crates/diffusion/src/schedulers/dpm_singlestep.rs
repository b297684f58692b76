//! DPM-Solver singlestep (diffusers `DPMSolverSinglestepScheduler`): the schedule is cut into
//! groups of 1 to `solver_order` model calls; every call of a group steps from the sample the
//! group started at, with the outputs gathered so far (one model call per timestep).
//!
//! Supported: every beta schedule, `trained_betas`, the three prediction types,
//! `lambda_min_clipped`, `use_karras_sigmas`, `solver_order` 1-3, `algorithm_type`
//! `dpmsolver++` / `dpmsolver` / `sde-dpmsolver++` (noise from the job's noise source),
//! `solver_type` `midpoint` / `heun`, `lower_order_final` (switched on, as diffusers does, for step
//! counts that are not a multiple of the order and for a final sigma of zero),
//! `final_sigmas_type`. Like diffusers' class, this one always spaces its timesteps with
//! `linspace` and reads neither `timestep_spacing` nor `steps_offset`. Refused: `thresholding`,
//! learned variances, the exponential / beta / flow sigma schedules, `dpmsolver` with a final
//! sigma of zero.

use super::config::{PredictionType, SchedulerConfig, TimestepSpacing};
use super::dpm_multistep::{
    add_noise_vp, check_dpm_config, dpm_update_weights, parse_final_zero, parse_midpoint,
    solver_schedule, Algorithm, LastSigma,
};
use super::multistep::{convert_output, linear_update, History, Target, VpSchedule};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

pub struct DpmSolverSinglestepScheduler {
    schedule: VpSchedule,
    prediction: PredictionType,
    algorithm: Algorithm,
    midpoint: bool,
    solver_order: usize,
    lower_order_final: bool,
    final_zero: bool,
    use_karras_sigmas: bool,
    lambda_min_clipped: f64,
    all_timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    order_list: Vec<usize>,
    begin: usize,
    history: History,
    /// The sample the current group of calls started from.
    group_sample: Vec<f32>,
    noise: Vec<f32>,
}

impl DpmSolverSinglestepScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        check_dpm_config(config, "dpm-single")?;
        let algorithm = Algorithm::parse(config.algorithm_type.as_deref(), false)?;
        let final_zero = parse_final_zero(&config.final_sigmas_type)?;
        if algorithm.target() == Target::Noise && final_zero {
            return Err(SchedulerError::InvalidConfig(
                "final_sigmas_type zero needs algorithm_type dpmsolver++ or sde-dpmsolver++; \
                 choose sigma_min"
                    .into(),
            ));
        }
        Ok(Self {
            // The class has no rescale_betas_zero_snr.
            schedule: VpSchedule::new(config, false)?,
            prediction: config.prediction()?,
            algorithm,
            midpoint: parse_midpoint(config.solver_type.as_deref())?,
            solver_order: config.solver_order,
            lower_order_final: config.lower_order_final.unwrap_or(false),
            final_zero,
            use_karras_sigmas: config.use_karras_sigmas,
            lambda_min_clipped: config.lambda_min_clipped,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            order_list: Vec::new(),
            begin: 0,
            history: History::new(config.solver_order),
            group_sample: Vec::new(),
            noise: Vec::new(),
        })
    }

    /// diffusers' `get_order_list`: the order of each call.
    fn order_list(&self, steps: usize) -> Vec<usize> {
        let order = self.solver_order;
        let mut orders: Vec<usize> = if self.lower_order_final {
            match order {
                3 => {
                    let mut o = [1, 2, 3]
                        .repeat((steps / 3).saturating_sub(usize::from(steps.is_multiple_of(3))));
                    match steps % 3 {
                        0 => o.extend([1, 2, 1]),
                        1 => o.push(1),
                        _ => o.extend([1, 2]),
                    }
                    o
                }
                2 => {
                    let mut o = [1, 2]
                        .repeat((steps / 2).saturating_sub(usize::from(steps.is_multiple_of(2))));
                    if steps.is_multiple_of(2) {
                        o.extend([1, 1]);
                    } else {
                        o.push(1);
                    }
                    o
                }
                _ => vec![1; steps],
            }
        } else {
            match order {
                3 => [1, 2, 3].repeat(steps / 3),
                2 => [1, 2].repeat(steps / 2),
                _ => vec![1; steps],
            }
        };
        if self.final_zero {
            if let Some(last) = orders.last_mut() {
                *last = 1;
            }
        }
        orders
    }
}

impl Scheduler for DpmSolverSinglestepScheduler {
    fn name(&self) -> &'static str {
        "dpm-single"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let clipped = self.schedule.clipped_index(self.lambda_min_clipped);
        let (timesteps, sigmas) = solver_schedule(
            &self.schedule,
            TimestepSpacing::Linspace,
            steps,
            0,
            clipped,
            self.use_karras_sigmas.then_some((None, None, true)),
            if self.final_zero {
                LastSigma::Zero
            } else {
                LastSigma::TrainMin
            },
        );
        self.all_timesteps = timesteps;
        self.sigmas = sigmas;
        // diffusers switches lower_order_final on for good in these two cases.
        if !self.lower_order_final && (!steps.is_multiple_of(self.solver_order) || self.final_zero)
        {
            self.lower_order_final = true;
        }
        self.order_list = self.order_list(steps);
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
        self.history.clear();
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
        noise: &mut dyn NoiseSource,
    ) {
        assert_eq!(
            model_output.len(),
            sample.len(),
            "dpm-single: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let sigma = self.sigmas[i];
        let converted = self.history.push_slot(sample.len());
        convert_output(
            self.prediction,
            self.algorithm.target(),
            sigma,
            model_output,
            sample,
            converted,
        );
        if self.algorithm.is_sde() {
            self.noise.resize(sample.len(), 0.0);
            noise.fill_standard_normal(&mut self.noise);
        }
        let mut order = self.order_list.get(i).copied().unwrap_or(1);
        while self.history.len() < order {
            order -= 1;
        }
        if order == 1 {
            self.group_sample.clear();
            self.group_sample.extend_from_slice(sample);
        }
        let sigma_at = |k: usize| self.sigmas[i.saturating_sub(k)];
        let (a, w, c_noise) = dpm_update_weights(
            self.algorithm,
            self.midpoint,
            order,
            self.sigmas[i + 1],
            sigma,
            sigma_at(1),
            sigma_at(2),
            true,
        );
        let history = &self.history;
        let mut terms: [(&[f32], f32); 4] = [(&[], 0.0); 4];
        let mut count = 0;
        for (k, &weight) in w.iter().enumerate().take(order) {
            terms[count] = (history.back(k + 1), weight);
            count += 1;
        }
        if self.algorithm.is_sde() {
            terms[count] = (&self.noise, c_noise);
            count += 1;
        }
        linear_update(sample, Some(&self.group_sample), a, &terms[..count]);
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_vp(self.sigmas[self.begin + index], original, noise, out);
    }

    fn order(&self) -> usize {
        1
    }
}
