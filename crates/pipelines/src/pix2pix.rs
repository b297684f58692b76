//! instruct-pix2pix (`pipeline=pix2pix` on img2img): an 8-channel UNet that sees the latents and
//! the source image's latents, with two guidance scales. onnx-web passes the request's
//! `strength` as the image guidance scale. With guidance the UNet batch is
//! `[prompt, negative, negative]` with image latents `[image, image, zeros]`, and
//! `noise = uncond + cfg × (text − image) + image_cfg × (image − uncond)`.

use image::RgbImage;
use onnx_web_diffusion::unet::UnetInputs;
use onnx_web_diffusion::vae::LATENT_SCALE;

use crate::denoise::{randn, step_noise};
use crate::error::{PipelineError, Result};
use crate::image_util::{align_up, crop_top_left, pad_edge, UNET_ALIGN};
use crate::sd::SdStage;
use crate::vae_tiles;

/// Input channels of an instruct-pix2pix UNet.
pub const PIX2PIX_CHANNELS: i64 = 8;

/// `batch` edits of `source` following the prompt.
pub fn pix2pix(
    stage: &SdStage<'_>,
    source: &RgbImage,
    image_guidance: f32,
    batch: usize,
) -> Result<Vec<RgbImage>> {
    let unet = &stage.models.unet;
    let channels = unet
        .model()
        .input("sample")
        .and_then(|i| i.shape.get(1).copied());
    if channels != Some(PIX2PIX_CHANNELS) {
        return Err(PipelineError::Unsupported(format!(
            "pix2pix needs an instruct-pix2pix model (a UNet with {PIX2PIX_CHANNELS} input channels), this UNet has {channels:?}"
        )));
    }
    let params = stage.params;
    let (width, height) = source.dimensions();
    let (w8, h8) = (align_up(width, UNET_ALIGN), align_up(height, UNET_ALIGN));
    let padded = pad_edge(source, w8, h8);
    // The image latents are the encoder's mode, unscaled.
    let mut image_latents =
        vae_tiles::encode(stage.encoder()?, &padded, stage.tiles, stage.progress)?;
    image_latents.iter_mut().for_each(|x| *x /= LATENT_SCALE);

    let batch = batch.max(1);
    let guidance = params.cfg > 1.0 && image_guidance >= 1.0;
    // encode_prompt gives [negative × batch, prompt × batch]; pix2pix wants
    // [prompt × batch, negative × batch, negative × batch].
    let encoded = stage.embeddings(batch)?;
    let [rows_total, sequence, dim] = encoded.shape;
    let row_len = batch * sequence * dim;
    let embeddings = if guidance {
        let (negative, prompt) = encoded.data.split_at(row_len);
        let mut data = Vec::with_capacity(3 * row_len);
        data.extend_from_slice(prompt);
        data.extend_from_slice(negative);
        data.extend_from_slice(negative);
        (data, [3 * batch, sequence, dim])
    } else {
        // Without guidance the prompt row alone (the last `batch` rows).
        (
            encoded.data[(rows_total - batch) * sequence * dim..].to_vec(),
            [batch, sequence, dim],
        )
    };
    let rows = if guidance { 3 } else { 1 };

    let (h, w) = ((h8 / 8) as usize, (w8 / 8) as usize);
    let plane = h * w;
    let latent_len = batch * 4 * plane;
    let mut schedulers = stage.schedulers(1, None)?;
    let scheduler = &mut schedulers[0];
    // prepare_latents: the pipeline's generator draws the initial noise.
    let mut latents = randn(params.seed, latent_len);
    let sigma = scheduler.init_noise_sigma();
    latents.iter_mut().for_each(|x| *x *= sigma);

    let item_len = 8 * plane;
    let mut model_input = vec![0f32; rows * batch * item_len];
    let mut prediction = vec![0f32; rows * latent_len];
    let mut guided = vec![0f32; latent_len];
    let mut noise_source = step_noise(params.seed);
    let timesteps = scheduler.timesteps().to_vec();
    for (index, &timestep) in timesteps.iter().enumerate() {
        let scale = scheduler.input_scale(index);
        for row in 0..rows {
            for item in 0..batch {
                let dst = &mut model_input[(row * batch + item) * item_len..][..item_len];
                let src = &latents[item * 4 * plane..][..4 * plane];
                for (d, &s) in dst[..4 * plane].iter_mut().zip(src) {
                    *d = s * scale;
                }
                if row < 2 {
                    dst[4 * plane..].copy_from_slice(&image_latents);
                } else {
                    dst[4 * plane..].iter_mut().for_each(|x| *x = 0.0);
                }
            }
        }
        unet.predict(
            &UnetInputs::new(
                &model_input,
                [rows * batch, 8, h, w],
                timestep,
                &embeddings.0,
                embeddings.1,
            ),
            &mut prediction,
        )?;
        let output = if guidance {
            let (text, rest) = prediction.split_at(latent_len);
            let (image, uncond) = rest.split_at(latent_len);
            let (cfg, icfg) = (params.cfg, image_guidance);
            for (((g, &t), &i), &u) in guided.iter_mut().zip(text).zip(image).zip(uncond) {
                *g = u + cfg * (t - i) + icfg * (i - u);
            }
            &guided[..]
        } else {
            &prediction[..]
        };
        scheduler.step(output, index, &mut latents, &mut noise_source);
        stage.progress.step_done()?;
    }
    let images = vae_tiles::decode(
        &stage.models.vae_decoder,
        &latents,
        [batch, 4, h, w],
        stage.tiles,
        stage.progress,
    )?;
    Ok(images
        .iter()
        .map(|image| crop_top_left(image, width, height))
        .collect())
}
