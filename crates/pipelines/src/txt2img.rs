//! txt2img: prompt -> embeddings -> seeded latents -> scheduler loop over the UNet -> VAE -> images.

use std::time::{Duration, Instant};

use image::RgbImage;
use onnx_web_diffusion::noise::{NoiseSource, SeededNoise};
use onnx_web_diffusion::prompt::encode_prompt;
use onnx_web_diffusion::schedulers::{create_scheduler, SchedulerOptions};
use onnx_web_diffusion::vae::LATENT_SCALE;
use onnx_web_diffusion::StableDiffusion;
use onnx_web_imageops::decoded_to_images;

use crate::error::{PipelineError, Result};
use crate::params::{ImageParams, Size};
use crate::progress::Progress;

/// Where the time of one run went, for logs and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunStats {
    pub total: Duration,
    /// Time in model calls (text encoder, UNet, VAE), measured around each call.
    pub in_runtime: Duration,
    /// Time inside the UNet alone.
    pub in_unet: Duration,
    /// Wall time of the denoising loop.
    pub denoise_loop: Duration,
    /// UNet calls made.
    pub unet_calls: u32,
}

impl RunStats {
    /// Our own work per denoising step: the loop's wall time minus the UNet's, per call.
    pub fn overhead_per_step(&self) -> Duration {
        if self.unet_calls == 0 {
            return Duration::ZERO;
        }
        self.denoise_loop.saturating_sub(self.in_unet) / self.unet_calls
    }
}

pub struct Txt2ImgOutput {
    pub images: Vec<RgbImage>,
    pub stats: RunStats,
}

/// Seed of the scheduler's own noise, kept apart from the initial latents' stream so that
/// deterministic and stochastic schedulers start from the same latents for a seed.
fn scheduler_noise_seed(seed: u32) -> u64 {
    u64::from(seed) | (1 << 32)
}

/// Runs txt2img on loaded models. Progress counts UNet calls; a cancel stops at the next one.
pub fn run(
    models: &StableDiffusion,
    params: &ImageParams,
    size: Size,
    progress: &Progress,
) -> Result<Txt2ImgOutput> {
    let started = Instant::now();
    // Timed here, per call, rather than read from the models' counters, which jobs on other
    // threads may be adding to.
    let mut in_runtime = Duration::ZERO;
    let mut in_unet = Duration::ZERO;

    if !size.width.is_multiple_of(8)
        || !size.height.is_multiple_of(8)
        || size.width == 0
        || size.height == 0
    {
        return Err(PipelineError::InvalidSize(size));
    }
    let batch = params.batch.max(1) as usize;
    let guidance = params.cfg > 1.0;
    let call_started = Instant::now();
    let embeddings = encode_prompt(
        &models.tokenizer,
        &models.text_encoder,
        &params.prompt,
        params.negative_prompt.as_deref(),
        batch,
        guidance,
    )?;
    in_runtime += call_started.elapsed();
    progress.check()?;

    let mut scheduler = create_scheduler(
        &params.scheduler,
        &models.scheduler_config,
        SchedulerOptions { eta: params.eta },
    )?;
    scheduler.set_timesteps(params.steps.max(1) as usize, None);

    let latent_shape = [
        batch,
        4,
        (size.height / 8) as usize,
        (size.width / 8) as usize,
    ];
    let latent_len: usize = latent_shape.iter().product();
    let mut latents = vec![0f32; latent_len];
    SeededNoise::new(u64::from(params.seed)).fill_standard_normal(&mut latents);
    let init_sigma = scheduler.init_noise_sigma();
    latents.iter_mut().for_each(|x| *x *= init_sigma);

    // Buffers reused by every step: the loop allocates nothing of its own.
    let rows = if guidance { 2 } else { 1 };
    let mut model_input = vec![0f32; rows * latent_len];
    let mut prediction = vec![0f32; rows * latent_len];
    let mut guided = vec![0f32; latent_len];
    let mut step_noise = SeededNoise::new(scheduler_noise_seed(params.seed));
    let unet_shape = [
        rows * batch,
        latent_shape[1],
        latent_shape[2],
        latent_shape[3],
    ];
    let cfg = params.cfg;

    let loop_started = Instant::now();
    let timesteps = scheduler.timesteps().to_vec();
    for (index, &timestep) in timesteps.iter().enumerate() {
        let scale = scheduler.input_scale(index);
        for chunk in model_input.chunks_exact_mut(latent_len) {
            for (input, &latent) in chunk.iter_mut().zip(&latents) {
                *input = latent * scale;
            }
        }
        let call_started = Instant::now();
        models.unet.predict(
            &model_input,
            unet_shape,
            timestep,
            &embeddings.data,
            embeddings.shape,
            &mut prediction,
        )?;
        in_unet += call_started.elapsed();
        let output = if guidance {
            let (uncond, text) = prediction.split_at(latent_len);
            for ((g, &u), &t) in guided.iter_mut().zip(uncond).zip(text) {
                *g = u + cfg * (t - u);
            }
            &guided[..]
        } else {
            &prediction[..]
        };
        scheduler.step(output, index, &mut latents, &mut step_noise);
        progress.step_done()?;
    }
    let denoise_loop = loop_started.elapsed();

    latents.iter_mut().for_each(|x| *x /= LATENT_SCALE);
    let call_started = Instant::now();
    let (decoded, image_shape) = models.vae_decoder.decode(&latents, latent_shape)?;
    in_runtime += call_started.elapsed() + in_unet;
    let [_, _, height, width] = image_shape;
    let images = decoded_to_images(&decoded, batch, height, width);

    let stats = RunStats {
        total: started.elapsed(),
        in_runtime,
        in_unet,
        denoise_loop,
        unet_calls: timesteps.len() as u32,
    };
    Ok(Txt2ImgOutput { images, stats })
}
