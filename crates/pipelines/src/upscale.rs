//! Upscaling (§6.4): Real-ESRGAN-style ONNX models run in padded tiles (RealESRGANer's
//! `tile_process`: `tile_pad` pixels of context around each tile, cropped off afterwards, so the
//! result has no seams and no tile needs more memory than one tile), the simple resamplers, and
//! the Stable Diffusion x4 upscaler on 128-pixel tiles.

use image::RgbImage;
use onnx_web_diffusion::image_model::ImageModel;
use onnx_web_diffusion::noise::{NoiseSource, RandomState};
use onnx_web_diffusion::prompt::encode_prompt;
use onnx_web_diffusion::schedulers::{create_scheduler, SchedulerOptions};
use onnx_web_diffusion::sd_upscaler::{SdUpscaler, UPSCALER_LATENT_SCALE};

use crate::denoise::{denoise, step_noise, Guidance, UnetRef, View};
use crate::error::{PipelineError, Result};
use crate::image_util::{
    align_up, crop_top_left, crop_with_fill, from_unit_tensor, pad_edge, resize, to_signed_tensor,
    to_unit_tensor, Resample, UNET_ALIGN,
};
use crate::params::ImageParams;
use crate::progress::Progress;
use crate::tiling::{process_tiles, TileOrder};

/// onnx-web's fixed `tile_pad`.
pub const TILE_PAD: u32 = 10;

/// The SD upscaler's tile (`SizeChart.mini`).
pub const SD_UPSCALE_TILE: u32 = 128;

/// Runs an ONNX upscaler over `image` in `tile`-pixel tiles with `TILE_PAD` context, then resizes
/// to `outscale` × the input with Lanczos when the model's native factor differs (as
/// RealESRGANer does).
pub fn upscale_onnx(
    model: &ImageModel,
    image: &RgbImage,
    tile: u32,
    outscale: u32,
    progress: &Progress,
) -> Result<RgbImage> {
    let (width, height) = image.dimensions();
    let tile = tile.max(16);
    let mut canvas: Option<RgbImage> = None;
    let mut native = 0u32;
    let mut y = 0;
    while y < height {
        let mut x = 0;
        while x < width {
            let tw = tile.min(width - x);
            let th = tile.min(height - y);
            let px0 = x.saturating_sub(TILE_PAD);
            let py0 = y.saturating_sub(TILE_PAD);
            let px1 = (x + tw + TILE_PAD).min(width);
            let py1 = (y + th + TILE_PAD).min(height);
            let input = crop_with_fill(image, px0.into(), py0.into(), px1 - px0, py1 - py0, None);
            let (ih, iw) = (input.height() as usize, input.width() as usize);
            let (output, oh, ow) = model.run(&to_unit_tensor(&input), ih, iw, 0.0)?;
            if oh % ih != 0 || ow % iw != 0 || oh / ih != ow / iw {
                return Err(PipelineError::Unsupported(format!(
                    "upscaling model made {ow}x{oh} from {iw}x{ih}, not a whole multiple"
                )));
            }
            let scale = (oh / ih) as u32;
            if native == 0 {
                native = scale;
            }
            let out = from_unit_tensor(&output, oh, ow);
            let canvas = canvas.get_or_insert_with(|| RgbImage::new(width * scale, height * scale));
            // The tile without its padding, in output pixels.
            let region = crop_with_fill(
                &out,
                i64::from((x - px0) * scale),
                i64::from((y - py0) * scale),
                tw * scale,
                th * scale,
                None,
            );
            crate::image_util::paste(canvas, &region, i64::from(x * scale), i64::from(y * scale));
            progress.check()?;
            x += tile;
        }
        y += tile;
    }
    let canvas = canvas.expect("an image has at least one tile");
    if native == outscale {
        Ok(canvas)
    } else {
        Ok(resize(
            &canvas,
            width * outscale,
            height * outscale,
            Resample::Lanczos,
        ))
    }
}

/// The simple resamplers by name, when the upscaling "model" is one of them.
pub fn simple_resample(name: &str) -> Option<Resample> {
    Resample::from_name(name).or_else(|| {
        // `upscaling-bilinear` and friends, as model lists name them.
        name.rsplit('-').next().and_then(Resample::from_name)
    })
}

/// Upscales with a PIL-style resampler.
pub fn upscale_simple(image: &RgbImage, method: Resample, outscale: u32) -> RgbImage {
    resize(
        image,
        image.width() * outscale,
        image.height() * outscale,
        method,
    )
}

