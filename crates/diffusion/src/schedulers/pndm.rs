//! PNDM (diffusers `PNDMScheduler`): pseudo Runge-Kutta warm-up steps, then pseudo linear
//! multistep (PLMS) steps; with `skip_prk_steps` (Stable Diffusion's configs) the warm-up is a
//! Heun-like second model call at the second timestep instead, as in the PLMS sampler of the
//! latent-diffusion repository.
//!
//! Supported: every beta schedule, `trained_betas`, `epsilon` and `v_prediction`, the three
//! timestep spacings with `steps_offset`, `set_alpha_to_one`, `skip_prk_steps` true and false.
//! `sample` prediction is refused, as in diffusers. Without `skip_prk_steps` at least 4 steps are
//! run (diffusers fails below 4).
//!
//! As in diffusers, the solver state advances with each call, not with the timestep, so an
//! img2img schedule (the tail of the full one) is stepped as if it started from scratch.

use super::config::{spaced_timesteps, PredictionType, SchedulerConfig, TimestepSpacing};
use super::{
    add_noise_alpha, clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError,
};

/// The last model outputs ("ets"), newest last; holds at most 4, reusing its buffers.
#[derive(Default)]
struct OutputHistory {
    buffers: [Vec<f32>; 4],
    len: usize,
    next: usize,
}

impl OutputHistory {
    fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    /// Appends `data`, dropping the oldest output when 4 are held.
    fn push(&mut self, data: &[f32]) {
        let buffer = &mut self.buffers[self.next];
        buffer.clear();
        buffer.extend_from_slice(data);
        self.next = (self.next + 1) % 4;
        self.len = (self.len + 1).min(4);
    }

    /// The `k`-th newest output (`k` = 1 is the newest).
    fn back(&self, k: usize) -> &[f32] {
        debug_assert!(k >= 1 && k <= self.len);
        &self.buffers[(self.next + 4 - k) % 4]
    }
}

pub struct PndmScheduler {
    alphas_cumprod: Vec<f32>,
    final_alpha_cumprod: f32,
    num_train_timesteps: usize,
    spacing: TimestepSpacing,
    steps_offset: i64,
    skip_prk_steps: bool,
    prediction: PredictionType,
    num_inference_steps: usize,
    /// The Runge-Kutta part of the full schedule (empty with `skip_prk_steps`).
    prk_timesteps: Vec<f64>,
    /// The full schedule: PRK then PLMS timesteps; `timesteps()` is its tail from `begin`.
    all_timesteps: Vec<f64>,
    begin: usize,
    /// Model calls handled since `set_timesteps`.
    counter: usize,
    ets: OutputHistory,
    cur_sample: Vec<f32>,
    has_cur_sample: bool,
    /// Running Runge-Kutta sum of the model outputs of one PRK step.
    cur_model_output: Vec<f32>,
    /// The combined model output of the current step.
    combined: Vec<f32>,
}

