//! DPM-Solver multistep (diffusers `DPMSolverMultistepScheduler`, DPM-Solver++ by default):
//! exponential-integrator steps of order 1 to 3 over the history of model outputs, one model call
//! per step.
//!
//! Supported: every beta schedule, `trained_betas`, `rescale_betas_zero_snr`, the three prediction
//! types, the three timestep spacings with `steps_offset`, `lambda_min_clipped`,
//! `use_karras_sigmas`, `solver_order` 1-3, `algorithm_type` `dpmsolver++` / `dpmsolver` /
//! `sde-dpmsolver++` / `sde-dpmsolver` (the SDE variants draw one noise tensor per step from the
//! job's noise source), `solver_type` `midpoint` / `heun`, `lower_order_final`, `euler_at_final`,
//! `final_sigmas_type`. Refused: `thresholding`, learned variances, the exponential / beta / flow /
//! Lu-lambda sigma schedules, and the combinations diffusers refuses (or fails on): `dpmsolver` /
//! `sde-dpmsolver` with a final sigma of zero, third order with `sde-dpmsolver`.

use super::config::{PredictionType, SchedulerConfig, TimestepSpacing};
use super::multistep::{
    alpha_sigma, convert_output, lambda, linear_update, solver_timesteps, History, Target,
    VpSchedule,
};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    DpmSolverPlusPlus,
    DpmSolver,
    SdeDpmSolverPlusPlus,
    SdeDpmSolver,
}

impl Algorithm {
    pub(crate) fn parse(
        value: Option<&str>,
        allow_sde_dpmsolver: bool,
    ) -> Result<Self, SchedulerError> {
        Ok(match value.unwrap_or("dpmsolver++") {
            "dpmsolver++" | "deis" => Self::DpmSolverPlusPlus,
            "dpmsolver" => Self::DpmSolver,
            "sde-dpmsolver++" => Self::SdeDpmSolverPlusPlus,
            "sde-dpmsolver" if allow_sde_dpmsolver => Self::SdeDpmSolver,
            other => {
                return Err(SchedulerError::InvalidConfig(format!(
                    "algorithm_type {other:?} is not supported"
                )))
            }
        })
    }

    pub(crate) fn target(self) -> Target {
        match self {
            Self::DpmSolverPlusPlus | Self::SdeDpmSolverPlusPlus => Target::Data,
            Self::DpmSolver | Self::SdeDpmSolver => Target::Noise,
        }
    }

    pub(crate) fn is_sde(self) -> bool {
        matches!(self, Self::SdeDpmSolverPlusPlus | Self::SdeDpmSolver)
    }
}

/// `midpoint` or `heun` (DEIS' and UniPC's solver names map to `midpoint`, as in diffusers).
pub(crate) fn parse_midpoint(value: Option<&str>) -> Result<bool, SchedulerError> {
    match value.unwrap_or("midpoint") {
        "midpoint" | "logrho" | "bh1" | "bh2" => Ok(true),
        "heun" => Ok(false),
        other => Err(SchedulerError::InvalidConfig(format!(
            "solver_type {other:?} is not one of midpoint, heun"
        ))),
    }
}

/// `final_sigmas_type`: true for `zero`.
pub(crate) fn parse_final_zero(value: &str) -> Result<bool, SchedulerError> {
    match value {
        "zero" => Ok(true),
        "sigma_min" => Ok(false),
        other => Err(SchedulerError::InvalidConfig(format!(
            "final_sigmas_type {other:?} is not one of zero, sigma_min"
        ))),
    }
}

/// Refusals shared by the DPM-Solver classes.
pub(crate) fn check_dpm_config(
    config: &SchedulerConfig,
    scheduler: &'static str,
) -> Result<(), SchedulerError> {
    config.check_sigma_options(scheduler)?;
    if config.thresholding {
        return Err(SchedulerError::Unsupported {
            scheduler,
            feature: "thresholding".into(),
        });
    }
    if let Some(variance) = config.variance_type.as_deref() {
        return Err(SchedulerError::Unsupported {
            scheduler,
            feature: format!("variance_type {variance}"),
        });
    }
    if !(1..=3).contains(&config.solver_order) {
        return Err(SchedulerError::InvalidConfig(format!(
            "solver_order must be 1, 2 or 3, not {}",
            config.solver_order
        )));
    }
    Ok(())
}