/// The SD x4 upscaler over 128-pixel tiles (blended with `overlap`), each denoised for
/// `params.steps` with the prompt, the low-resolution tile noised to `noise_level`. The result is
/// resized to `outscale` when that is not 4.
#[allow(clippy::too_many_arguments)]
pub fn upscale_stable_diffusion(
    upscaler: &SdUpscaler,
    params: &ImageParams,
    image: &RgbImage,
    noise_level: i64,
    overlap: f64,
    outscale: u32,
    margins: crate::tiling::Margins,
    progress: &Progress,
) -> Result<RgbImage> {
    if upscaler.unet.in_channels() != 7 {
        return Err(PipelineError::Unsupported(format!(
            "the upscaler UNet takes {} channels; the SD x4 upscaler takes 7 (4 latent + 3 image)",
            upscaler.unet.in_channels()
        )));
    }
    let guidance_enabled = params.cfg > 1.0;
    let embeddings = encode_prompt(
        &upscaler.tokenizer,
        &upscaler.text_encoder,
        &params.prompt,
        params.negative_prompt.as_deref(),
        1,
        guidance_enabled,
    )?;
    let noise_level = noise_level.clamp(0, upscaler.low_res_alphas_cumprod.len() as i64 - 1);
    let alpha = upscaler.low_res_alphas_cumprod[noise_level as usize];
    let outputs = process_tiles(
        image,
        None,
        SD_UPSCALE_TILE,
        overlap,
        TileOrder::Spiral,
        4,
        margins,
        |tile| {
            let source = tile.image;
            let (width, height) = source.dimensions();
            let (w8, h8) = (align_up(width, UNET_ALIGN), align_up(height, UNET_ALIGN));
            let low = pad_edge(source, w8, h8);
            let (h, w) = (h8 as usize, w8 as usize);
            // diffusers draws the latents, then the image noise, from one RandomState(seed).
            let mut generator = RandomState::new(params.seed);
            let mut latents = vec![0f32; 4 * h * w];
            generator.fill_standard_normal(&mut latents);
            // The noisy low-resolution image, as the low-res DDPM scheduler's add_noise makes it.
            let clean = to_signed_tensor(&low);
            let mut image_noise = vec![0f32; clean.len()];
            generator.fill_standard_normal(&mut image_noise);
            let (a, s) = (alpha.sqrt(), (1.0 - alpha).sqrt());
            let noisy: Vec<f32> = clean
                .iter()
                .zip(&image_noise)
                .map(|(x, n)| a * x + s * n)
                .collect();

            let mut scheduler = create_scheduler(
                &params.scheduler,
                &upscaler.scheduler_config,
                SchedulerOptions { eta: params.eta },
            )?;
            scheduler.set_timesteps(params.steps.max(1) as usize, None);
            let shape = [1, 4, h, w];
            let sigma = scheduler.init_noise_sigma();
            latents.iter_mut().for_each(|x| *x *= sigma);
            let mut schedulers = vec![scheduler];
            let mut step_noise = step_noise(params.seed);
            let view = View {
                top: 0,
                left: 0,
                height: h,
                width: w,
            };
            denoise(
                UnetRef::Upscale(&upscaler.unet, noise_level),
                Guidance {
                    embeddings: &embeddings,
                    cfg: params.cfg,
                    enabled: guidance_enabled,
                    regions: &[],
                },
                Some(crate::denoise::ExtraChannels {
                    data: &noisy,
                    channels: 3,
                }),
                None,
                &[view],
                &mut schedulers,
                &mut latents,
                shape,
                &mut step_noise,
                progress,
            )?;
            latents.iter_mut().for_each(|x| *x /= UPSCALER_LATENT_SCALE);
            let (decoded, [_, _, oh, ow]) = upscaler.vae.decode(&latents, shape)?;
            let out = onnx_web_imageops::decoded_to_images(&decoded, 1, oh, ow)
                .pop()
                .expect("one image");
            // The padding cropped off again (the decoder makes exactly 4× the latents).
            let out = if out.dimensions() == (w8 * 4, h8 * 4) {
                crop_top_left(&out, width * 4, height * 4)
            } else {
                resize(&out, width * 4, height * 4, Resample::Lanczos)
            };
            Ok(vec![out])
        },
    )?;
    let out = outputs.into_iter().next().expect("one output");
    if outscale == 4 {
        Ok(out)
    } else {
        Ok(resize(
            &out,
            image.width() * outscale,
            image.height() * outscale,
            Resample::Lanczos,
        ))
    }
}