impl PndmScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        let prediction = config.prediction()?;
        if prediction == PredictionType::Sample {
            return Err(SchedulerError::Unsupported {
                scheduler: "pndm",
                feature: "prediction_type sample".into(),
            });
        }
        // PNDMScheduler has no rescale_betas_zero_snr option.
        let alphas_cumprod = config.alphas_cumprod(false)?;
        let final_alpha_cumprod = if config.set_alpha_to_one.unwrap_or(false) {
            1.0
        } else {
            alphas_cumprod[0]
        };
        Ok(Self {
            alphas_cumprod,
            final_alpha_cumprod,
            num_train_timesteps: config.num_train_timesteps,
            spacing: config.spacing(TimestepSpacing::Leading)?,
            steps_offset: config.steps_offset,
            skip_prk_steps: config.skip_prk_steps.unwrap_or(false),
            prediction,
            num_inference_steps: 0,
            prk_timesteps: Vec::new(),
            all_timesteps: Vec::new(),
            begin: 0,
            counter: 0,
            ets: OutputHistory::default(),
            cur_sample: Vec::new(),
            has_cur_sample: false,
            cur_model_output: Vec::new(),
            combined: Vec::new(),
        })
    }

    pub fn alphas_cumprod(&self) -> &[f32] {
        &self.alphas_cumprod
    }

    fn alpha_at(&self, timestep: i64) -> f32 {
        if timestep >= 0 {
            self.alphas_cumprod[(timestep as usize).min(self.alphas_cumprod.len() - 1)]
        } else {
            self.final_alpha_cumprod
        }
    }

    fn step_prk(&mut self, model_output: &[f32], timestep: i64, sample: &mut [f32]) {
        let half = (self.num_train_timesteps / self.num_inference_steps / 2) as i64;
        let diff_to_prev = if self.counter % 2 == 1 { 0 } else { half };
        let prev_timestep = timestep - diff_to_prev;
        let timestep = self.prk_timesteps[self.counter / 4 * 4] as i64;

        const SIXTH: f32 = (1.0f64 / 6.0) as f32;
        const THIRD: f32 = (1.0f64 / 3.0) as f32;
        let mut use_combined = false;
        match self.counter % 4 {
            0 => {
                self.cur_model_output.clear();
                self.cur_model_output
                    .extend(model_output.iter().map(|&m| SIXTH * m));
                self.ets.push(model_output);
                self.cur_sample.clear();
                self.cur_sample.extend_from_slice(sample);
                self.has_cur_sample = true;
            }
            1 | 2 => {
                for (acc, &m) in self.cur_model_output.iter_mut().zip(model_output) {
                    *acc += THIRD * m;
                }
            }
            _ => {
                self.combined.clear();
                self.combined.extend(
                    self.cur_model_output
                        .iter()
                        .zip(model_output)
                        .map(|(&acc, &m)| acc + SIXTH * m),
                );
                self.cur_model_output.iter_mut().for_each(|v| *v = 0.0);
                use_combined = true;
            }
        }

        let output: &[f32] = if use_combined {
            &self.combined
        } else {
            model_output
        };
        let source = self.has_cur_sample.then_some(&self.cur_sample[..]);
        let coefficients = self.coefficients(timestep, prev_timestep);
        apply_prev_sample(coefficients, self.prediction, source, output, sample);
        self.counter += 1;
    }

    fn step_plms(&mut self, model_output: &[f32], timestep: i64, sample: &mut [f32]) {
        let ratio = (self.num_train_timesteps / self.num_inference_steps) as i64;
        let mut timestep = timestep;
        let mut prev_timestep = timestep - ratio;
        if self.counter != 1 {
            self.ets.push(model_output);
        } else {
            prev_timestep = timestep;
            timestep += ratio;
        }

        let coefficients = Coefficients::new(self.alpha_at(timestep), self.alpha_at(prev_timestep));
        let ets = &self.ets;
        let combined = &mut self.combined;
        let mut use_source = false;
        let output: &[f32] = if ets.len == 1 && self.counter == 0 {
            self.cur_sample.clear();
            self.cur_sample.extend_from_slice(sample);
            self.has_cur_sample = true;
            model_output
        } else if ets.len == 1 && self.counter == 1 {
            let e1 = ets.back(1);
            combined.clear();
            combined.extend(model_output.iter().zip(e1).map(|(&m, &e)| (m + e) / 2.0));
            use_source = true;
            combined
        } else if ets.len == 2 {
            let (e1, e2) = (ets.back(1), ets.back(2));
            combined.clear();
            combined.extend(e1.iter().zip(e2).map(|(&a, &b)| (3.0 * a - b) / 2.0));
            combined
        } else if ets.len == 3 {
            let (e1, e2, e3) = (ets.back(1), ets.back(2), ets.back(3));
            combined.clear();
            combined.extend(
                e1.iter()
                    .zip(e2)
                    .zip(e3)
                    .map(|((&a, &b), &c)| (23.0 * a - 16.0 * b + 5.0 * c) / 12.0),
            );
            combined
        } else {
            const TWENTY_FOURTH: f32 = (1.0f64 / 24.0) as f32;
            let (e1, e2, e3, e4) = (ets.back(1), ets.back(2), ets.back(3), ets.back(4));
            combined.clear();
            combined.extend(
                e1.iter()
                    .zip(e2)
                    .zip(e3)
                    .zip(e4)
                    .map(|(((&a, &b), &c), &d)| {
                        TWENTY_FOURTH * (55.0 * a - 59.0 * b + 37.0 * c - 9.0 * d)
                    }),
            );
            combined
        };

        if use_source {
            // The second call of the first step redoes that step from its starting sample.
            apply_prev_sample(
                coefficients,
                self.prediction,
                Some(&self.cur_sample),
                output,
                sample,
            );
            self.has_cur_sample = false;
        } else {
            apply_prev_sample(coefficients, self.prediction, None, output, sample);
        }
        self.counter += 1;
    }

    fn coefficients(&self, timestep: i64, prev_timestep: i64) -> Coefficients {
        Coefficients::new(self.alpha_at(timestep), self.alpha_at(prev_timestep))
    }
}