/// The scalars of one DPM-Solver update at noise levels `sigma_t` (target) and
/// `sigma_s0 > sigma_s1 > sigma_s2` (current, previous ones), float32 like diffusers. Returns the
/// sample coefficient, the weights of `m0, m1, m2` (newest first) and the noise coefficient.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dpm_update_weights(
    algorithm: Algorithm,
    midpoint: bool,
    order: usize,
    sigma_t: f32,
    sigma_s0: f32,
    sigma_s1: f32,
    sigma_s2: f32,
    singlestep: bool,
) -> (f32, [f32; 3], f32) {
    let (alpha_t, s_t) = alpha_sigma(sigma_t);
    let (alpha_s0, s_s0) = alpha_sigma(sigma_s0);
    let lambda_t = lambda(sigma_t);
    let lambda_s0 = lambda(sigma_s0);
    let (lambda_s1, lambda_s2) = (lambda(sigma_s1), lambda(sigma_s2));
    // Multistep steps go from s0 with history s1, s2 behind it; singlestep ones restart from the
    // oldest point of their group (s1 for order 2, s2 for order 3).
    let (alpha_from, sigma_from, h) = if !singlestep || order == 1 {
        (alpha_s0, s_s0, lambda_t - lambda_s0)
    } else if order == 2 {
        let (a, s) = alpha_sigma(sigma_s1);
        (a, s, lambda_t - lambda_s1)
    } else {
        let (a, s) = alpha_sigma(sigma_s2);
        (a, s, lambda_t - lambda_s2)
    };
    let plus_plus = algorithm.target() == Target::Data;
    let sde = algorithm.is_sde();
    let a = match (plus_plus, sde) {
        (true, false) => s_t / sigma_from,
        (true, true) => s_t / sigma_from * (-h).exp(),
        (false, _) => alpha_t / alpha_from,
    };
    let noise = match (plus_plus, sde) {
        (_, false) => 0.0,
        (true, true) => s_t * (1.0 - (-2.0 * h).exp()).sqrt(),
        (false, true) => s_t * ((2.0 * h).exp() - 1.0).sqrt(),
    };
    // x = a x + c0 D0 + c1 D1 + c2 D2 in diffusers' notation.
    let em = (-h).exp() - 1.0; // e^-h - 1
    let ep = h.exp() - 1.0; // e^h - 1
    let e2 = 1.0 - (-2.0 * h).exp(); // 1 - e^-2h
    let c0 = match (plus_plus, sde) {
        (true, false) => -(alpha_t * em),
        (true, true) => alpha_t * e2,
        (false, false) => -(s_t * ep),
        (false, true) => -2.0 * (s_t * ep),
    };
    if order == 1 {
        return (a, [c0, 0.0, 0.0], noise);
    }
    let b_pp = alpha_t * (em / h + 1.0);
    let b_p = s_t * (ep / h - 1.0);
    if order == 2 {
        let c1 = match (plus_plus, sde, midpoint) {
            (true, false, true) => -0.5 * (alpha_t * em),
            (true, false, false) => b_pp,
            (true, true, true) => 0.5 * (alpha_t * e2),
            (true, true, false) => alpha_t * (e2 / (-2.0 * h) + 1.0),
            (false, false, true) => -0.5 * (s_t * ep),
            (false, false, false) => -b_p,
            (false, true, true) => -(s_t * ep),
            (false, true, false) => -2.0 * b_p,
        };
        return if singlestep {
            // D0 = m1, D1 = (m0 - m1) / r0 with r0 = (lambda_s0 - lambda_s1) / h.
            let r0 = (lambda_s0 - lambda_s1) / h;
            let k = c1 * (1.0 / r0);
            (a, [k, c0 - k, 0.0], noise)
        } else {
            // D0 = m0, D1 = (m0 - m1) / r0 with r0 = (lambda_s0 - lambda_s1) / h.
            let r0 = (lambda_s0 - lambda_s1) / h;
            let k = c1 * (1.0 / r0);
            (a, [c0 + k, -k, 0.0], noise)
        };
    }
    if singlestep {
        // D0 = m2; D1_0 = (m1 - m2) / r1, D1_1 = (m0 - m2) / r0 with r0 = h_0 / h,
        // r1 = h_1 / h, h_0 = lambda_s0 - lambda_s2, h_1 = lambda_s1 - lambda_s2.
        let r0 = (lambda_s0 - lambda_s2) / h;
        let r1 = (lambda_s1 - lambda_s2) / h;
        let c_pp2 = alpha_t * (((-h).exp() - 1.0 + h) / (h * h) - 0.5);
        let c_p2 = s_t * ((h.exp() - 1.0 - h) / (h * h) - 0.5);
        // Coefficients of D1_1 (k1), D1 (kd1), D2 (kd2).
        let (k1, kd1, kd2) = match (plus_plus, sde, midpoint) {
            (true, false, true) => (b_pp, 0.0, 0.0),
            (true, false, false) => (0.0, b_pp, -c_pp2),
            (false, _, true) => (-b_p, 0.0, 0.0),
            (false, _, false) => (0.0, -b_p, -c_p2),
            (true, true, true) => (alpha_t * (e2 / (-2.0 * h) + 1.0), 0.0, 0.0),
            (true, true, false) => {
                let two_h = -2.0 * h;
                (
                    0.0,
                    alpha_t * (e2 / two_h + 1.0),
                    alpha_t * ((e2 + two_h) / (two_h * two_h) - 0.5),
                )
            }
        };
        // D1 = (r0 D1_0 - r1 D1_1) / (r0 - r1), D2 = 2 (D1_1 - D1_0) / (r0 - r1).
        let d = r0 - r1;
        let w_d10 = kd1 * r0 / d - 2.0 * kd2 / d;
        let w_d11 = k1 - kd1 * r1 / d + 2.0 * kd2 / d;
        let (inv_r0, inv_r1) = (1.0 / r0, 1.0 / r1);
        let w_m0 = w_d11 * inv_r0;
        let w_m1 = w_d10 * inv_r1;
        let w_m2 = c0 - w_m0 - w_m1;
        return (a, [w_m0, w_m1, w_m2], noise);
    }
    // Multistep third order: D1_0 = (m0 - m1) / r0, D1_1 = (m1 - m2) / r1,
    // D1 = D1_0 + r0 / (r0 + r1) (D1_0 - D1_1), D2 = (D1_0 - D1_1) / (r0 + r1).
    let r0 = (lambda_s0 - lambda_s1) / h;
    let r1 = (lambda_s1 - lambda_s2) / h;
    let (c1, c2) = match (plus_plus, sde) {
        (true, false) => (b_pp, -(alpha_t * (((-h).exp() - 1.0 + h) / (h * h) - 0.5))),
        (false, _) => (-b_p, -(s_t * ((h.exp() - 1.0 - h) / (h * h) - 0.5))),
        (true, true) => (
            alpha_t * (e2 / (-2.0 * h) + 1.0),
            alpha_t * ((e2 - 2.0 * h) / ((2.0 * h) * (2.0 * h)) - 0.5),
        ),
    };
    let q = r0 / (r0 + r1);
    let p = 1.0 / (r0 + r1);
    let k0 = c1 * (1.0 + q) + c2 * p;
    let k1 = -c1 * q - c2 * p;
    let (inv_r0, inv_r1) = (1.0 / r0, 1.0 / r1);
    (
        a,
        [c0 + k0 * inv_r0, -k0 * inv_r0 + k1 * inv_r1, -k1 * inv_r1],
        noise,
    )
}

