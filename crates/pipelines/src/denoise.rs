//! The denoising loop shared by every stage beyond plain txt2img: classifier-free guidance, extra
//! UNet input channels (inpainting UNet, SD upscaler), plain-UNet inpainting that keeps the known
//! region, and MultiDiffusion views (onnx-web's panorama pipeline), so that latents larger than
//! the UNet tile are denoised one `unet_tile` window at a time and averaged.

use std::time::{Duration, Instant};

use onnx_web_diffusion::noise::{NoiseSource, RandomState};
use onnx_web_diffusion::schedulers::Scheduler;
use onnx_web_diffusion::sd_upscaler::UpscaleUnet;
use onnx_web_diffusion::text_encoder::Embeddings;
use onnx_web_diffusion::unet::{ExtraInput, Unet, UnetInputs};

use crate::error::Result;
use crate::progress::Progress;
use crate::regions::{RegionGuide, REGION_REPLACE_WEIGHT};

/// The UNet of a stage.
#[derive(Clone, Copy)]
pub enum UnetRef<'a> {
    Sd(&'a Unet),
    /// The SD x4 upscaler's UNet with its noise level.
    Upscale(&'a UpscaleUnet, i64),
    /// A UNet with more inputs, computed per call (SDXL, ControlNet).
    Extended(&'a Unet, &'a dyn ExtraInputs),
}

/// The extra named inputs of one UNet call on `sample` (already scaled, `[rows, c, h, w]` of
/// the `view`) at `timestep`.
pub trait ExtraInputs {
    fn inputs(
        &self,
        sample: &[f32],
        sample_shape: [usize; 4],
        timestep: f64,
        embeddings: &Embeddings,
        view: View,
    ) -> Result<Vec<ExtraInput>>;
}

/// Prompt embeddings and guidance.
#[derive(Clone, Copy)]
pub struct Guidance<'a> {
    /// `[negative × batch, prompt × batch]` with guidance, else `[prompt × batch]`.
    pub embeddings: &'a Embeddings,
    pub cfg: f32,
    pub enabled: bool,
    /// Region prompts (panorama pipelines), each with its own scheduler after the views'.
    pub regions: &'a [RegionGuide],
}

/// Channels appended to the latents in the UNet's `sample` (`[1, channels, h, w]` at the full
/// latent size, the same for every batch item): the inpainting UNet's mask and masked-image
/// latents, the SD upscaler's noisy low-resolution image.
#[derive(Clone, Copy)]
pub struct ExtraChannels<'a> {
    pub data: &'a [f32],
    pub channels: usize,
}

/// Inpainting with a plain UNet: after each step, the known region (mask 0) is replaced by the
/// original latents noised to the next timestep, and by the original itself after the last.
#[derive(Clone, Copy)]
pub struct KeepKnown<'a> {
    /// `[1, 1, h, w]`, 1 = regenerate.
    pub mask: &'a [f32],
    /// `[1, 4, h, w]`, already scaled.
    pub original: &'a [f32],
    /// `[batch, 4, h, w]`.
    pub noise: &'a [f32],
}

/// A window of the latents, in latent pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub top: usize,
    pub left: usize,
    pub height: usize,
    pub width: usize,
}

fn positions(size: usize, window: usize, stride: usize) -> Vec<usize> {
    if size <= window {
        return vec![0];
    }
    let stride = stride.max(1);
    let mut out: Vec<usize> = (0..=size - window).step_by(stride).collect();
    if out.last() != Some(&(size - window)) {
        out.push(size - window);
    }
    out
}

/// MultiDiffusion views over `height × width` latents: `window`-sized squares every `stride`,
/// the last one aligned to the far edge so every latent is covered. A single view when the
/// latents fit in one window. Windows are even, as UNets with down-sampling need.
pub fn views(height: usize, width: usize, window: usize, stride: usize) -> Vec<View> {
    let fit = |size: usize| {
        if size <= window {
            size
        } else {
            window.max(2) & !1
        }
    };
    let (vh, vw) = (fit(height), fit(width));
    let mut out = Vec::new();
    for &top in &positions(height, vh, stride) {
        for &left in &positions(width, vw, stride) {
            out.push(View {
                top,
                left,
                height: vh,
                width: vw,
            });
        }
    }
    out
}