/// Scalars of formula (9) of the PNDM paper for one step, float32 like diffusers.
#[derive(Clone, Copy)]
struct Coefficients {
    sqrt_alpha_t: f32,
    sqrt_beta_t: f32,
    sample_coeff: f32,
    alpha_diff: f32,
    denom: f32,
}

impl Coefficients {
    fn new(alpha_t: f32, alpha_prev: f32) -> Self {
        let beta_t = 1.0 - alpha_t;
        let beta_prev = 1.0 - alpha_prev;
        Self {
            sqrt_alpha_t: alpha_t.sqrt(),
            sqrt_beta_t: beta_t.sqrt(),
            sample_coeff: (alpha_prev / alpha_t).sqrt(),
            alpha_diff: alpha_prev - alpha_t,
            denom: alpha_t * beta_prev.sqrt() + (alpha_t * beta_t * alpha_prev).sqrt(),
        }
    }

    #[inline]
    fn prev(&self, prediction: PredictionType, source: f32, output: f32) -> f32 {
        let eps = match prediction {
            PredictionType::VPrediction => self.sqrt_alpha_t * output + self.sqrt_beta_t * source,
            _ => output,
        };
        self.sample_coeff * source - self.alpha_diff * eps / self.denom
    }
}

/// Writes the previous sample into `sample`, stepping from `source` (or from `sample` itself).
fn apply_prev_sample(
    coefficients: Coefficients,
    prediction: PredictionType,
    source: Option<&[f32]>,
    output: &[f32],
    sample: &mut [f32],
) {
    match source {
        Some(source) => {
            for ((x, &s), &m) in sample.iter_mut().zip(source).zip(output) {
                *x = coefficients.prev(prediction, s, m);
            }
        }
        None => {
            for (x, &m) in sample.iter_mut().zip(output) {
                *x = coefficients.prev(prediction, *x, m);
            }
        }
    }
}

impl Scheduler for PndmScheduler {
    fn name(&self) -> &'static str {
        "pndm"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let mut steps = clamp_steps(steps, self.num_train_timesteps);
        if !self.skip_prk_steps {
            steps = steps.max(4).min(self.num_train_timesteps);
        }
        self.num_inference_steps = steps;
        let mut ascending = spaced_timesteps(
            self.spacing,
            self.num_train_timesteps,
            steps,
            self.steps_offset,
            true,
        );
        ascending.reverse();
        let n = ascending.len();