pub struct DpmSolverMultistepScheduler {
    schedule: VpSchedule,
    karras_round: bool,
    spacing: TimestepSpacing,
    steps_offset: i64,
    prediction: PredictionType,
    algorithm: Algorithm,
    midpoint: bool,
    solver_order: usize,
    lower_order_final: bool,
    euler_at_final: bool,
    final_zero: bool,
    use_karras_sigmas: bool,
    lambda_min_clipped: f64,
    all_timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    begin: usize,
    history: History,
    lower_order_nums: usize,
    /// Noise of one SDE step, reused.
    noise: Vec<f32>,
}

impl DpmSolverMultistepScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        check_dpm_config(config, "dpm-multi")?;
        let algorithm = Algorithm::parse(config.algorithm_type.as_deref(), true)?;
        let midpoint = parse_midpoint(config.solver_type.as_deref())?;
        let final_zero = parse_final_zero(&config.final_sigmas_type)?;
        if algorithm.target() == Target::Noise && final_zero {
            return Err(SchedulerError::InvalidConfig(
                "final_sigmas_type zero needs algorithm_type dpmsolver++ or sde-dpmsolver++; \
                 choose sigma_min"
                    .into(),
            ));
        }
        if algorithm == Algorithm::SdeDpmSolver && config.solver_order == 3 {
            return Err(SchedulerError::Unsupported {
                scheduler: "dpm-multi",
                feature: "solver_order 3 with sde-dpmsolver".into(),
            });
        }
        Ok(Self {
            schedule: VpSchedule::new(config, true)?,
            // diffusers rounds Karras timesteps unless the config names the cosine schedule.
            karras_round: config.beta_schedule != "squaredcos_cap_v2",
            spacing: config.spacing(TimestepSpacing::Linspace)?,
            steps_offset: config.steps_offset,
            prediction: config.prediction()?,
            algorithm,
            midpoint,
            solver_order: config.solver_order,
            lower_order_final: config.lower_order_final.unwrap_or(true),
            euler_at_final: config.euler_at_final,
            final_zero,
            use_karras_sigmas: config.use_karras_sigmas,
            lambda_min_clipped: config.lambda_min_clipped,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            begin: 0,
            history: History::new(config.solver_order),
            lower_order_nums: 0,
            noise: Vec::new(),
        })
    }
}