/// Views for latents of an image, from the UNet tile and overlap (panorama's
/// `window = unet_tile / 8`, `stride = unet_tile × (1 − overlap) / 8`).
pub fn views_for(
    latent_height: usize,
    latent_width: usize,
    unet_tile: u32,
    unet_overlap: f64,
) -> Vec<View> {
    let window = (unet_tile as usize / 8).max(2);
    let stride = ((f64::from(unet_tile) * (1.0 - unet_overlap)) as usize / 8).max(1);
    views(latent_height, latent_width, window, stride)
}

/// Where the time of a denoising loop went.
#[derive(Debug, Default, Clone, Copy)]
pub struct DenoiseStats {
    pub unet_calls: u32,
    pub in_unet: Duration,
    pub wall: Duration,
}

/// `numpy.random.RandomState(seed).randn(len)` in float32: the noise diffusers' ONNX img2img,
/// inpaint and upscale pipelines draw from onnx-web's generator.
pub fn randn(seed: u32, len: usize) -> Vec<f32> {
    let mut out = vec![0f32; len];
    RandomState::new(seed).fill_standard_normal(&mut out);
    out
}

/// img2img's starting latents: the encoded source (`[1, 4, h, w]`) repeated over the batch of
/// `shape` and noised to the scheduler's first timestep with `noise`.
pub fn noised_source(
    original: &[f32],
    noise: &[f32],
    shape: [usize; 4],
    scheduler: &dyn Scheduler,
) -> Vec<f32> {
    let len: usize = shape.iter().product();
    let repeated: Vec<f32> = original.iter().copied().cycle().take(len).collect();
    let mut latents = vec![0f32; len];
    scheduler.add_noise(&repeated, noise, 0, &mut latents);
    latents
}

/// The step noise of stochastic schedulers, as txt2img draws it.
pub fn step_noise(seed: u32) -> RandomState {
    crate::txt2img::scheduler_noise(seed)
}

fn copy_view(src: &[f32], shape: [usize; 4], view: View, dst: &mut [f32]) {
    let [batch, channels, height, width] = shape;
    let mut at = 0;
    for item in 0..batch * channels {
        let plane = item * height * width;
        for y in view.top..view.top + view.height {
            let row = plane + y * width + view.left;
            dst[at..at + view.width].copy_from_slice(&src[row..row + view.width]);
            at += view.width;
        }
    }
}

