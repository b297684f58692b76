//! Noise schedulers, numerically following Hugging Face diffusers' classes of the same name.
//!
//! A scheduler is used like this (one model call per entry of [`Scheduler::timesteps`]):
//!
//! ```ignore
//! let mut scheduler = create_scheduler("euler-a", &config, SchedulerOptions::default())?;
//! scheduler.set_timesteps(steps, None);
//! latents *= scheduler.init_noise_sigma();
//! for (index, &t) in scheduler.timesteps().to_vec().iter().enumerate() {
//!     let input = latents * scheduler.input_scale(index);
//!     let output = unet(input, t, ...);
//!     scheduler.step(&output, index, &mut latents, &mut noise);
//! }
//! ```
//!
//! Schedulers that call the model more than once per step (Heun, KDPM2) repeat timesteps, as
//! diffusers does, so "one model call per timestep entry" always holds.

pub mod config;
pub mod ddim;
pub mod ddpm;
pub mod deis_multistep;
pub mod dpm_multistep;
pub mod dpm_sde;
pub mod dpm_singlestep;
pub mod euler;
pub mod euler_ancestral;
pub mod heun;
pub mod ipndm;
pub mod k_dpm_2;
pub mod k_dpm_2_ancestral;
mod k_sigmas;
pub mod lcm;
pub mod lms;
mod multistep;
#[cfg(test)]
mod oracle_tests;
pub mod pndm;
pub mod unipc;

use std::path::PathBuf;

pub use crate::noise::NoiseSource;
pub use config::{BetaSchedule, PredictionType, SchedulerConfig, TimestepSpacing};
pub use ddim::DdimScheduler;
pub use ddpm::DdpmScheduler;
pub use deis_multistep::DeisMultistepScheduler;
pub use dpm_multistep::DpmSolverMultistepScheduler;
pub use dpm_sde::DpmSolverSdeScheduler;
pub use dpm_singlestep::DpmSolverSinglestepScheduler;
pub use euler::EulerDiscreteScheduler;
pub use euler_ancestral::EulerAncestralDiscreteScheduler;
pub use heun::HeunDiscreteScheduler;
pub use ipndm::IpndmScheduler;
pub use k_dpm_2::KDpm2DiscreteScheduler;
pub use k_dpm_2_ancestral::KDpm2AncestralDiscreteScheduler;
pub use lcm::LcmScheduler;
pub use lms::LmsDiscreteScheduler;
pub use pndm::PndmScheduler;
pub use unipc::UniPcMultistepScheduler;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("unknown scheduler {0:?}")]
    Unknown(String),
    #[error("scheduler {0:?} is not implemented yet")]
    NotImplemented(String),
    #[error("cannot read scheduler config {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid scheduler config{}: {source}", config::display_path(path))]
    Json {
        path: Option<PathBuf>,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid scheduler config: {0}")]
    InvalidConfig(String),
    #[error("{scheduler} does not support {feature}")]
    Unsupported {
        scheduler: &'static str,
        feature: String,
    },
}

/// Per-job options that are not part of the model's scheduler config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerOptions {
    /// DDIM's eta: 0 = deterministic DDIM, 1 = DDPM-like noise. Ignored by other schedulers.
    pub eta: f32,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self { eta: 0.0 }
    }
}

/// A diffusion sampler over flat, contiguous f32 latents (`batch * channels * height * width`).
pub trait Scheduler: Send {
    /// The onnx-web name of this scheduler (`"euler-a"`, ...).
    fn name(&self) -> &'static str;

