//! VAE encoding and decoding, tiled (§6.3 "tiled VAE", diffusers' `tiled_decode` /
//! `tiled_encode` as `onnx_web_imageops::TiledVae` lays them out) when asked for with
//! `tiled_vae` or when the image is larger than `vae_tile`, so no VAE call sees more than one
//! `vae_tile` tile.

use image::RgbImage;
use onnx_web_diffusion::vae::{VaeDecoder, LATENT_SCALE};
use onnx_web_diffusion::vae_encoder::VaeEncoder;
use onnx_web_imageops::{Tensor4, TiledVae};

use crate::error::{PipelineError, Result};
use crate::image_util::to_signed_tensor;
use crate::options::TileOptions;
use crate::progress::Progress;

/// Whether VAE work on a `width × height` image is tiled.
pub fn vae_is_tiled(tiles: &TileOptions, width: u32, height: u32) -> bool {
    tiles.tiled_vae || width > tiles.vae_tile || height > tiles.vae_tile
}

fn tensor(data: Vec<f32>, shape: [usize; 4]) -> Result<Tensor4> {
    Tensor4::from_vec(data, shape).ok_or_else(|| {
        PipelineError::Unsupported(format!("the VAE returned a tensor that is not {shape:?}"))
    })
}

/// Decodes latents `[batch, 4, h, w]` (scaled, as the UNet sees them) into images.
pub fn decode(
    vae: &VaeDecoder,
    latents: &[f32],
    shape: [usize; 4],
    tiles: &TileOptions,
    progress: &Progress,
) -> Result<Vec<RgbImage>> {
    let [batch, _, height, width] = shape;
    let unscaled: Vec<f32> = latents.iter().map(|x| x / LATENT_SCALE).collect();
    let (decoded, [_, _, h, w]) = if vae_is_tiled(tiles, (width * 8) as u32, (height * 8) as u32) {
        let mut layout = TiledVae::decoder((tiles.vae_tile as usize / 8).max(1), tiles.vae_overlap);
        // Keep each tile's kept rows equal to the stride (diffusers' own numbers drift apart for
        // overlaps like 0.3, shifting the tiles by a few pixels).
        layout.row_limit = layout.stride * 8;
        layout.blend_extent = (layout.tile - layout.stride) * 8;
        let out = layout.run(&tensor(unscaled, shape)?, |tile| {
            progress.check()?;
            let (data, shape) = vae.decode(&tile.data, tile.shape)?;
            tensor(data, shape)
        })?;
        (out.data, out.shape)
    } else {
        vae.decode(&unscaled, shape)?
    };
    Ok(onnx_web_imageops::decoded_to_images(&decoded, batch, h, w))
}

/// Encodes an image (sides multiples of 8) into scaled latents `[1, 4, h/8, w/8]`.
pub fn encode(
    vae: &VaeEncoder,
    image: &RgbImage,
    tiles: &TileOptions,
    progress: &Progress,
) -> Result<Vec<f32>> {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let mut latents = if vae_is_tiled(tiles, width as u32, height as u32) {
        let mut layout = TiledVae::encoder((tiles.vae_tile as usize / 8).max(1), tiles.vae_overlap);
        // Tiles start on multiples of 8 pixels, one kept latent per 8 pixels of stride.
        layout.stride = layout.row_limit.max(1) * 8;
        layout.row_limit = layout.stride / 8;
        layout.blend_extent = layout.tile / 8 - layout.row_limit;
        let input = tensor(to_signed_tensor(image), [1, 3, height, width])?;
        layout
            .run(&input, |tile| {
                progress.check()?;
                let [_, _, th, tw] = tile.shape;
                let mut out = vec![0f32; 4 * (th / 8) * (tw / 8)];
                vae.encode(&tile.data, th, tw, &mut out)?;
                tensor(out, [1, 4, th / 8, tw / 8])
            })?
            .data
    } else {
        let mut out = vec![0f32; 4 * (height / 8) * (width / 8)];
        vae.encode(&to_signed_tensor(image), height, width, &mut out)?;
        out
    };
    latents.iter_mut().for_each(|x| *x *= LATENT_SCALE);
    Ok(latents)
}