/// Runs the scheduler loop over `latents` (`[batch, 4, h, w]`, already noised for the first
/// timestep), one scheduler per view (each with its timesteps set). Progress advances by one per
/// UNet call; a cancel stops at the next call.
#[allow(clippy::too_many_arguments)]
pub fn denoise(
    unet: UnetRef<'_>,
    guidance: Guidance<'_>,
    extra: Option<ExtraChannels<'_>>,
    keep: Option<KeepKnown<'_>>,
    views: &[View],
    schedulers: &mut [Box<dyn Scheduler>],
    latents: &mut [f32],
    shape: [usize; 4],
    step_noise: &mut dyn NoiseSource,
    progress: &Progress,
) -> Result<DenoiseStats> {
    assert_eq!(
        views.len() + guidance.regions.len(),
        schedulers.len(),
        "one scheduler per view and region"
    );
    let started = Instant::now();
    let mut stats = DenoiseStats::default();
    let [batch, channels, height, width] = shape;
    let View {
        height: vh,
        width: vw,
        ..
    } = views[0];
    let single = views.len() == 1 && vh == height && vw == width && guidance.regions.is_empty();
    let extra_channels = extra.map_or(0, |e| e.channels);
    let in_channels = channels + extra_channels;
    let rows = if guidance.enabled { 2 } else { 1 };
    let view_len = batch * channels * vh * vw;
    let plane = vh * vw;

    let mut view_latents = vec![0f32; view_len];
    let mut extra_view = vec![0f32; extra_channels * plane];
    let mut model_input = vec![0f32; rows * batch * in_channels * plane];
    let mut prediction = vec![0f32; rows * view_len];
    let mut guided = vec![0f32; view_len];
    let mut keep_buffers = keep.map(|_| {
        (
            vec![0f32; plane],    // mask
            vec![0f32; view_len], // original, repeated over the batch
            vec![0f32; view_len], // noise
            vec![0f32; view_len], // noised original
        )
    });
    let (mut value, mut count) = if single {
        (Vec::new(), Vec::new())
    } else {
        (vec![0f32; latents.len()], vec![0f32; height * width])
    };

    let timesteps = schedulers[0].timesteps().to_vec();
    let (view_schedulers, region_schedulers) = schedulers.split_at_mut(views.len());
    for (index, &timestep) in timesteps.iter().enumerate() {
        if !single {
            value.iter_mut().for_each(|v| *v = 0.0);
            count.iter_mut().for_each(|v| *v = 0.0);
        }
        for (view, scheduler) in views.iter().zip(view_schedulers.iter_mut()) {
            if single {
                view_latents.copy_from_slice(latents);
            } else {
                copy_view(latents, shape, *view, &mut view_latents);
            }
            if let Some(extra) = extra {
                copy_view(
                    extra.data,
                    [1, extra.channels, height, width],
                    *view,
                    &mut extra_view,
                );
            }
            let scale = scheduler.input_scale(index);
            let item_len = in_channels * plane;
            for row in 0..rows {
                for item in 0..batch {
                    let dst = &mut model_input[(row * batch + item) * item_len..][..item_len];
                    let src = &view_latents[item * channels * plane..][..channels * plane];
                    for (d, &s) in dst[..channels * plane].iter_mut().zip(src) {
                        *d = s * scale;
                    }
                    dst[channels * plane..].copy_from_slice(&extra_view);
                }
            }
            let unet_shape = [rows * batch, in_channels, vh, vw];
            let embeddings = guidance.embeddings;
            let call_started = Instant::now();
            let plain = UnetInputs::new(
                &model_input,
                unet_shape,
                timestep,
                &embeddings.data,
                embeddings.shape,
            );
            match unet {
                UnetRef::Sd(unet) => unet.predict(&plain, &mut prediction)?,
                UnetRef::Extended(unet, extra) => {
                    let inputs =
                        extra.inputs(&model_input, unet_shape, timestep, embeddings, *view)?;
                    let inputs = UnetInputs {
                        extra: &inputs,
                        ..plain
                    };
                    unet.predict(&inputs, &mut prediction)?
                }
                UnetRef::Upscale(unet, noise_level) => {
                    unet.predict(plain, noise_level, &mut prediction)?
                }
            }
            stats.in_unet += call_started.elapsed();
            stats.unet_calls += 1;
            let output = if guidance.enabled {
                let (uncond, text) = prediction.split_at(view_len);
                for ((g, &u), &t) in guided.iter_mut().zip(uncond).zip(text) {
                    *g = u + guidance.cfg * (t - u);
                }
                &guided[..]
            } else {
                &prediction[..]
            };
            scheduler.step(output, index, &mut view_latents, step_noise);

            if let (Some(keep), Some((mask, original, noise, noised))) =
                (keep, keep_buffers.as_mut())
            {
                copy_view(keep.mask, [1, 1, height, width], *view, mask);
                let one = channels * plane;
                copy_view(
                    keep.original,
                    [1, channels, height, width],
                    *view,
                    &mut original[..one],
                );
                for item in 1..batch {
                    original.copy_within(..one, item * one);
                }
                copy_view(keep.noise, shape, *view, noise);
                if index + 1 < timesteps.len() {
                    scheduler.add_noise(original, noise, index + 1, noised);
                } else {
                    noised.copy_from_slice(original);
                }
                for (at, latent) in view_latents.iter_mut().enumerate() {
                    let m = mask[at % plane];
                    *latent = m * *latent + (1.0 - m) * noised[at];
                }
            }

            if single {
                latents.copy_from_slice(&view_latents);
            } else {
                let mut at = 0;
                for item in 0..batch * channels {
                    for y in view.top..view.top + vh {
                        let row = item * height * width + y * width + view.left;
                        for x in 0..vw {
                            value[row + x] += view_latents[at + x];
                        }
                        at += vw;
                    }
                }
                for y in view.top..view.top + vh {
                    for x in view.left..view.left + vw {
                        count[y * width + x] += 1.0;
                    }
                }
            }
            progress.step_done()?;
        }
        if index + 1 < timesteps.len() {
            for (region, scheduler) in guidance.regions.iter().zip(region_schedulers.iter_mut()) {
                let step = RegionStep {
                    index,
                    timestep,
                    shape,
                };
                let denoised = region_step(
                    unet, &guidance, region, scheduler, &step, latents, step_noise,
                )?;
                mix_region(region, &denoised, shape, &mut value, &mut count);
                stats.unet_calls += 1;
            }
        }
        if !single {
            for (at, latent) in latents.iter_mut().enumerate() {
                let c = count[at % (height * width)];
                *latent = if c > 0.0 { value[at] / c } else { *latent };
            }
        }
    }
    stats.wall = started.elapsed();
    Ok(stats)
}