        if self.skip_prk_steps {
            self.prk_timesteps.clear();
            // The second timestep is visited twice.
            let mut plms: Vec<f64> = ascending[..n - 1].to_vec();
            if n >= 2 {
                plms.push(ascending[n - 2]);
            }
            plms.push(ascending[n - 1]);
            plms.reverse();
            self.all_timesteps = plms;
        } else {
            let half = (self.num_train_timesteps / steps / 2) as f64;
            let last4 = &ascending[n - 4..];
            let pairs: Vec<f64> = last4.iter().flat_map(|&t| [t, t + half]).collect();
            let mut prk: Vec<f64> = pairs[..pairs.len() - 1]
                .iter()
                .flat_map(|&t| [t, t])
                .collect();
            prk = prk[1..prk.len() - 1].to_vec();
            prk.reverse();
            let mut plms: Vec<f64> = ascending[..n - 3].to_vec();
            plms.reverse();
            self.prk_timesteps = prk.clone();
            prk.extend(plms);
            self.all_timesteps = prk;
        }
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
        self.counter = 0;
        self.ets.clear();
        self.has_cur_sample = false;
        self.cur_model_output.clear();
    }

    fn timesteps(&self) -> &[f64] {
        &self.all_timesteps[self.begin..]
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
            "pndm: model output and sample lengths differ"
        );
        let timestep = self.timesteps()[index] as i64;
        if self.counter < self.prk_timesteps.len() && !self.skip_prk_steps {
            self.step_prk(model_output, timestep, sample);
        } else {
            self.step_plms(model_output, timestep, sample);
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        let timestep = self.timesteps()[index] as i64;
        add_noise_alpha(self.alpha_at(timestep), original, noise, out);
    }

    /// diffusers' `PNDMScheduler.order` is 1 (its internal `pndm_order` is 4).
    fn order(&self) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::noise::SeededNoise;

    fn pndm(config: &SchedulerConfig) -> PndmScheduler {
        PndmScheduler::new(config).unwrap()
    }

    fn to_one_config() -> SchedulerConfig {
        let mut config = sd15_config();
        config.set_alpha_to_one = Some(true);
        config
    }

    // Expected timesteps re-derived from PNDMScheduler.set_timesteps with SD 1.5's config
    // (leading, steps_offset 1, skip_prk_steps): _timesteps = arange(n) * (1000 // n) + 1, and
    // plms = concat(_t[:-1], _t[-2:-1], _t[-1:])[::-1] (the second timestep twice); checked with
    // numpy 2.4.

    #[test]
    fn sd15_plms_timesteps() {
        let mut scheduler = pndm(&sd15_config());
        scheduler.set_timesteps(4, None);
        assert_eq!(scheduler.timesteps(), &[751.0, 501.0, 501.0, 251.0, 1.0]);

        scheduler.set_timesteps(25, None);
        let mut expected = vec![961.0, 921.0];
        expected.extend((0..24).map(|i| 921.0 - 40.0 * i as f64));
        assert_eq!(scheduler.timesteps(), &expected[..]);
        assert_eq!(scheduler.timesteps().len(), 26);
        assert_eq!(
            &scheduler.timesteps()[..5],
            &[961.0, 921.0, 921.0, 881.0, 841.0]
        );
        assert_eq!(*scheduler.timesteps().last().unwrap(), 1.0);

        scheduler.set_timesteps(1, None);
        assert_eq!(scheduler.timesteps(), &[1.0]);
    }

    #[test]
    fn prk_timesteps() {
        // prk = (_t[-4:].repeat(2) + tile([0, 1000 // n // 2], 4))[:-1].repeat(2)[1:-1][::-1],
        // plms = _t[:-3][::-1].
        let mut config = sd15_config();
        config.skip_prk_steps = Some(false);
        let mut scheduler = pndm(&config);
        scheduler.set_timesteps(10, None);
        assert_eq!(
            scheduler.timesteps(),
            &[
                901.0, 851.0, 851.0, 801.0, 801.0, 751.0, 751.0, 701.0, 701.0, 651.0, 651.0,
                601.0, //
                601.0, 501.0, 401.0, 301.0, 201.0, 101.0, 1.0
            ]
        );
    }

    #[test]
    fn strength_keeps_the_tail() {
        let mut scheduler = pndm(&sd15_config());
        scheduler.set_timesteps(10, Some(0.5));
        assert_eq!(
            scheduler.timesteps(),
            &[501.0, 401.0, 301.0, 201.0, 101.0, 1.0]
        );
    }

    fn check_oracle(config: &SchedulerConfig, prediction: PredictionType) {
        let x0 = clean_sample(257);
        for steps in [4, 10, 25] {
            let mut scheduler = pndm(config);
            let ac = scheduler.alphas_cumprod().to_vec();
            let out = run_oracle(
                &mut scheduler,
                &Oracle::Alpha(&ac),
                prediction,
                steps,
                &x0,
                41,
            );
            let err = max_abs_diff(&out, &x0);
            // Formula (9) with the exact epsilon keeps the sample on the trajectory, and every
            // multistep combination of equal epsilons is that epsilon: exact up to rounding.
            assert!(
                err < 1e-4,
                "{prediction:?} prk={:?} steps={steps}: max error {err}",
                config.skip_prk_steps
            );
        }
    }

    #[test]
    fn oracle_plms_reaches_x0() {
        check_oracle(&to_one_config(), PredictionType::Epsilon);
    }

    #[test]
    fn oracle_prk_reaches_x0() {
        let mut config = to_one_config();
        config.skip_prk_steps = Some(false);
        check_oracle(&config, PredictionType::Epsilon);
    }

    #[test]
    fn oracle_v_prediction_converges() {
        // diffusers combines the raw v outputs of earlier steps and converts the combination to
        // epsilon with the current step's alphas. v = sqrt(abar) eps - sqrt(1 - abar) x0 depends
        // on the timestep, so even with the exact model the multistep result is only an
        // approximation: the error shrinks with the step size (measured: 0.19 / 0.022 / 0.0036 /
        // 0.00057 at 4 / 10 / 25 / 50 steps with skip_prk_steps) instead of being rounding
        // noise. `plms_v_prediction_matches_reference` checks that this is diffusers' arithmetic.
        for skip in [true, false] {
            let mut config = to_one_config();
            config.prediction_type = "v_prediction".into();
            config.skip_prk_steps = Some(skip);
            let x0 = clean_sample(257);
            let mut errors = Vec::new();
            for steps in [4, 10, 25, 50] {
                let mut scheduler = pndm(&config);
                let ac = scheduler.alphas_cumprod().to_vec();
                let out = run_oracle(
                    &mut scheduler,
                    &Oracle::Alpha(&ac),
                    PredictionType::VPrediction,
                    steps,
                    &x0,
                    41,
                );
                errors.push(max_abs_diff(&out, &x0));
            }
            assert!(
                errors.windows(2).all(|w| w[1] < w[0]),
                "skip={skip}: {errors:?}"
            );
            assert!(
                errors[2] < 5e-3 && errors[3] < 1e-3,
                "skip={skip}: {errors:?}"
            );
        }
    }

    /// diffusers' PLMS loop (skip_prk_steps), written out over lists in f64.
    fn reference_plms(
        ac: &[f32],
        final_alpha: f64,
        timesteps: &[i64],
        ratio: i64,
        v_prediction: bool,
        x_start: Vec<f64>,
        model: impl Fn(i64, &[f64]) -> Vec<f64>,
    ) -> Vec<f64> {
        let mut ets: Vec<Vec<f64>> = Vec::new();
        let mut cur: Option<Vec<f64>> = None;
        let mut x = x_start;
        for (counter, &listed) in timesteps.iter().enumerate() {
            let mo = model(listed, &x);
            let (mut t, mut prev) = (listed, listed - ratio);
            if counter != 1 {
                if ets.len() > 3 {
                    ets.drain(..ets.len() - 3);
                }
                ets.push(mo.clone());
            } else {
                prev = t;
                t += ratio;
            }
            let k = ets.len();
            let comb = |f: &dyn Fn(usize) -> f64| (0..x.len()).map(f).collect::<Vec<f64>>();
            let (e, src) = if k == 1 && counter == 0 {
                cur = Some(x.clone());
                (mo, x.clone())
            } else if k == 1 && counter == 1 {
                (comb(&|i| (mo[i] + ets[0][i]) / 2.0), cur.take().unwrap())
            } else if k == 2 {
                (comb(&|i| (3.0 * ets[1][i] - ets[0][i]) / 2.0), x.clone())
            } else if k == 3 {
                (
                    comb(&|i| (23.0 * ets[2][i] - 16.0 * ets[1][i] + 5.0 * ets[0][i]) / 12.0),
                    x.clone(),
                )
            } else {
                (
                    comb(&|i| {
                        (55.0 * ets[3][i] - 59.0 * ets[2][i] + 37.0 * ets[1][i] - 9.0 * ets[0][i])
                            / 24.0
                    }),
                    x.clone(),
                )
            };
            let at = ac[t as usize] as f64;
            x = (0..x.len())
                .map(|i| {
                    let eps = if v_prediction {
                        at.sqrt() * e[i] + (1.0 - at).sqrt() * src[i]
                    } else {
                        e[i]
                    };
                    prev_f64(ac, final_alpha, src[i], t, prev, eps)
                })
                .collect();
        }
        x
    }

    #[test]
    fn plms_v_prediction_matches_reference() {
        let mut config = sd15_config();
        config.prediction_type = "v_prediction".into();
        let x0 = clean_sample(33);
        for steps in [4, 10] {
            let mut scheduler = pndm(&config);
            let ac = scheduler.alphas_cumprod().to_vec();
            let got = run_oracle(
                &mut scheduler,
                &Oracle::Alpha(&ac),
                PredictionType::VPrediction,
                steps,
                &x0,
                9,
            );
            let timesteps: Vec<i64> = scheduler.timesteps().iter().map(|&t| t as i64).collect();
            let mut start = vec![0f32; 33];
            SeededNoise::new(9).fill_standard_normal(&mut start);
            let oracle_v = |t: i64, x: &[f64]| -> Vec<f64> {
                let a = ac[t as usize] as f64;
                (0..x.len())
                    .map(|i| {
                        let eps = (x[i] - a.sqrt() * x0[i] as f64) / (1.0 - a).sqrt();
                        a.sqrt() * eps - (1.0 - a).sqrt() * x0[i] as f64
                    })
                    .collect()
            };
            let want = reference_plms(
                &ac,
                ac[0] as f64,
                &timesteps,
                (1000 / steps) as i64,
                true,
                start.iter().map(|&v| v as f64).collect(),
                oracle_v,
            );
            for i in 0..33 {
                assert!(
                    (got[i] as f64 - want[i]).abs() < 1e-4,
                    "steps={steps} {i}: {} vs {}",
                    got[i],
                    want[i]
                );
            }
            // And the trajectory is not trivially x0 (the approximation error is real).
            assert!(max_abs_diff(&got, &x0) > 1e-3);
        }
    }

    #[test]
    fn sd_config_final_step_stops_at_alphas_cumprod_0() {
        let x0 = clean_sample(64);
        let mut scheduler = pndm(&sd15_config());
        let ac = scheduler.alphas_cumprod().to_vec();
        let out = run_oracle(
            &mut scheduler,
            &Oracle::Alpha(&ac),
            PredictionType::Epsilon,
            10,
            &x0,
            5,
        );
        let mut x_t = vec![0f32; 64];
        SeededNoise::new(5).fill_standard_normal(&mut x_t);
        let (a_t, a_0) = (ac[901] as f64, ac[0] as f64);
        for i in 0..64 {
            let eps = (x_t[i] as f64 - a_t.sqrt() * x0[i] as f64) / (1.0 - a_t).sqrt();
            let expected = a_0.sqrt() * x0[i] as f64 + (1.0 - a_0).sqrt() * eps;
            assert!(
                (out[i] as f64 - expected).abs() < 1e-4,
                "{i}: {} vs {expected}",
                out[i]
            );
        }
    }

    /// formula (9): x_prev from x at t with epsilon e, in f64.
    fn prev_f64(ac: &[f32], final_alpha: f64, x: f64, t: i64, prev: i64, e: f64) -> f64 {
        let at = ac[t as usize] as f64;
        let ap = if prev >= 0 {
            ac[prev as usize] as f64
        } else {
            final_alpha
        };
        (ap / at).sqrt() * x
            - (ap - at) * e / (at * (1.0 - ap).sqrt() + (at * (1.0 - at) * ap).sqrt())
    }

    #[test]
    fn plms_combines_outputs_like_diffusers() {
        // Arbitrary, unrelated model outputs m0..m4 at [751, 501, 501, 251, 1], one element.
        let config = sd15_config();
        let mut scheduler = pndm(&config);
        let ac = scheduler.alphas_cumprod().to_vec();
        let fa = ac[0] as f64;
        scheduler.set_timesteps(4, None);
        let m = [0.3f32, -0.7, 1.1, 0.4, -0.2];
        let x_t = 1.5f32;
        let mut sample = [x_t];
        for (i, &mi) in m.iter().enumerate() {
            scheduler.step(&[mi], i, &mut sample, &mut SeededNoise::new(0));
        }
        let m: Vec<f64> = m.iter().map(|&v| v as f64).collect();
        let x = x_t as f64;
        let _x1 = prev_f64(&ac, fa, x, 751, 501, m[0]);
        // Second call: redo 751 -> 501 from x_T with the mean of both outputs.
        let x2 = prev_f64(&ac, fa, x, 751, 501, (m[0] + m[1]) / 2.0);
        // Then the history is [m0, m2, m3, m4] (m1 is not kept).
        let x3 = prev_f64(&ac, fa, x2, 501, 251, (3.0 * m[2] - m[0]) / 2.0);
        let x4 = prev_f64(
            &ac,
            fa,
            x3,
            251,
            1,
            (23.0 * m[3] - 16.0 * m[2] + 5.0 * m[0]) / 12.0,
        );
        let x5 = prev_f64(
            &ac,
            fa,
            x4,
            1,
            -249,
            (55.0 * m[4] - 59.0 * m[3] + 37.0 * m[2] - 9.0 * m[0]) / 24.0,
        );
        assert!(
            (sample[0] as f64 - x5).abs() < 1e-5,
            "{} vs {x5}",
            sample[0]
        );
    }

    #[test]
    fn prk_combines_outputs_like_diffusers() {
        // The first Runge-Kutta step (901 -> 801, 4 calls) with outputs m0..m3.
        let mut config = sd15_config();
        config.skip_prk_steps = Some(false);
        let mut scheduler = pndm(&config);
        let ac = scheduler.alphas_cumprod().to_vec();
        let fa = ac[0] as f64;
        scheduler.set_timesteps(10, None);
        let m = [0.5f32, -0.25, 0.75, 0.1];
        let mut sample = [0.8f32];
        let mut trace = Vec::new();
        for (i, &mi) in m.iter().enumerate() {
            scheduler.step(&[mi], i, &mut sample, &mut SeededNoise::new(0));
            trace.push(sample[0] as f64);
        }
        let m: Vec<f64> = m.iter().map(|&v| v as f64).collect();
        let x = 0.8f64;
        let expected = [
            prev_f64(&ac, fa, x, 901, 851, m[0]),
            prev_f64(&ac, fa, x, 901, 851, m[1]),
            prev_f64(&ac, fa, x, 901, 801, m[2]),
            prev_f64(
                &ac,
                fa,
                x,
                901,
                801,
                m[0] / 6.0 + m[1] / 3.0 + m[2] / 3.0 + m[3] / 6.0,
            ),
        ];
        for (got, want) in trace.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }

    #[test]
    fn add_noise_matches_closed_form() {
        let mut scheduler = pndm(&sd15_config());
        scheduler.set_timesteps(10, Some(0.5));
        let ac = scheduler.alphas_cumprod().to_vec();
        let x0 = clean_sample(16);
        let mut noise = vec![0f32; 16];
        SeededNoise::new(6).fill_standard_normal(&mut noise);
        let mut out = vec![0f32; 16];
        scheduler.add_noise(&x0, &noise, 0, &mut out);
        let a = ac[501] as f64;
        for i in 0..16 {
            let expected = a.sqrt() * x0[i] as f64 + (1.0 - a).sqrt() * noise[i] as f64;
            assert!((out[i] as f64 - expected).abs() < 1e-6);
        }
    }

    #[test]
    fn set_timesteps_resets_state() {
        let config = to_one_config();
        let x0 = clean_sample(32);
        let mut scheduler = pndm(&config);
        let ac = scheduler.alphas_cumprod().to_vec();
        let first = run_oracle(
            &mut scheduler,
            &Oracle::Alpha(&ac),
            PredictionType::Epsilon,
            10,
            &x0,
            3,
        );
        let second = run_oracle(
            &mut scheduler,
            &Oracle::Alpha(&ac),
            PredictionType::Epsilon,
            10,
            &x0,
            3,
        );
        assert_eq!(first, second);
    }

    #[test]
    fn refuses_sample_prediction() {
        let mut config = sd15_config();
        config.prediction_type = "sample".into();
        assert!(PndmScheduler::new(&config).is_err());
    }
}
