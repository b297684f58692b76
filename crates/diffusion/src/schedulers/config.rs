//! `scheduler/scheduler_config.json`, read with diffusers' semantics, and the noise schedule
//! (betas, cumulative alpha products) shared by every scheduler.
//!
//! A diffusers scheduler class reads the keys of its constructor from the config and ignores the
//! rest; a missing key takes the class default. Keys whose default differs between classes
//! (`timestep_spacing`, `set_alpha_to_one`, `clip_sample`, `skip_prk_steps`, ...) are kept as
//! `Option` here and resolved by each scheduler.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SchedulerError;

/// The scheduler config of a model, with diffusers' defaults for missing (or `null`) keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawSchedulerConfig")]
pub struct SchedulerConfig {
    /// The `_class_name` the model was exported with (informational).
    pub class_name: Option<String>,
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    /// `linear`, `scaled_linear` or `squaredcos_cap_v2`.
    pub beta_schedule: String,
    pub trained_betas: Option<Vec<f64>>,
    /// `epsilon`, `v_prediction` or `sample`.
    pub prediction_type: String,
    /// `linspace`, `leading` or `trailing`; `None` = the class default.
    pub timestep_spacing: Option<String>,
    pub steps_offset: i64,
    /// `None` = class default (DDIM: true, PNDM: false).
    pub set_alpha_to_one: Option<bool>,
    /// `None` = class default (DDIM: true).
    pub clip_sample: Option<bool>,
    pub clip_sample_range: f64,
    /// Dynamic thresholding (DDIM); not supported: a scheduler that would use it refuses the
    /// config.
    pub thresholding: bool,
    pub use_karras_sigmas: bool,
    /// `linear` or `log_linear` (Euler).
    pub interpolation_type: String,
    /// `None` = class default (PNDM: false).
    pub skip_prk_steps: Option<bool>,
    pub rescale_betas_zero_snr: bool,
    /// Karras schedule bounds (Euler); `None` = the ends of the model's schedule.
    pub sigma_min: Option<f64>,
    pub sigma_max: Option<f64>,
    /// `zero` or `sigma_min` (Euler).
    pub final_sigmas_type: String,
    /// `discrete` or `continuous` (Euler).
    pub timestep_type: String,
    /// DDPM: `fixed_small` (default), `fixed_small_log`, `fixed_large`; DPM-Solver: `None`.
    pub variance_type: Option<String>,
    /// Multistep / singlestep solvers (DEIS, DPM-Solver, UniPC): 1, 2 or 3; default 2.
    pub solver_order: usize,
    /// DPM-Solver: `dpmsolver++` (default), `dpmsolver`, `sde-dpmsolver++`, `sde-dpmsolver`;
    /// `deis` for DEIS. `None` = the class default.
    pub algorithm_type: Option<String>,
    /// DPM-Solver: `midpoint` (default) or `heun`; UniPC: `bh2` (default) or `bh1`; DEIS:
    /// `logrho`. Names of the other families are mapped as diffusers maps them.
    pub solver_type: Option<String>,
    /// `None` = class default (multistep solvers: true, DPM-Solver singlestep: false).
    pub lower_order_final: Option<bool>,
    /// DPM-Solver multistep: a first-order last step.
    pub euler_at_final: bool,
    /// DPM-Solver: clip the schedule where lambda(t) falls below this; default -inf (no clip).
    /// `-Infinity` in the JSON (as Python writes it) is read as the default.
    pub lambda_min_clipped: f64,
    /// UniPC: predict x0 (UniPC's `B(h)` in data space) rather than the noise.
    pub predict_x0: bool,
    /// UniPC: steps whose corrector is skipped.
    pub disable_corrector: Vec<usize>,
    /// LCM: the length of the schedule the model was distilled on.
    pub original_inference_steps: usize,
    /// LCM: scale of the timestep in the boundary-condition scalings.
    pub timestep_scaling: f64,
    /// Sigma schedules we do not implement (exponential, beta, flow, Lu's lambdas): refused by
    /// the schedulers that would read them.
    pub unsupported_sigmas: Option<&'static str>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        RawSchedulerConfig::default().into()
    }
}

