//! Pieces shared by the exponential-integrator solvers (DEIS, DPM-Solver multistep and
//! singlestep, UniPC): their timestep spacing (`steps + 1` points, the last dropped), sigma
//! schedules, the `alpha_t` / `sigma_t` / `lambda_t` of a sigma, the model-output history, and the
//! element-wise linear update every step reduces to.
//!
//! Scalars follow diffusers' float32 tensors where rounding matters (sigmas, `alpha_t`, `sigma_t`,
//! `lambda_t` and the step `h` are float32 as in torch); the coefficient algebra built on them is
//! done in float64 and rounded once.

use super::config::{np_arange, np_linspace, np_round, SchedulerConfig, TimestepSpacing};
use super::euler::{karras_sigmas, sigma_to_t, train_sigmas};
use super::SchedulerError;

/// `alpha_t = 1 / sqrt(sigma^2 + 1)` and `sigma_t = sigma * alpha_t` (diffusers'
/// `_sigma_to_alpha_sigma_t`), float32.
#[inline]
pub(crate) fn alpha_sigma(sigma: f32) -> (f32, f32) {
    let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
    (alpha, sigma * alpha)
}

/// `lambda_t = log(alpha_t) - log(sigma_t)`, float32 (+inf for sigma 0).
#[inline]
pub(crate) fn lambda(sigma: f32) -> f32 {
    let (alpha, sigma) = alpha_sigma(sigma);
    alpha.ln() - sigma.ln()
}

/// The training noise schedule of a variance-preserving model, in the sigma form the solvers use.
pub(crate) struct VpSchedule {
    pub num_train_timesteps: usize,
    /// `sqrt((1 - abar) / abar)` per training timestep, float32.
    pub train_sigmas: Vec<f32>,
    /// `ln` of those, float32 (numpy's `np.log` of the float32 array).
    pub log_sigmas: Vec<f32>,
    /// `lambda_t` per training timestep, float32.
    pub lambdas: Vec<f32>,
}

impl VpSchedule {
    /// `alphas_cumprod`, with the zero-terminal-SNR rescale (and its 2^-24 floor) when
    /// `honor_rescale` says the class reads `rescale_betas_zero_snr`.
    pub fn new(config: &SchedulerConfig, honor_rescale: bool) -> Result<Self, SchedulerError> {
        let mut alphas_cumprod = config.alphas_cumprod(honor_rescale)?;
        if honor_rescale && config.rescale_betas_zero_snr {
            if let Some(last) = alphas_cumprod.last_mut() {
                *last = 2f32.powi(-24);
            }
        }
        let train_sigmas = train_sigmas(&alphas_cumprod);
        let log_sigmas = train_sigmas.iter().map(|s| s.ln()).collect();
        let lambdas = alphas_cumprod
            .iter()
            .map(|&a| {
                let alpha_t = a.sqrt();
                let sigma_t = (1.0 - a).sqrt();
                alpha_t.ln() - sigma_t.ln()
            })
            .collect();
        Ok(Self {
            num_train_timesteps: config.num_train_timesteps,
            train_sigmas,
            log_sigmas,
            lambdas,
        })
    }

    /// `torch.searchsorted(flip(lambda_t), lambda_min_clipped)`: how many training timesteps
    /// from the top have a lambda below the clip.
    pub fn clipped_index(&self, lambda_min_clipped: f64) -> usize {
        self.lambdas
            .iter()
            .rev()
            .take_while(|&&l| (l as f64) < lambda_min_clipped)
            .count()
    }

    /// The smallest training sigma (`final_sigmas_type = "sigma_min"`).
    pub fn sigma_min(&self) -> f32 {
        self.train_sigmas[0]
    }

    /// Sigmas at integer timesteps: `np.interp` at integers is the training sigma itself.
    pub fn sigmas_at(&self, timesteps: &[f64]) -> Vec<f64> {
        timesteps
            .iter()
            .map(|&t| {
                let t = t.clamp(0.0, (self.train_sigmas.len() - 1) as f64);
                let j = t.floor() as usize;
                let frac = t - j as f64;
                if frac == 0.0 {
                    self.train_sigmas[j] as f64
                } else {
                    let (low, high) =
                        (self.train_sigmas[j] as f64, self.train_sigmas[j + 1] as f64);
                    (high - low) * frac + low
                }
            })
            .collect()
    }