/// Timesteps and sigmas (one more) of DEIS / DPM-Solver multistep / UniPC.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solver_schedule(
    schedule: &VpSchedule,
    spacing: TimestepSpacing,
    steps: usize,
    steps_offset: i64,
    clipped: usize,
    karras: Option<(Option<f64>, Option<f64>, bool)>,
    last_sigma: LastSigma,
) -> (Vec<f64>, Vec<f32>) {
    let n = schedule.num_train_timesteps;
    let timesteps = solver_timesteps(spacing, n, n - clipped, steps, steps_offset);
    let (timesteps, sigmas) = match karras {
        Some((sigma_min, sigma_max, round)) => schedule.karras(steps, sigma_min, sigma_max, round),
        None => {
            let sigmas = schedule.sigmas_at(&timesteps);
            (timesteps, sigmas)
        }
    };
    let last = match last_sigma {
        LastSigma::Zero => 0.0,
        LastSigma::TrainMin => schedule.sigma_min() as f64,
        LastSigma::Repeat => *sigmas.last().unwrap(),
    };
    let mut sigmas: Vec<f32> = sigmas.into_iter().map(|s| s as f32).collect();
    sigmas.push(last as f32);
    (timesteps, sigmas)
}

/// What follows the last inference sigma.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastSigma {
    Zero,
    /// The smallest training sigma.
    TrainMin,
    /// The last sigma again (DEIS and UniPC with Karras sigmas).
    Repeat,
}

impl Scheduler for DpmSolverMultistepScheduler {
    fn name(&self) -> &'static str {
        "dpm-multi"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.schedule.num_train_timesteps);
        let clipped = self.schedule.clipped_index(self.lambda_min_clipped);
        let (timesteps, sigmas) = solver_schedule(
            &self.schedule,
            self.spacing,
            steps,
            self.steps_offset,
            clipped,
            self.use_karras_sigmas
                .then_some((None, None, self.karras_round)),
            if self.final_zero {
                LastSigma::Zero
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
        noise: &mut dyn NoiseSource,
    ) {
        assert_eq!(
            model_output.len(),
            sample.len(),
            "dpm-multi: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let n = self.all_timesteps.len();
        let lower_order_final = i == n - 1
            && (self.euler_at_final || (self.lower_order_final && n < 15) || self.final_zero);
        let lower_order_second = i + 2 == n && self.lower_order_final && n < 15;

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
        let order = if self.solver_order == 1 || self.lower_order_nums < 1 || lower_order_final {
            1
        } else if self.solver_order == 2 || self.lower_order_nums < 2 || lower_order_second {
            2
        } else {
            3
        };
        let sigma_at = |k: usize| self.sigmas[i.saturating_sub(k)];
        let (a, w, c_noise) = dpm_update_weights(
            self.algorithm,
            self.midpoint,
            order,
            self.sigmas[i + 1],
            sigma,
            sigma_at(1),
            sigma_at(2),
            false,
        );
        if self.algorithm.is_sde() {
            self.noise.resize(sample.len(), 0.0);
            noise.fill_standard_normal(&mut self.noise);
        }
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
        linear_update(sample, None, a, &terms[..count]);
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

/// `alpha_t * original + sigma_t * noise` at a sigma (the solvers' `add_noise`).
pub(crate) fn add_noise_vp(sigma: f32, original: &[f32], noise: &[f32], out: &mut [f32]) {
    assert_eq!(
        original.len(),
        noise.len(),
        "add_noise: original and noise lengths differ"
    );
    assert_eq!(
        original.len(),
        out.len(),
        "add_noise: output length differs"
    );
    let (alpha_t, sigma_t) = alpha_sigma(sigma);
    for ((o, &x), &z) in out.iter_mut().zip(original).zip(noise) {
        *o = alpha_t * x + sigma_t * z;
    }
}
