//! Euler ancestral (diffusers `EulerAncestralDiscreteScheduler`, k-diffusion's
//! `sample_euler_ancestral` with eta 1): an Euler step down to `sigma_down`, then fresh noise of
//! size `sigma_up`.
//!
//! Supported: every beta schedule, `trained_betas`, `rescale_betas_zero_snr`, `epsilon` and
//! `v_prediction`, the three timestep spacings with `steps_offset`. Like diffusers, the class
//! does not read `use_karras_sigmas` / `interpolation_type`, and refuses `sample` prediction.

use super::config::{PredictionType, SchedulerConfig, TimestepSpacing};
use super::euler::{
    add_noise_sigma, euler_init_noise_sigma, interpolated_schedule, sigma_space_alphas_cumprod,
    train_sigmas,
};
use super::{clamp_steps, img2img_skipped_steps, NoiseSource, Scheduler, SchedulerError};

pub struct EulerAncestralDiscreteScheduler {
    train_sigmas: Vec<f32>,
    num_train_timesteps: usize,
    spacing: TimestepSpacing,
    steps_offset: i64,
    prediction: PredictionType,
    all_timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    begin: usize,
    /// Noise of one step, reused.
    noise: Vec<f32>,
}

impl EulerAncestralDiscreteScheduler {
    pub fn new(config: &SchedulerConfig) -> Result<Self, SchedulerError> {
        let prediction = config.prediction()?;
        if prediction == PredictionType::Sample {
            return Err(SchedulerError::Unsupported {
                scheduler: "euler-a",
                feature: "prediction_type sample".into(),
            });
        }
        let alphas_cumprod = sigma_space_alphas_cumprod(config)?;
        Ok(Self {
            train_sigmas: train_sigmas(&alphas_cumprod),
            num_train_timesteps: config.num_train_timesteps,
            spacing: config.spacing(TimestepSpacing::Linspace)?,
            steps_offset: config.steps_offset,
            prediction,
            all_timesteps: Vec::new(),
            sigmas: Vec::new(),
            begin: 0,
            noise: Vec::new(),
        })
    }

    /// Sigmas of the schedule from `timesteps()[0]` on, ending with 0.
    pub fn sigmas(&self) -> &[f32] {
        &self.sigmas[self.begin..]
    }
}