    /// Karras sigmas over the whole training range (`sigma_min` / `sigma_max` override the ends
    /// for the classes that read them), and their timesteps: `_sigma_to_t`, rounded.
    pub fn karras(
        &self,
        steps: usize,
        sigma_min: Option<f64>,
        sigma_max: Option<f64>,
        round: bool,
    ) -> (Vec<f64>, Vec<f64>) {
        let low = sigma_min.unwrap_or(self.train_sigmas[0] as f64);
        let high = sigma_max.unwrap_or(*self.train_sigmas.last().unwrap() as f64);
        let sigmas = karras_sigmas(low, high, steps);
        let timesteps = sigmas
            .iter()
            .map(|&s| {
                let t = sigma_to_t(s, &self.log_sigmas);
                if round {
                    np_round(t)
                } else {
                    t
                }
            })
            .collect();
        (timesteps, sigmas)
    }
}

/// The integer timesteps of DEIS / DPM-Solver multistep / UniPC: `steps + 1` evenly spaced points
/// with the last one dropped (`linspace`, `leading`), or diffusers' `trailing` rule.
/// `last_timestep` is `num_train_timesteps` minus DPM-Solver's lambda clip.
pub(crate) fn solver_timesteps(
    spacing: TimestepSpacing,
    num_train_timesteps: usize,
    last_timestep: usize,
    steps: usize,
    steps_offset: i64,
) -> Vec<f64> {
    match spacing {
        TimestepSpacing::Linspace => {
            let mut values: Vec<f64> = np_linspace(0.0, last_timestep as f64 - 1.0, steps + 1)
                .into_iter()
                .map(np_round)
                .collect();
            values.reverse();
            values.pop();
            values
        }
        TimestepSpacing::Leading => {
            let ratio = last_timestep / (steps + 1);
            (1..=steps)
                .rev()
                .map(|i| np_round((i * ratio) as f64) + steps_offset as f64)
                .collect()
        }
        TimestepSpacing::Trailing => {
            let ratio = num_train_timesteps as f64 / steps as f64;
            np_arange(last_timestep as f64, 0.0, -ratio)
                .into_iter()
                .map(|t| np_round(t) - 1.0)
                .collect()
        }
    }
}

/// The last model outputs (converted to x0 or epsilon), newest last; holds at most `capacity`,
/// reusing its buffers.
pub(crate) struct History {
    buffers: Vec<Vec<f32>>,
    next: usize,
    len: usize,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        Self {
            buffers: (0..capacity.max(1)).map(|_| Vec::new()).collect(),
            next: 0,
            len: 0,
        }
    }

    pub fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Makes room for a new newest entry of `n` values (dropping the oldest when full) and
    /// returns it for writing.
    pub fn push_slot(&mut self, n: usize) -> &mut [f32] {
        let capacity = self.buffers.len();
        let buffer = &mut self.buffers[self.next];
        buffer.resize(n, 0.0);
        self.next = (self.next + 1) % capacity;
        self.len = (self.len + 1).min(capacity);
        buffer
    }

    /// The `k`-th newest entry (`k` = 1 is the newest).
    pub fn back(&self, k: usize) -> &[f32] {
        debug_assert!(k >= 1 && k <= self.len);
        let capacity = self.buffers.len();
        &self.buffers[(self.next + capacity - k) % capacity]
    }
}