/// Every key optional, `null` accepted: what the JSON really says.
#[derive(Debug, Default, Deserialize)]
struct RawSchedulerConfig {
    #[serde(rename = "_class_name")]
    class_name: Option<String>,
    num_train_timesteps: Option<usize>,
    beta_start: Option<f64>,
    beta_end: Option<f64>,
    beta_schedule: Option<String>,
    trained_betas: Option<Vec<f64>>,
    prediction_type: Option<String>,
    timestep_spacing: Option<String>,
    steps_offset: Option<i64>,
    set_alpha_to_one: Option<bool>,
    clip_sample: Option<bool>,
    clip_sample_range: Option<f64>,
    thresholding: Option<bool>,
    use_karras_sigmas: Option<bool>,
    interpolation_type: Option<String>,
    skip_prk_steps: Option<bool>,
    rescale_betas_zero_snr: Option<bool>,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    final_sigmas_type: Option<String>,
    timestep_type: Option<String>,
    variance_type: Option<String>,
    solver_order: Option<usize>,
    algorithm_type: Option<String>,
    solver_type: Option<String>,
    lower_order_final: Option<bool>,
    euler_at_final: Option<bool>,
    lambda_min_clipped: Option<f64>,
    predict_x0: Option<bool>,
    disable_corrector: Option<Vec<usize>>,
    original_inference_steps: Option<usize>,
    timestep_scaling: Option<f64>,
    use_exponential_sigmas: Option<bool>,
    use_beta_sigmas: Option<bool>,
    use_flow_sigmas: Option<bool>,
    use_lu_lambdas: Option<bool>,
    /// Deprecated spelling of `prediction_type` (diffusers < 0.10).
    predict_epsilon: Option<bool>,
}

impl From<RawSchedulerConfig> for SchedulerConfig {
    fn from(raw: RawSchedulerConfig) -> Self {
        let prediction_type = raw
            .prediction_type
            .unwrap_or_else(|| match raw.predict_epsilon {
                Some(false) => "sample".to_string(),
                _ => "epsilon".to_string(),
            });
        Self {
            class_name: raw.class_name,
            num_train_timesteps: raw.num_train_timesteps.unwrap_or(1000),
            beta_start: raw.beta_start.unwrap_or(0.0001),
            beta_end: raw.beta_end.unwrap_or(0.02),
            beta_schedule: raw.beta_schedule.unwrap_or_else(|| "linear".into()),
            trained_betas: raw.trained_betas,
            prediction_type,
            timestep_spacing: raw.timestep_spacing,
            steps_offset: raw.steps_offset.unwrap_or(0),
            set_alpha_to_one: raw.set_alpha_to_one,
            clip_sample: raw.clip_sample,
            clip_sample_range: raw.clip_sample_range.unwrap_or(1.0),
            thresholding: raw.thresholding.unwrap_or(false),
            use_karras_sigmas: raw.use_karras_sigmas.unwrap_or(false),
            interpolation_type: raw.interpolation_type.unwrap_or_else(|| "linear".into()),
            skip_prk_steps: raw.skip_prk_steps,
            rescale_betas_zero_snr: raw.rescale_betas_zero_snr.unwrap_or(false),
            sigma_min: raw.sigma_min,
            sigma_max: raw.sigma_max,
            final_sigmas_type: raw.final_sigmas_type.unwrap_or_else(|| "zero".into()),
            timestep_type: raw.timestep_type.unwrap_or_else(|| "discrete".into()),
            variance_type: raw.variance_type,
            solver_order: raw.solver_order.unwrap_or(2),
            algorithm_type: raw.algorithm_type,
            solver_type: raw.solver_type,
            lower_order_final: raw.lower_order_final,
            euler_at_final: raw.euler_at_final.unwrap_or(false),
            lambda_min_clipped: raw.lambda_min_clipped.unwrap_or(f64::NEG_INFINITY),
            predict_x0: raw.predict_x0.unwrap_or(true),
            disable_corrector: raw.disable_corrector.unwrap_or_default(),
            original_inference_steps: raw.original_inference_steps.unwrap_or(50),
            timestep_scaling: raw.timestep_scaling.unwrap_or(10.0),
            unsupported_sigmas: [
                (raw.use_exponential_sigmas, "use_exponential_sigmas"),
                (raw.use_beta_sigmas, "use_beta_sigmas"),
                (raw.use_flow_sigmas, "use_flow_sigmas"),
                (raw.use_lu_lambdas, "use_lu_lambdas"),
            ]
            .into_iter()
            .find(|(value, _)| *value == Some(true))
            .map(|(_, key)| key),
        }
    }
}