    /// Prepares `steps` inference steps (clamped to `1..=num_train_timesteps`) and resets the
    /// solver state.
    ///
    /// `strength` (img2img, in (0, 1]) keeps only the tail of the schedule, as diffusers'
    /// img2img pipelines do: `init = min(int(steps * strength), steps)` steps with Python's
    /// truncating `int`, so the first `(steps - init) * order()` entries are dropped (see
    /// [`img2img_skipped_steps`]). At least one step is always kept. `None` = the full schedule.
    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>);

    /// One entry per model call, in order. Euler-family timesteps may be fractional; the
    /// pipeline casts them to the model's timestep dtype.
    fn timesteps(&self) -> &[f64];

    /// Multiplier of the initial N(0, 1) latents (txt2img); 1 unless the scheduler works in
    /// sigma space.
    fn init_noise_sigma(&self) -> f32 {
        1.0
    }

    /// Multiplier of the latents before the model call at `timesteps()[index]`; 1 unless the
    /// scheduler works in sigma space.
    fn input_scale(&self, _index: usize) -> f32 {
        1.0
    }

    /// Advances `sample` in place given the model output for `timesteps()[index]`. Calls must
    /// come in index order, once per entry; stochastic schedulers draw from `noise`.
    fn step(
        &mut self,
        model_output: &[f32],
        index: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    );

    /// img2img / inpaint: writes `original` noised to the level of `timesteps()[index]` into `out`.
    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]);

    /// diffusers' `order` of the class (model calls per step for the multi-call solvers);
    /// informational, and the multiplier of skipped entries for img2img.
    fn order(&self) -> usize;

    /// The whole sigma table as diffusers' class holds it (`scheduler.sigmas`, in its layout:
    /// repeated entries for the two-call solvers, the final sigma included), for the schedulers
    /// that have one; for tests and diagnostics.
    fn sigmas(&self) -> Option<&[f32]> {
        None
    }
}

/// Schedulers that [`create_scheduler`] builds: all of onnx-web's, in its order.
pub const SCHEDULER_NAMES: &[&str] = &[
    "ddim",
    "ddpm",
    "deis-multi",
    "dpm-multi",
    "dpm-sde",
    "dpm-single",
    "euler",
    "euler-a",
    "heun",
    "ipndm",
    "k-dpm-2-a",
    "k-dpm-2",
    "lcm",
    "lms-discrete",
    "pndm",
    "unipc-multi",
];

/// Every scheduler name of onnx-web 0.12, with the diffusers class behind it.
pub const ONNX_WEB_SCHEDULERS: &[(&str, &str)] = &[
    ("ddim", "DDIMScheduler"),
    ("ddpm", "DDPMScheduler"),
    ("deis-multi", "DEISMultistepScheduler"),
    ("dpm-multi", "DPMSolverMultistepScheduler"),
    ("dpm-sde", "DPMSolverSDEScheduler"),
    ("dpm-single", "DPMSolverSinglestepScheduler"),
    ("euler", "EulerDiscreteScheduler"),
    ("euler-a", "EulerAncestralDiscreteScheduler"),
    ("heun", "HeunDiscreteScheduler"),
    ("ipndm", "IPNDMScheduler"),
    ("k-dpm-2-a", "KDPM2AncestralDiscreteScheduler"),
    ("k-dpm-2", "KDPM2DiscreteScheduler"),
    ("lcm", "LCMScheduler"),
    ("lms-discrete", "LMSDiscreteScheduler"),
    ("pndm", "PNDMScheduler"),
    ("unipc-multi", "UniPCMultistepScheduler"),
];

/// The diffusers class name of an onnx-web scheduler name.
pub fn diffusers_class(name: &str) -> Option<&'static str> {
    ONNX_WEB_SCHEDULERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, class)| *class)
}

/// Builds the scheduler `name` (an onnx-web name) from a model's scheduler config, the way
/// `<Class>.from_config(config)` does in diffusers.
pub fn create_scheduler(
    name: &str,
    config: &SchedulerConfig,
    options: SchedulerOptions,
) -> Result<Box<dyn Scheduler>, SchedulerError> {
    Ok(match name {
        "ddim" => Box::new(DdimScheduler::new(config, options.eta)?),
        "ddpm" => Box::new(DdpmScheduler::new(config)?),
        "deis-multi" => Box::new(DeisMultistepScheduler::new(config)?),
        "dpm-multi" => Box::new(DpmSolverMultistepScheduler::new(config)?),
        "dpm-sde" => Box::new(DpmSolverSdeScheduler::new(config)?),
        "dpm-single" => Box::new(DpmSolverSinglestepScheduler::new(config)?),
        "euler" => Box::new(EulerDiscreteScheduler::new(config)?),
        "euler-a" => Box::new(EulerAncestralDiscreteScheduler::new(config)?),
        "heun" => Box::new(HeunDiscreteScheduler::new(config)?),
        "ipndm" => Box::new(IpndmScheduler::new(config)?),
        "k-dpm-2-a" => Box::new(KDpm2AncestralDiscreteScheduler::new(config)?),
        "k-dpm-2" => Box::new(KDpm2DiscreteScheduler::new(config)?),
        "lcm" => Box::new(LcmScheduler::new(config)?),
        "lms-discrete" => Box::new(LmsDiscreteScheduler::new(config)?),
        "pndm" => Box::new(PndmScheduler::new(config)?),
        "unipc-multi" => Box::new(UniPcMultistepScheduler::new(config)?),
        other if diffusers_class(other).is_some() => {
            return Err(SchedulerError::NotImplemented(other.to_string()))
        }
        other => return Err(SchedulerError::Unknown(other.to_string())),
    })
}