/// `out[i] = a * base[i] + sum_k w_k * term_k[i]` (`base` = `out` itself when `None`), float32
/// storage, float32 arithmetic per element.
pub(crate) fn linear_update(
    out: &mut [f32],
    base: Option<&[f32]>,
    a: f32,
    terms: &[(&[f32], f32)],
) {
    for term in terms {
        assert_eq!(term.0.len(), out.len(), "scheduler: tensor lengths differ");
    }
    match base {
        Some(base) => {
            assert_eq!(base.len(), out.len(), "scheduler: tensor lengths differ");
            for (i, o) in out.iter_mut().enumerate() {
                let mut acc = a * base[i];
                for &(values, w) in terms {
                    acc += w * values[i];
                }
                *o = acc;
            }
        }
        None => {
            for (i, o) in out.iter_mut().enumerate() {
                let mut acc = a * *o;
                for &(values, w) in terms {
                    acc += w * values[i];
                }
                *o = acc;
            }
        }
    }
}

/// Solves the small dense system `a x = b` (n <= 4) by Gaussian elimination with partial
/// pivoting, in float64 (`torch.linalg.solve`).
pub(crate) fn solve(mut a: [[f64; 4]; 4], mut b: [f64; 4], n: usize) -> [f64; 4] {
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (value, &p) in a[row][col..n].iter_mut().zip(&pivot_row[col..n]) {
                *value -= factor * p;
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = [0.0; 4];
    for row in (0..n).rev() {
        let mut acc = b[row];
        for k in row + 1..n {
            acc -= a[row][k] * x[k];
        }
        x[row] = acc / a[row][row];
    }
    x
}

/// How a solver turns the model output into what it integrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The data prediction x0 (DPM-Solver++, UniPC with `predict_x0`).
    Data,
    /// The noise prediction epsilon (DPM-Solver, DEIS, UniPC without `predict_x0`).
    Noise,
}

/// Writes the model output converted to `target` at noise level `sigma` into `out`.
pub(crate) fn convert_output(
    prediction: super::PredictionType,
    target: Target,
    sigma: f32,
    model_output: &[f32],
    sample: &[f32],
    out: &mut [f32],
) {
    use super::PredictionType::*;
    let (alpha_t, sigma_t) = alpha_sigma(sigma);
    for ((o, &m), &x) in out.iter_mut().zip(model_output).zip(sample) {
        *o = match (target, prediction) {
            (Target::Data, Epsilon) => (x - sigma_t * m) / alpha_t,
            (Target::Data, Sample) => m,
            (Target::Data, VPrediction) => alpha_t * x - sigma_t * m,
            (Target::Noise, Epsilon) => m,
            (Target::Noise, Sample) => (x - alpha_t * m) / sigma_t,
            (Target::Noise, VPrediction) => alpha_t * m + sigma_t * x,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solver_timesteps_match_diffusers() {
        // np.linspace(0, 999, n + 1).round()[::-1][:-1]
        assert_eq!(
            solver_timesteps(TimestepSpacing::Linspace, 1000, 1000, 4, 1),
            vec![999.0, 749.0, 500.0, 250.0]
        );
        // (arange(n + 1) * (1000 // (n + 1))).round()[::-1][:-1] + offset
        assert_eq!(
            solver_timesteps(TimestepSpacing::Leading, 1000, 1000, 4, 1),
            vec![801.0, 601.0, 401.0, 201.0]
        );
        assert_eq!(
            solver_timesteps(TimestepSpacing::Trailing, 1000, 1000, 4, 1),
            vec![999.0, 749.0, 499.0, 249.0]
        );
    }

    #[test]
    fn history_keeps_the_newest() {
        let mut history = History::new(2);
        history.push_slot(1)[0] = 1.0;
        history.push_slot(1)[0] = 2.0;
        history.push_slot(1)[0] = 3.0;
        assert_eq!(history.len(), 2);
        assert_eq!(history.back(1), &[3.0]);
        assert_eq!(history.back(2), &[2.0]);
        history.clear();
        assert_eq!(history.len(), 0);
    }

    #[test]
    fn solve_small_systems() {
        let a = [
            [2.0, 1.0, 0.0, 0.0],
            [1.0, 3.0, 1.0, 0.0],
            [0.0, 1.0, 4.0, 0.0],
            [0.0; 4],
        ];
        let x = solve(a, [3.0, 5.0, 5.0, 0.0], 3);
        for (got, want) in x.iter().zip([1.0, 1.0, 1.0]) {
            assert!((got - want).abs() < 1e-12);
        }
    }
}