/// How the betas are laid over the training timesteps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetaSchedule {
    Linear,
    ScaledLinear,
    SquaredCosCapV2,
}

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionType {
    Epsilon,
    VPrediction,
    Sample,
}

/// How inference timesteps are picked among the training timesteps (table 2 of "Common
/// Diffusion Noise Schedules and Sample Steps are Flawed").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestepSpacing {
    Linspace,
    Leading,
    Trailing,
}

impl SchedulerConfig {
    /// Reads `scheduler_config.json`.
    pub fn from_file(path: &Path) -> Result<Self, SchedulerError> {
        let text = std::fs::read_to_string(path).map_err(|source| SchedulerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text).map_err(|err| match err {
            SchedulerError::Json { source, .. } => SchedulerError::Json {
                path: Some(path.to_path_buf()),
                source,
            },
            other => other,
        })
    }

    /// Parses the text of a `scheduler_config.json`. Python's `json` writes non-finite floats
    /// as `NaN`, `Infinity` and `-Infinity` (diffusers' `lambda_min_clipped` default is
    /// `-inf`); those bare words are read as `null`, i.e. the class default.
    pub fn from_json_str(text: &str) -> Result<Self, SchedulerError> {
        let text = replace_non_finite_literals(text);
        serde_json::from_str::<RawSchedulerConfig>(&text)
            .map(Self::from)
            .map_err(|source| SchedulerError::Json { path: None, source })
    }

    /// What diffusers' Stable Diffusion pipelines (the ONNX ones included) do to the scheduler
    /// config they are given: `steps_offset` is forced to 1 and `clip_sample` to false, with a
    /// deprecation warning. onnx-web builds its pipelines that way, so its schedulers see the
    /// fixed config.
    pub fn with_sd_pipeline_fixups(mut self) -> Self {
        self.steps_offset = 1;
        if self.clip_sample != Some(false) {
            self.clip_sample = Some(false);
        }
        self
    }

    /// Refuses the sigma schedules that no scheduler here implements.
    pub(crate) fn check_sigma_options(
        &self,
        scheduler: &'static str,
    ) -> Result<(), SchedulerError> {
        match self.unsupported_sigmas {
            Some(key) => Err(SchedulerError::Unsupported {
                scheduler,
                feature: key.to_string(),
            }),
            None => Ok(()),
        }
    }

    pub fn beta_schedule(&self) -> Result<BetaSchedule, SchedulerError> {
        match self.beta_schedule.as_str() {
            "linear" => Ok(BetaSchedule::Linear),
            "scaled_linear" => Ok(BetaSchedule::ScaledLinear),
            "squaredcos_cap_v2" => Ok(BetaSchedule::SquaredCosCapV2),
            other => Err(SchedulerError::InvalidConfig(format!(
                "beta_schedule {other:?} is not one of linear, scaled_linear, squaredcos_cap_v2"
            ))),
        }
    }

    pub fn prediction(&self) -> Result<PredictionType, SchedulerError> {
        match self.prediction_type.as_str() {
            "epsilon" => Ok(PredictionType::Epsilon),
            "v_prediction" => Ok(PredictionType::VPrediction),
            // "original_sample" is an old alias diffusers still accepts in Euler.
            "sample" | "original_sample" => Ok(PredictionType::Sample),
            other => Err(SchedulerError::InvalidConfig(format!(
                "prediction_type {other:?} is not one of epsilon, v_prediction, sample"
            ))),
        }
    }

    /// The configured spacing, or `class_default` when the key is missing.
    pub fn spacing(
        &self,
        class_default: TimestepSpacing,
    ) -> Result<TimestepSpacing, SchedulerError> {
        match self.timestep_spacing.as_deref() {
            None => Ok(class_default),
            Some("linspace") => Ok(TimestepSpacing::Linspace),
            Some("leading") => Ok(TimestepSpacing::Leading),
            Some("trailing") => Ok(TimestepSpacing::Trailing),
            Some(other) => Err(SchedulerError::InvalidConfig(format!(
                "timestep_spacing {other:?} is not one of linspace, leading, trailing"
            ))),
        }
    }