/// How many inference steps img2img skips at the start: `steps - min(int(steps * strength), steps)`
/// as in diffusers' `get_timesteps`, with `strength` taken at its shortest decimal value (0.7f32
/// counts as Python's 0.7, so `int(10 * 0.7) == 7`), and never all of them.
pub fn img2img_skipped_steps(steps: usize, strength: Option<f32>) -> usize {
    let Some(strength) = strength else { return 0 };
    let strength: f64 = strength.to_string().parse().unwrap_or(strength as f64);
    let product = steps as f64 * strength;
    let init = if product.is_nan() || product <= 0.0 {
        0
    } else {
        (product.trunc() as usize).min(steps)
    };
    (steps - init).min(steps.saturating_sub(1))
}

/// `steps` clamped to what a schedule of `num_train_timesteps` can hold.
pub(crate) fn clamp_steps(steps: usize, num_train_timesteps: usize) -> usize {
    steps.clamp(1, num_train_timesteps.max(1))
}

/// diffusers' `add_noise` for alpha-product schedulers:
/// `sqrt(abar) * original + sqrt(1 - abar) * noise`, float32 like torch.
pub(crate) fn add_noise_alpha(
    alpha_cumprod: f32,
    original: &[f32],
    noise: &[f32],
    out: &mut [f32],
) {
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
    let sqrt_alpha = alpha_cumprod.sqrt();
    let sqrt_one_minus = (1.0 - alpha_cumprod).sqrt();
    for ((o, &x), &n) in out.iter_mut().zip(original).zip(noise) {
        *o = sqrt_alpha * x + sqrt_one_minus * n;
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Oracle denoisers: "models" that return the exact prediction for the current sample,
    //! given the clean sample x0 they are steering towards.

    use super::*;
    use crate::noise::SeededNoise;

    pub(crate) use super::config::tests::SD15_PNDM;

    pub fn sd15_config() -> SchedulerConfig {
        SchedulerConfig::from_json_str(SD15_PNDM).unwrap()
    }

    /// A fixed clean sample in (-0.9, 0.9), so DDIM's clipping to [-1, 1] never bites.
    pub fn clean_sample(len: usize) -> Vec<f32> {
        (0..len).map(|i| 0.9 * ((i as f32 * 0.731).sin())).collect()
    }

    pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// What the oracle model knows about the noise level at a timestep.
    pub enum Oracle<'a> {
        /// Alpha-product space (DDIM, PNDM): `x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps`.
        Alpha(&'a [f32]),
        /// Sigma space (Euler family): the sample is `x0 + sigma * eps` and the model sees it
        /// scaled by `1 / sqrt(sigma^2 + 1)`; `sigma` is the scheduler's sigma at the index.
        Sigma(Box<dyn Fn(usize) -> f64 + 'a>),
    }

    /// The exact model output for `sample` at entry `index` of the schedule.
    pub fn oracle_output(
        oracle: &Oracle,
        prediction: PredictionType,
        timestep: f64,
        index: usize,
        sample: &[f32],
        x0: &[f32],
        out: &mut [f32],
    ) {
        for ((o, &x), &clean) in out.iter_mut().zip(sample).zip(x0) {
            let (x, clean) = (x as f64, clean as f64);
            let value = match oracle {
                Oracle::Alpha(alphas_cumprod) => {
                    let abar = alphas_cumprod[timestep as usize] as f64;
                    let (a, s) = (abar.sqrt(), (1.0 - abar).sqrt());
                    let eps = (x - a * clean) / s;
                    match prediction {
                        PredictionType::Epsilon => eps,
                        PredictionType::VPrediction => a * eps - s * clean,
                        PredictionType::Sample => clean,
                    }
                }
                Oracle::Sigma(sigma_at) => {
                    let sigma = sigma_at(index);
                    let eps = (x - clean) / sigma;
                    match prediction {
                        PredictionType::Epsilon => eps,
                        // v of the scaled input x / sqrt(sigma^2 + 1) = a x0 + s eps with
                        // a = 1 / sqrt(sigma^2 + 1), s = sigma / sqrt(sigma^2 + 1).
                        PredictionType::VPrediction => {
                            (eps - sigma * clean) / (sigma * sigma + 1.0).sqrt()
                        }
                        PredictionType::Sample => clean,
                    }
                }
            };
            *o = value as f32;
        }
    }

    /// Runs a full txt2img-style loop with the oracle model and returns the final sample.
    pub fn run_oracle(
        scheduler: &mut dyn Scheduler,
        oracle: &Oracle,
        prediction: PredictionType,
        steps: usize,
        x0: &[f32],
        seed: u64,
    ) -> Vec<f32> {
        scheduler.set_timesteps(steps, None);
        let mut sample = vec![0f32; x0.len()];
        SeededNoise::new(seed).fill_standard_normal(&mut sample);
        let sigma = scheduler.init_noise_sigma();
        sample.iter_mut().for_each(|x| *x *= sigma);
        let mut step_noise = SeededNoise::new(seed ^ 0x5eed);
        let mut output = vec![0f32; x0.len()];
        let timesteps = scheduler.timesteps().to_vec();
        for (index, &t) in timesteps.iter().enumerate() {
            oracle_output(oracle, prediction, t, index, &sample, x0, &mut output);
            scheduler.step(&output, index, &mut sample, &mut step_noise);
            assert!(
                sample.iter().all(|v| v.is_finite()),
                "non-finite sample at index {index}"
            );
        }
        sample
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_builds_every_listed_scheduler() {
        let config = test_support::sd15_config();
        for &name in SCHEDULER_NAMES {
            let mut scheduler =
                create_scheduler(name, &config, SchedulerOptions::default()).unwrap();
            assert_eq!(scheduler.name(), name);
            assert!(diffusers_class(name).is_some());
            scheduler.set_timesteps(10, None);
            assert!(scheduler.timesteps().len() >= 10, "{name}");
            assert!(
                scheduler.timesteps().windows(2).all(|w| w[0] >= w[1]),
                "{name} not descending"
            );
        }
    }

    #[test]
    fn registry_names_unknown_and_lists_all_sixteen_in_order() {
        let config = SchedulerConfig::default();
        let names: Vec<&str> = ONNX_WEB_SCHEDULERS.iter().map(|(n, _)| *n).collect();
        assert_eq!(SCHEDULER_NAMES, &names[..]);
        assert!(matches!(
            create_scheduler("warp-drive", &config, SchedulerOptions::default()),
            Err(SchedulerError::Unknown(_))
        ));
        assert_eq!(ONNX_WEB_SCHEDULERS.len(), 16);
        for name in SCHEDULER_NAMES {
            assert!(ONNX_WEB_SCHEDULERS.iter().any(|(n, _)| n == name));
        }
    }

    #[test]
    fn img2img_skip_uses_python_int_of_decimal_strength() {
        assert_eq!(img2img_skipped_steps(10, None), 0);
        assert_eq!(img2img_skipped_steps(10, Some(1.0)), 0);
        assert_eq!(img2img_skipped_steps(10, Some(1.5)), 0);
        // int(10 * 0.7) == 7 in Python (7.000000000000001); 0.7f32 alone would give 6.
        assert_eq!(img2img_skipped_steps(10, Some(0.7)), 3);
        assert_eq!(img2img_skipped_steps(10, Some(0.3)), 7);
        assert_eq!(img2img_skipped_steps(25, Some(0.5)), 13);
        assert_eq!(img2img_skipped_steps(50, Some(0.8)), 10);
        // Nothing left would be an empty loop: keep one step.
        assert_eq!(img2img_skipped_steps(10, Some(0.05)), 9);
        assert_eq!(img2img_skipped_steps(10, Some(0.0)), 9);
        assert_eq!(img2img_skipped_steps(1, Some(0.1)), 0);
    }

    #[test]
    fn add_noise_alpha_closed_form() {
        let original = [1.0f32, -2.0, 0.5];
        let noise = [0.3f32, 0.1, -1.0];
        let mut out = [0f32; 3];
        add_noise_alpha(0.64, &original, &noise, &mut out);
        for i in 0..3 {
            let expected = 0.8 * original[i] + 0.6 * noise[i];
            assert!((out[i] - expected).abs() < 1e-6);
        }
    }
}