impl Scheduler for EulerAncestralDiscreteScheduler {
    fn name(&self) -> &'static str {
        "euler-a"
    }

    fn set_timesteps(&mut self, steps: usize, strength: Option<f32>) {
        let steps = clamp_steps(steps, self.num_train_timesteps);
        let (timesteps, sigmas) = interpolated_schedule(
            self.spacing,
            self.num_train_timesteps,
            steps,
            self.steps_offset,
            &self.train_sigmas,
        );
        self.all_timesteps = timesteps;
        self.sigmas = sigmas;
        self.begin = img2img_skipped_steps(steps, strength) * self.order();
    }

    fn timesteps(&self) -> &[f64] {
        &self.all_timesteps[self.begin..]
    }

    fn sigmas(&self) -> Option<&[f32]> {
        Some(&self.sigmas)
    }

    fn init_noise_sigma(&self) -> f32 {
        euler_init_noise_sigma(&self.sigmas, self.spacing)
    }

    fn input_scale(&self, index: usize) -> f32 {
        let sigma = self.sigmas[self.begin + index];
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
            "euler-a: model output and sample lengths differ"
        );
        let i = self.begin + index;
        let sigma_from = self.sigmas[i];
        let sigma_to = self.sigmas[i + 1];
        let from2 = sigma_from * sigma_from;
        let to2 = sigma_to * sigma_to;
        let sigma_up = (to2 * (from2 - to2) / from2).max(0.0).sqrt();
        let sigma_down = (to2 - sigma_up * sigma_up).max(0.0).sqrt();
        let dt = sigma_down - sigma_from;
        let v_out = -sigma_from / (from2 + 1.0).sqrt();
        let v_skip = from2 + 1.0;

        let prediction = self.prediction;
        for (x, &out) in sample.iter_mut().zip(model_output) {
            let x0 = match prediction {
                PredictionType::VPrediction => out * v_out + *x / v_skip,
                _ => *x - sigma_from * out,
            };
            let derivative = (*x - x0) / sigma_from;
            *x += derivative * dt;
        }

        // diffusers draws the noise on every step, the last one (sigma_up = 0) included.
        self.noise.resize(sample.len(), 0.0);
        noise.fill_standard_normal(&mut self.noise);
        for (x, &z) in sample.iter_mut().zip(&self.noise) {
            *x += z * sigma_up;
        }
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], index: usize, out: &mut [f32]) {
        add_noise_sigma(self.sigmas[self.begin + index], original, noise, out);
    }

    fn order(&self) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::noise::SeededNoise;

    fn euler_a(config: &SchedulerConfig) -> EulerAncestralDiscreteScheduler {
        EulerAncestralDiscreteScheduler::new(config).unwrap()
    }

    #[test]
    fn timesteps_match_euler() {
        // Same spacing code as EulerDiscreteScheduler: linspace(0, 999, n, float32)[::-1].
        let mut scheduler = euler_a(&sd15_config());
        scheduler.set_timesteps(4, None);
        assert_eq!(scheduler.timesteps(), &[999.0, 666.0, 333.0, 0.0]);
        assert_eq!(scheduler.sigmas().len(), 5);
        assert_eq!(scheduler.sigmas()[4], 0.0);
        assert!((scheduler.init_noise_sigma() - 14.6146).abs() < 1e-3);
    }

    fn run(
        config: &SchedulerConfig,
        prediction: PredictionType,
        steps: usize,
        seed: u64,
    ) -> Vec<f32> {
        let x0 = clean_sample(257);
        let mut scheduler = euler_a(config);
        scheduler.set_timesteps(steps, None);
        let sigmas = scheduler.sigmas().to_vec();
        let oracle = Oracle::Sigma(Box::new(move |i| sigmas[i] as f64));
        run_oracle(&mut scheduler, &oracle, prediction, steps, &x0, seed)
    }

    // Every step's x0 prediction is exact, and the last step has sigma_to = 0, hence
    // sigma_up = sigma_down = 0: the result is x0 whatever noise was added on the way.

    #[test]
    fn oracle_epsilon_reaches_x0() {
        let x0 = clean_sample(257);
        for steps in [4, 10, 25] {
            let err = max_abs_diff(
                &run(&sd15_config(), PredictionType::Epsilon, steps, 31),
                &x0,
            );
            assert!(err < 1e-4, "steps={steps}: max error {err}");
        }
    }

    #[test]
    fn oracle_v_prediction_reaches_x0() {
        let mut config = sd15_config();
        config.prediction_type = "v_prediction".into();
        let x0 = clean_sample(257);
        for steps in [4, 10, 25] {
            let err = max_abs_diff(&run(&config, PredictionType::VPrediction, steps, 31), &x0);
            assert!(err < 1e-4, "steps={steps}: max error {err}");
        }
    }

    /// A model that ignores x0: the trajectory then depends on the step noise.
    fn run_with_fixed_model(seed: u64) -> Vec<f32> {
        let mut scheduler = euler_a(&sd15_config());
        scheduler.set_timesteps(10, None);
        let mut sample = vec![0f32; 64];
        SeededNoise::new(1).fill_standard_normal(&mut sample);
        let init = scheduler.init_noise_sigma();
        sample.iter_mut().for_each(|x| *x *= init);
        let output: Vec<f32> = (0..64).map(|i| (i as f32 * 0.1).sin()).collect();
        let mut noise = SeededNoise::new(seed);
        for index in 0..scheduler.timesteps().len() {
            scheduler.step(&output, index, &mut sample, &mut noise);
        }
        sample
    }

    #[test]
    fn same_seed_same_result_different_seed_different_result() {
        let a = run_with_fixed_model(7);
        let b = run_with_fixed_model(7);
        let c = run_with_fixed_model(8);
        assert_eq!(a, b);
        assert!(max_abs_diff(&a, &c) > 1e-2);
    }

    #[test]
    fn one_step_matches_closed_form() {
        // sigma_up = sqrt(s1^2 (s0^2 - s1^2) / s0^2), sigma_down = sqrt(s1^2 - sigma_up^2),
        // x' = x + eps (sigma_down - s0) + z sigma_up.
        let mut scheduler = euler_a(&sd15_config());
        scheduler.set_timesteps(10, None);
        let (s0, s1) = (scheduler.sigmas()[0] as f64, scheduler.sigmas()[1] as f64);
        let up = (s1 * s1 * (s0 * s0 - s1 * s1) / (s0 * s0)).sqrt();
        let down = (s1 * s1 - up * up).sqrt();
        let n = 16;
        let mut sample: Vec<f32> = (0..n).map(|i| i as f32 - 8.0).collect();
        let eps: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).cos()).collect();
        let mut z = vec![0f32; n];
        SeededNoise::new(12).fill_standard_normal(&mut z);
        let before = sample.clone();
        scheduler.step(&eps, 0, &mut sample, &mut SeededNoise::new(12));
        for i in 0..n {
            let expected = before[i] as f64 + eps[i] as f64 * (down - s0) + z[i] as f64 * up;
            assert!((sample[i] as f64 - expected).abs() < 1e-5, "{i}");
        }
    }

    #[test]
    fn add_noise_and_strength() {
        let mut scheduler = euler_a(&sd15_config());
        scheduler.set_timesteps(10, Some(0.3));
        assert_eq!(scheduler.timesteps(), &[222.0, 111.0, 0.0]);
        let x0 = clean_sample(8);
        let noise = vec![1.0f32; 8];
        let mut out = vec![0f32; 8];
        scheduler.add_noise(&x0, &noise, 0, &mut out);
        let sigma = scheduler.sigmas()[0];
        for i in 0..8 {
            assert_eq!(out[i], x0[i] + sigma);
        }
    }

    #[test]
    fn refuses_sample_prediction() {
        let mut config = sd15_config();
        config.prediction_type = "sample".into();
        assert!(matches!(
            EulerAncestralDiscreteScheduler::new(&config),
            Err(SchedulerError::Unsupported { .. })
        ));
    }
}