    /// The betas as diffusers builds them: float32 `torch.linspace` for `linear` and
    /// `scaled_linear` (the latter squared in float32), float64 math rounded to float32 for
    /// `squaredcos_cap_v2` and `trained_betas`.
    pub fn betas(&self) -> Result<Vec<f32>, SchedulerError> {
        let n = self.num_train_timesteps;
        if n < 2 {
            return Err(SchedulerError::InvalidConfig(format!(
                "num_train_timesteps must be at least 2, not {n}"
            )));
        }
        if let Some(trained) = &self.trained_betas {
            if trained.len() != n {
                return Err(SchedulerError::InvalidConfig(format!(
                    "trained_betas has {} values for {n} training timesteps",
                    trained.len()
                )));
            }
            return Ok(trained.iter().map(|&b| b as f32).collect());
        }
        Ok(match self.beta_schedule()? {
            BetaSchedule::Linear => torch_linspace_f32(self.beta_start, self.beta_end, n),
            BetaSchedule::ScaledLinear => {
                torch_linspace_f32(self.beta_start.sqrt(), self.beta_end.sqrt(), n)
                    .into_iter()
                    .map(|b| b * b)
                    .collect()
            }
            BetaSchedule::SquaredCosCapV2 => betas_for_alpha_bar_cosine(n, 0.999),
        })
    }

    /// Cumulative products of `1 - beta` (float32 values, accumulated in float64 as torch's
    /// CPU `cumprod` does), after the zero-terminal-SNR rescale when `rescale_betas_zero_snr`
    /// is set and `honor_rescale` says the class reads that key.
    pub fn alphas_cumprod(&self, honor_rescale: bool) -> Result<Vec<f32>, SchedulerError> {
        let mut betas = self.betas()?;
        if honor_rescale && self.rescale_betas_zero_snr {
            betas = rescale_zero_terminal_snr(&betas);
        }
        Ok(cumprod_alphas(&betas))
    }
}

/// `NaN`, `Infinity` and `-Infinity` outside strings become `null`.
fn replace_non_finite_literals(text: &str) -> std::borrow::Cow<'_, str> {
    if !(text.contains("NaN") || text.contains("Infinity")) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(word) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|w| rest.starts_with(w))
        {
            out.push_str("null");
            rest = &rest[word.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// `torch.linspace(start, end, steps, dtype=torch.float32)` on CPU: float32 arithmetic, the
/// first half counted up from `start`, the second half down from `end`.
pub fn torch_linspace_f32(start: f64, end: f64, steps: usize) -> Vec<f32> {
    let start = start as f32;
    let end = end as f32;
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| {
            if i < halfway {
                start + step * i as f32
            } else {
                end - step * (steps - i - 1) as f32
            }
        })
        .collect()
}

/// The "squaredcos_cap_v2" (GLIDE cosine) betas.
pub fn betas_for_alpha_bar_cosine(n: usize, max_beta: f64) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        let c = ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0).cos();
        c * c
    };
    (0..n)
        .map(|i| {
            let t1 = i as f64 / n as f64;
            let t2 = (i + 1) as f64 / n as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(max_beta) as f32
        })
        .collect()
}

/// Betas rescaled to zero terminal SNR (algorithm 1 of "Common Diffusion Noise Schedules and
/// Sample Steps are Flawed"), in float32 like diffusers.
pub fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let cumprod = cumprod_alphas(betas);
    let mut sqrt_bar: Vec<f32> = cumprod.iter().map(|a| a.sqrt()).collect();
    let first = sqrt_bar[0];
    let last = *sqrt_bar.last().unwrap();
    let scale = first / (first - last);
    for value in sqrt_bar.iter_mut() {
        *value -= last;
        *value *= scale;
    }
    let bar: Vec<f32> = sqrt_bar.iter().map(|v| v * v).collect();
    let mut out = Vec::with_capacity(bar.len());
    out.push(1.0 - bar[0]);
    for i in 1..bar.len() {
        out.push(1.0 - bar[i] / bar[i - 1]);
    }
    out
}