struct RegionStep {
    index: usize,
    timestep: f64,
    shape: [usize; 4],
}

/// The region's window of `latents`, denoised one step with the region's prompt. (One UNet
/// call per region and step: its few allocations do not show beside it.)
fn region_step(
    unet: UnetRef<'_>,
    guidance: &Guidance<'_>,
    region: &RegionGuide,
    scheduler: &mut Box<dyn Scheduler>,
    step: &RegionStep,
    latents: &[f32],
    step_noise: &mut dyn NoiseSource,
) -> Result<Vec<f32>> {
    let [batch, channels, _, _] = step.shape;
    let view = region.view;
    let len = batch * channels * view.height * view.width;
    let rows = if guidance.enabled { 2 } else { 1 };
    let mut region_latents = vec![0f32; len];
    copy_view(latents, step.shape, view, &mut region_latents);
    let scale = scheduler.input_scale(step.index);
    let input: Vec<f32> = (0..rows)
        .flat_map(|_| region_latents.iter().map(move |x| x * scale))
        .collect();
    let unet_shape = [rows * batch, channels, view.height, view.width];
    let embeddings = &region.embeddings;
    let plain = UnetInputs::new(
        &input,
        unet_shape,
        step.timestep,
        &embeddings.data,
        embeddings.shape,
    );
    let mut prediction = vec![0f32; rows * len];
    match unet {
        UnetRef::Sd(unet) => unet.predict(&plain, &mut prediction)?,
        UnetRef::Extended(unet, extra) => {
            let computed;
            let extra_inputs = if region.extra.is_empty() {
                computed = extra.inputs(&input, unet_shape, step.timestep, embeddings, view)?;
                &computed[..]
            } else {
                &region.extra[..]
            };
            let inputs = UnetInputs {
                extra: extra_inputs,
                ..plain
            };
            unet.predict(&inputs, &mut prediction)?
        }
        UnetRef::Upscale(..) => {
            return Err(crate::error::PipelineError::Unsupported(
                "region prompts are for the panorama pipelines".into(),
            ))
        }
    }
    if guidance.enabled {
        let (uncond, text) = prediction.split_at_mut(len);
        for (u, &t) in uncond.iter_mut().zip(text.iter()) {
            *u += guidance.cfg * (t - *u);
        }
    }
    scheduler.step(
        &prediction[..len],
        step.index,
        &mut region_latents,
        step_noise,
    );
    Ok(region_latents)
}

/// Mixes the denoised region into the views' sums: `weight × mask` (or replacing them from
/// [`REGION_REPLACE_WEIGHT`] up).
fn mix_region(
    region: &RegionGuide,
    denoised: &[f32],
    shape: [usize; 4],
    value: &mut [f32],
    count: &mut [f32],
) {
    let [batch, channels, height, width] = shape;
    let view = region.view;
    let plane = view.height * view.width;
    let replace = region.weight >= REGION_REPLACE_WEIGHT;
    for item in 0..batch * channels {
        for y in 0..view.height {
            for x in 0..view.width {
                let m = region.mask[y * view.width + x];
                let at = item * height * width + (view.top + y) * width + view.left + x;
                let v = denoised[item * plane + y * view.width + x] * m;
                if replace {
                    value[at] = v;
                } else {
                    value[at] += v * region.weight;
                }
            }
        }
    }
    for y in 0..view.height {
        for x in 0..view.width {
            let m = region.mask[y * view.width + x];
            let at = (view.top + y) * width + view.left + x;
            count[at] = if replace {
                m
            } else {
                count[at] + region.weight * m
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_cover_everything() {
        assert_eq!(
            views(8, 8, 64, 48),
            vec![View {
                top: 0,
                left: 0,
                height: 8,
                width: 8
            }]
        );
        let v = views(32, 128, 64, 48);
        // Rows: one (32 <= 64); columns: 0, 48, then 64 aligned to the end.
        let lefts: Vec<usize> = v.iter().map(|v| v.left).collect();
        assert_eq!(lefts, vec![0, 48, 64]);
        assert!(v.iter().all(|v| v.height == 32 && v.width == 64));
        let v = views_for(32, 256, 512, 0.25);
        // window 64, stride 48: 0, 48, 96, 144, 192 (= 256 - 64).
        assert_eq!(v.len(), 5);
        assert_eq!(v.last().unwrap().left, 192);
    }
}
