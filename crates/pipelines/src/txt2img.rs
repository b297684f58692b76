//! txt2img: prompt -> embeddings -> seeded latents -> scheduler loop over the UNet -> VAE -> images.
//!
//! The randomness is onnx-web's: the initial latents are `numpy.random.default_rng(seed)` draws
//! ([`latents_from_seed`], bit for bit), and stochastic schedulers draw their step noise from
//! `numpy.random.RandomState(seed)` (see [`scheduler_noise`]).

use std::time::{Duration, Instant};

use image::RgbImage;
use onnx_web_diffusion::latents::{latent_shape, latents_from_seed};
use onnx_web_diffusion::noise::RandomState;
use onnx_web_diffusion::prompt::encode_prompt;
use onnx_web_diffusion::prompt_parser::slice_prompt;
use onnx_web_diffusion::schedulers::{create_scheduler, SchedulerOptions};
use onnx_web_diffusion::unet::UnetInputs;
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

/// The final latents of a run: the scheduler's last output, `[batch, 4, height / 8, width / 8]`,
/// before the `1 / 0.18215` scaling and the VAE.
pub struct Txt2ImgLatents {
    pub latents: Vec<f32>,
    pub shape: [usize; 4],
    /// Time so far (text encoder and UNet; no VAE).
    pub stats: RunStats,
}

/// The step noise of stochastic schedulers (DDIM with eta > 0, Euler ancestral, ...) for a seed:
/// `numpy.random.RandomState(seed).randn(...)` in float32, one draw of the latents' shape per
/// step.
///
/// onnx-web itself cannot be matched here: diffusers' ONNX pipelines do not pass their
/// `generator` (onnx-web's `RandomState(seed)`) to `scheduler.step`, so those schedulers draw
/// from torch's global, unseeded generator, whose state depends on what the worker process ran
/// before. We draw from the generator onnx-web hands to the pipeline instead: reproducible, and
/// independent of the initial latents' stream.
pub fn scheduler_noise(seed: u32) -> RandomState {
    RandomState::new(seed)
}

/// Runs txt2img on loaded models. Progress counts UNet calls; a cancel stops at the next one.
pub fn run(
    models: &StableDiffusion,
    params: &ImageParams,
    size: Size,
    progress: &Progress,
) -> Result<Txt2ImgOutput> {
    let started = Instant::now();
    let Txt2ImgLatents {
        mut latents,
        shape,
        mut stats,
    } = denoise(models, params, size, progress)?;

    latents.iter_mut().for_each(|x| *x /= LATENT_SCALE);
    let call_started = Instant::now();
    let (decoded, image_shape) = models.vae_decoder.decode(&latents, shape)?;
    stats.in_runtime += call_started.elapsed();
    let [_, _, height, width] = image_shape;
    let images = decoded_to_images(&decoded, shape[0], height, width);

    stats.total = started.elapsed();
    Ok(Txt2ImgOutput { images, stats })
}

/// txt2img up to the final latents: prompt embeddings, onnx-web's seeded latents, the scheduler
/// loop over the UNet. [`run`] decodes the result; tests compare it with onnx-web's.
pub fn denoise(
    models: &StableDiffusion,
    params: &ImageParams,
    size: Size,
    progress: &Progress,
) -> Result<Txt2ImgLatents> {
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
        slice_prompt(&params.prompt, 0),
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

    // onnx-web's get_latents_from_seed, for the whole image.
    let (width, height) = (size.width as usize, size.height as usize);
    let latent_shape = latent_shape(batch, width, height);
    let latent_len: usize = latent_shape.iter().product();
    let mut latents = latents_from_seed(u64::from(params.seed), batch, width, height);
    crate::sd::apply_reseeds(
        &mut latents,
        latent_shape,
        slice_prompt(&params.prompt, 0),
        params.seed,
    );
    let init_sigma = scheduler.init_noise_sigma();
    latents.iter_mut().for_each(|x| *x *= init_sigma);

    // Buffers reused by every step: the loop allocates nothing of its own.
    let rows = if guidance { 2 } else { 1 };
    let mut model_input = vec![0f32; rows * latent_len];
    let mut prediction = vec![0f32; rows * latent_len];
    let mut guided = vec![0f32; latent_len];
    let mut step_noise = scheduler_noise(params.seed);
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
            &UnetInputs::new(
                &model_input,
                unet_shape,
                timestep,
                &embeddings.data,
                embeddings.shape,
            ),
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

    let stats = RunStats {
        total: started.elapsed(),
        in_runtime: in_runtime + in_unet,
        in_unet,
        denoise_loop,
        unet_calls: timesteps.len() as u32,
    };
    Ok(Txt2ImgLatents {
        latents,
        shape: latent_shape,
        stats,
    })
}