fn cumprod_alphas(betas: &[f32]) -> Vec<f32> {
    let mut acc = 1.0f64;
    betas
        .iter()
        .map(|&beta| {
            acc *= (1.0f32 - beta) as f64;
            acc as f32
        })
        .collect()
}

/// `round()` of numpy: halves go to the even neighbour.
pub(crate) fn np_round(x: f64) -> f64 {
    x.round_ties_even()
}

/// `np.linspace(start, stop, num)` in float64 (`i * step + start`, the last value exactly `stop`).
pub(crate) fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (stop - start) / (num - 1) as f64;
            let mut values: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
            values[num - 1] = stop;
            values
        }
    }
}

/// `np.arange(start, stop, step)` for floats: `ceil((stop - start) / step)` values, the second
/// one `start + step`, the rest `start + i * delta` with `delta` the difference of the first two.
pub(crate) fn np_arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil();
    if len.is_nan() || len <= 0.0 {
        return Vec::new();
    }
    let len = len as usize;
    let mut values = Vec::with_capacity(len);
    values.push(start);
    if len > 1 {
        values.push(start + step);
        let delta = values[1] - values[0];
        for i in 2..len {
            values.push(start + i as f64 * delta);
        }
    }
    values
}

/// Inference timesteps, descending, as the `set_timesteps` of DDIM / Euler / PNDM build them
/// (before any class-specific reordering). `round_linspace`: DDIM and PNDM round `linspace`
/// timesteps to integers, Euler keeps them fractional (rounded to float32).
pub(crate) fn spaced_timesteps(
    spacing: TimestepSpacing,
    num_train_timesteps: usize,
    steps: usize,
    steps_offset: i64,
    round_linspace: bool,
) -> Vec<f64> {
    let train = num_train_timesteps as f64;
    match spacing {
        TimestepSpacing::Linspace => {
            let mut values = np_linspace(0.0, train - 1.0, steps);
            for value in values.iter_mut() {
                *value = if round_linspace {
                    np_round(*value)
                } else {
                    *value as f32 as f64
                };
            }
            values.reverse();
            values
        }
        TimestepSpacing::Leading => {
            let ratio = num_train_timesteps / steps;
            (0..steps)
                .rev()
                .map(|i| np_round((i * ratio) as f64) + steps_offset as f64)
                .collect()
        }
        TimestepSpacing::Trailing => {
            let ratio = train / steps as f64;
            np_arange(train, 0.0, -ratio)
                .into_iter()
                .map(|t| np_round(t) - 1.0)
                .collect()
        }
    }
}

/// Where a config file came from, for errors.
pub(crate) fn display_path(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!(" in {}", p.display()))
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `stable-diffusion-v1-5/scheduler/scheduler_config.json` (written by diffusers 0.6).
    pub(crate) const SD15_PNDM: &str = r#"{
      "_class_name": "PNDMScheduler",
      "_diffusers_version": "0.6.0",
      "beta_end": 0.012,
      "beta_schedule": "scaled_linear",
      "beta_start": 0.00085,
      "num_train_timesteps": 1000,
      "set_alpha_to_one": false,
      "skip_prk_steps": true,
      "steps_offset": 1,
      "trained_betas": null,
      "clip_sample": false
    }"#;

    #[test]
    fn parses_sd15_config_and_fills_defaults() {
        let config = SchedulerConfig::from_json_str(SD15_PNDM).unwrap();
        assert_eq!(config.class_name.as_deref(), Some("PNDMScheduler"));
        assert_eq!(config.num_train_timesteps, 1000);
        assert_eq!(config.beta_start, 0.00085);
        assert_eq!(config.beta_end, 0.012);
        assert_eq!(config.beta_schedule().unwrap(), BetaSchedule::ScaledLinear);
        assert_eq!(config.trained_betas, None);
        assert_eq!(config.prediction().unwrap(), PredictionType::Epsilon);
        assert_eq!(config.timestep_spacing, None);
        assert_eq!(
            config.spacing(TimestepSpacing::Leading).unwrap(),
            TimestepSpacing::Leading
        );
        assert_eq!(
            config.spacing(TimestepSpacing::Linspace).unwrap(),
            TimestepSpacing::Linspace
        );
        assert_eq!(config.steps_offset, 1);
        assert_eq!(config.set_alpha_to_one, Some(false));
        assert_eq!(config.skip_prk_steps, Some(true));
        assert_eq!(config.clip_sample, Some(false));
        assert!(!config.use_karras_sigmas);
        assert_eq!(config.interpolation_type, "linear");
    }

    #[test]
    fn empty_config_is_diffusers_defaults_and_nulls_are_missing() {
        let config =
            SchedulerConfig::from_json_str(r#"{"use_karras_sigmas": null, "unknown_key": [1, 2]}"#)
                .unwrap();
        assert_eq!(config, SchedulerConfig::default());
        assert_eq!(config.num_train_timesteps, 1000);
        assert_eq!(config.beta_start, 0.0001);
        assert_eq!(config.beta_end, 0.02);
        assert_eq!(config.beta_schedule, "linear");
        assert_eq!(config.prediction_type, "epsilon");
        assert_eq!(config.steps_offset, 0);
        assert_eq!(config.clip_sample_range, 1.0);
        assert!(!config.use_karras_sigmas);
    }

    #[test]
    fn invalid_values_are_errors() {
        let mut config = SchedulerConfig {
            beta_schedule: "cubic".into(),
            ..Default::default()
        };
        assert!(config.betas().is_err());
        config = SchedulerConfig::default();
        config.prediction_type = "noise".into();
        assert!(config.prediction().is_err());
        config.timestep_spacing = Some("sometimes".into());
        assert!(config.spacing(TimestepSpacing::Leading).is_err());
        config = SchedulerConfig::default();
        config.trained_betas = Some(vec![0.1; 10]);
        assert!(config.betas().is_err());
        assert!(SchedulerConfig::from_json_str("{").is_err());
        assert!(SchedulerConfig::from_json_str(r#"{"num_train_timesteps": "many"}"#).is_err());
    }

    #[test]
    fn from_file_reads_and_reports_path() {
        let dir =
            std::env::temp_dir().join(format!("onnx-web-sched-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("scheduler_config.json");
        std::fs::write(&path, SD15_PNDM).unwrap();
        let config = SchedulerConfig::from_file(&path).unwrap();
        assert_eq!(config.beta_end, 0.012);
        std::fs::write(&path, "{ nope").unwrap();
        let err = SchedulerConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("scheduler_config.json"), "{err}");
        let missing = SchedulerConfig::from_file(&dir.join("missing.json")).unwrap_err();
        assert!(matches!(missing, SchedulerError::Io { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn python_non_finite_floats_read_as_defaults() {
        let config = SchedulerConfig::from_json_str(
            r#"{"lambda_min_clipped": -Infinity, "name": "x -Infinity \" NaN", "beta_end": NaN,
                "solver_order": 3}"#,
        )
        .unwrap();
        assert_eq!(config.lambda_min_clipped, f64::NEG_INFINITY);
        assert_eq!(config.beta_end, 0.02);
        assert_eq!(config.solver_order, 3);
        let config = SchedulerConfig::from_json_str(r#"{"lambda_min_clipped": -5.1}"#).unwrap();
        assert_eq!(config.lambda_min_clipped, -5.1);
    }

    #[test]
    fn unsupported_sigma_schedules_are_named() {
        let config = SchedulerConfig::from_json_str(r#"{"use_beta_sigmas": true}"#).unwrap();
        assert_eq!(config.unsupported_sigmas, Some("use_beta_sigmas"));
        assert!(config.check_sigma_options("heun").is_err());
        assert!(SchedulerConfig::default()
            .check_sigma_options("heun")
            .is_ok());
    }

    #[test]
    fn deprecated_predict_epsilon_maps_to_prediction_type() {
        let config = SchedulerConfig::from_json_str(r#"{"predict_epsilon": false}"#).unwrap();
        assert_eq!(config.prediction().unwrap(), PredictionType::Sample);
    }

    #[test]
    fn sd_pipeline_fixups() {
        let config = SchedulerConfig::default().with_sd_pipeline_fixups();
        assert_eq!(config.steps_offset, 1);
        assert_eq!(config.clip_sample, Some(false));
    }

    #[test]
    fn linear_betas_match_torch_float32_linspace() {
        let betas = SchedulerConfig::default().betas().unwrap();
        assert_eq!(betas.len(), 1000);
        assert_eq!(betas[0], 0.0001f32);
        assert_eq!(betas[999], 0.02f32);
        // Both halves are evenly spaced by (end - start) / 999 in float32.
        let step = (0.02f32 - 0.0001f32) / 999.0;
        assert_eq!(betas[1], 0.0001f32 + step);
        assert_eq!(betas[998], 0.02f32 - step);
        assert!((betas[500] as f64 - (0.0001 + 500.0 * 0.0199 / 999.0)).abs() < 1e-9);
    }

    #[test]
    fn scaled_linear_alphas_cumprod_match_sd_values() {
        let config = SchedulerConfig::from_json_str(SD15_PNDM).unwrap();
        let betas = config.betas().unwrap();
        assert_eq!(
            betas[0],
            (0.00085f64.sqrt() as f32) * (0.00085f64.sqrt() as f32)
        );
        assert_eq!(
            betas[999],
            (0.012f64.sqrt() as f32) * (0.012f64.sqrt() as f32)
        );
        let ac = config.alphas_cumprod(false).unwrap();
        assert_eq!(ac[0], 1.0 - betas[0]);
        // Reference: the same schedule in float64 (prod of 1 - (linspace(sqrt b0, sqrt b1))^2);
        // float32 betas and cumprod stay within a few 1e-7 of it. alphas_cumprod[999] of SD is
        // the well-known 0.0046 (sigma_max 14.6146).
        let mut acc = 1.0f64;
        let (s0, s1) = (0.00085f64.sqrt(), 0.012f64.sqrt());
        for (t, &value) in ac.iter().enumerate() {
            let b = s0 + (s1 - s0) * t as f64 / 999.0;
            acc *= 1.0 - b * b;
            assert!(
                (value as f64 - acc).abs() < 2e-6 * acc.max(0.01),
                "t={t}: {value} vs {acc}"
            );
        }
        let sigma_max = ((1.0 - ac[999]) / ac[999]).sqrt();
        assert!((sigma_max - 14.6146).abs() < 1e-3, "{sigma_max}");
    }

    #[test]
    fn cosine_betas_are_capped_and_increasing() {
        let config = SchedulerConfig {
            beta_schedule: "squaredcos_cap_v2".into(),
            ..Default::default()
        };
        let betas = config.betas().unwrap();
        assert_eq!(betas.len(), 1000);
        assert_eq!(betas[999], 0.999);
        assert!(betas.windows(2).all(|w| w[0] <= w[1]));
        // alpha_bar(1/1000)/alpha_bar(0) computed by hand: beta_0 ~ 4.1e-5.
        assert!((betas[0] as f64 - 4.13e-5).abs() < 1e-6, "{}", betas[0]);
    }

    #[test]
    fn zero_snr_rescale_ends_at_zero() {
        let mut config = SchedulerConfig::from_json_str(SD15_PNDM).unwrap();
        config.rescale_betas_zero_snr = true;
        let plain = config.alphas_cumprod(false).unwrap();
        let ac = config.alphas_cumprod(true).unwrap();
        assert_eq!(ac[999], 0.0);
        assert!((ac[0] - plain[0]).abs() < 1e-6);
    }

    #[test]
    fn numpy_helpers() {
        assert_eq!(np_round(0.5), 0.0);
        assert_eq!(np_round(1.5), 2.0);
        assert_eq!(np_round(499.5), 500.0);
        assert_eq!(np_round(-0.5), 0.0);
        assert_eq!(np_linspace(0.0, 999.0, 4), vec![0.0, 333.0, 666.0, 999.0]);
        assert_eq!(
            np_arange(1000.0, 0.0, -250.0),
            vec![1000.0, 750.0, 500.0, 250.0]
        );
        assert_eq!(np_arange(0.0, 1.0, -1.0), Vec::<f64>::new());
    }

    #[test]
    fn display_path_formats() {
        assert_eq!(display_path(&None), "");
        assert_eq!(
            display_path(&Some(PathBuf::from("/a/b.json"))),
            " in /a/b.json"
        );
    }
}
