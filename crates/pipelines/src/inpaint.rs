//! Inpainting and outpainting (§6.5): mask fitting, border expansion with a noise source and a
//! mask filter, the optional full-resolution crop around the mask, and the inpaint stage over
//! spiral tiles. Tiles whose mask is empty are copied through unchanged, as in onnx-web.
//!
//! The inpaint stage works with an inpainting UNet (9 input channels: latents, mask, masked-image
//! latents, as diffusers' `OnnxStableDiffusionInpaintPipeline`) and with a plain UNet (4
//! channels: after every step the known region is put back from the source, noised to the next
//! timestep, as diffusers' legacy inpaint pipeline does).

use image::{GrayImage, Rgb, RgbImage};
use onnx_web_diffusion::latents::{expand_latents, latent_shape, latents_from_seed, tile_latents};
use onnx_web_imageops::{
    expand_image, fit_mask, fullres_inpaint_box, CropBox, MaskFilter, NoiseSource,
};

use crate::denoise::{
    denoise, noised_source, step_noise, views_for, ExtraChannels, Guidance, KeepKnown, UnetRef,
};
use crate::error::{PipelineError, Result};
use crate::image_util::{
    align_up, crop_gray, crop_top_left, crop_with_fill, mask_is_empty, pad_edge, paste, resize,
    resize_gray, Resample, UNET_ALIGN,
};
use crate::options::Border;
use crate::sd::SdStage;
use crate::tiling::{process_tiles, Margins, TileOrder};
use crate::vae_tiles;

/// The inpaint request's own options.
#[derive(Clone, Debug)]
pub struct InpaintOptions {
    pub border: Border,
    pub fill: Rgb<u8>,
    pub noise: NoiseSource,
    pub filter: MaskFilter,
    pub fullres: bool,
    pub fullres_padding: f64,
}

impl SdStage<'_> {
    /// Inpaints one tile (or a whole image that fits in one), `batch` results.
    pub fn inpaint_tile(
        &self,
        source: &RgbImage,
        mask: &GrayImage,
        batch: usize,
        initial: Option<Vec<f32>>,
    ) -> Result<Vec<RgbImage>> {
        let batch = batch.max(1);
        if mask_is_empty(mask) {
            return Ok(vec![source.clone(); batch]);
        }
        let (width, height) = source.dimensions();
        // Sides extended to multiples of 64 (the extension is kept, not regenerated).
        let (w8, h8) = (align_up(width, UNET_ALIGN), align_up(height, UNET_ALIGN));
        let image = pad_edge(source, w8, h8);
        let mask8 = crop_gray(mask, 0, 0, w8, h8);
        let (h, w) = ((h8 / 8) as usize, (w8 / 8) as usize);
        // Binary mask at latent size: PIL's NEAREST downscale samples the cell centres.
        let latent_mask: Vec<f32> = (0..h * w)
            .map(|at| {
                let (y, x) = ((at / w) as u32, (at % w) as u32);
                let v = mask8
                    .get_pixel((x * 8 + 4).min(w8 - 1), (y * 8 + 4).min(h8 - 1))
                    .0[0];
                if v >= 128 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let encoder = self.encoder()?;
        let shape = [batch, 4, h, w];
        let len: usize = shape.iter().product();
        let embeddings = self.embeddings(batch)?;
        let views = views_for(h, w, self.tiles.unet_tile, self.tiles.unet_overlap);
        let mut schedulers = self.schedulers(views.len(), None)?;
        let mut step_noise = step_noise(self.params.seed);
        // The tile's slice of the canvas latents (onnx-web's get_tile_latents), or a fresh draw.
        let noise = match initial {
            Some(latents) if latents.len() == len => latents,
            _ => latents_from_seed(u64::from(self.params.seed), batch, w8 as usize, h8 as usize),
        };
        let guidance = Guidance {
            embeddings: &embeddings,
            cfg: self.params.cfg,
            enabled: self.guidance_enabled(),
            regions: &[],
        };
        let in_channels = self
            .models
            .unet
            .model()
            .input("sample")
            .and_then(|i| i.shape.get(1).copied())
            .unwrap_or(4);
        let mut latents;
        match in_channels {
            9 => {
                // masked_image = image * (mask < 0.5): masked pixels become 0 in [-1, 1].
                let mut masked = image.clone();
                for (px, m) in masked.pixels_mut().zip(mask8.pixels()) {
                    if m.0[0] >= 128 {
                        *px = Rgb([128, 128, 128]);
                    }
                }
                let masked_latents =
                    vae_tiles::encode(encoder, &masked, self.tiles, self.progress)?;
                let mut extra = latent_mask.clone();
                extra.extend_from_slice(&masked_latents);
                latents = noise.clone();
                let sigma = schedulers[0].init_noise_sigma();
                latents.iter_mut().for_each(|x| *x *= sigma);
                denoise(
                    UnetRef::Sd(&self.models.unet),
                    guidance,
                    Some(ExtraChannels {
                        data: &extra,
                        channels: 5,
                    }),
                    None,
                    &views,
                    &mut schedulers,
                    &mut latents,
                    shape,
                    &mut step_noise,
                    self.progress,
                )?;
            }
            4 | -1 => {
                let original = vae_tiles::encode(encoder, &image, self.tiles, self.progress)?;
                latents = noised_source(&original, &noise, shape, schedulers[0].as_ref());
                denoise(
                    UnetRef::Sd(&self.models.unet),
                    guidance,
                    None,
                    Some(KeepKnown {
                        mask: &latent_mask,
                        original: &original,
                        noise: &noise,
                    }),
                    &views,
                    &mut schedulers,
                    &mut latents,
                    shape,
                    &mut step_noise,
                    self.progress,
                )?;
            }
            other => {
                return Err(PipelineError::Unsupported(format!(
                    "the UNet takes {other} input channels; inpainting needs 4 or 9"
                )))
            }
        }
        let images = vae_tiles::decode(
            &self.models.vae_decoder,
            &latents,
            shape,
            self.tiles,
            self.progress,
        )?;
        Ok(images
            .iter()
            .map(|image| crop_top_left(image, width, height))
            .collect())
    }

    /// The whole inpaint/outpaint job on one source: `batch` results of size source + border.
    pub fn inpaint(
        &self,
        source: &RgbImage,
        mask: &GrayImage,
        options: &InpaintOptions,
    ) -> Result<Vec<RgbImage>> {
        let batch = self.params.batch.max(1) as usize;
        let seed = u64::from(self.params.seed);
        let mask = if mask.dimensions() == source.dimensions() {
            mask.clone()
        } else {
            fit_mask(mask, source.width(), source.height())
        };
        let border = onnx_web_imageops::Border {
            left: options.border.left,
            right: options.border.right,
            top: options.border.top,
            bottom: options.border.bottom,
        };
        let expanded = expand_image(
            source,
            &mask,
            border,
            options.fill,
            options.noise,
            options.filter,
            seed,
        );
        let (source, mask) = (expanded.source, expanded.mask);
        let tile = self.tiles.unet_tile;
        // onnx-web's get_latents_from_seed for the whole canvas.
        let full_shape = latent_shape(batch, source.width() as usize, source.height() as usize);
        let full = latents_from_seed(
            seed,
            batch,
            source.width() as usize,
            source.height() as usize,
        );
        let margins = Margins {
            noise: options.noise,
            fill: options.fill,
            seed,
        };
        let crop = if options.fullres && options.border.is_empty() {
            fullres_inpaint_box(&mask, options.fullres_padding, tile)
        } else {
            None
        };
        let Some(CropBox {
            left,
            top,
            size: side,
        }) = crop
        else {
            return process_tiles(
                &source,
                Some(&mask),
                tile,
                self.tiles.vae_overlap,
                TileOrder::Spiral,
                1,
                margins,
                |t| {
                    // The canvas latents: sliced per tile, or the whole (aligned) canvas.
                    let latents = if (t.image.width(), t.image.height()) == (tile, tile)
                        && (source.width() > tile || source.height() > tile)
                    {
                        tile_latents(&full, full_shape, seed, t.left, t.top, tile as usize).0
                    } else {
                        let (w8, h8) = (
                            align_up(t.image.width(), UNET_ALIGN) as usize,
                            align_up(t.image.height(), UNET_ALIGN) as usize,
                        );
                        expand_latents(&full, full_shape, seed, w8, h8).0
                    };
                    self.inpaint_tile(t.image, t.mask.expect("a mask"), batch, Some(latents))
                },
            );
        };
        // Full-resolution inpainting: the square around the mask, enlarged to the tile size.
        let crop_source = crop_with_fill(&source, left.into(), top.into(), side, side, None);
        let crop_mask = crop_gray(&mask, left.into(), top.into(), side, side);
        let big_source = resize(&crop_source, tile, tile, Resample::Bicubic);
        let big_mask = resize_gray(&crop_mask, tile, tile, Resample::Bicubic);
        let results = self.inpaint_tile(&big_source, &big_mask, batch, None)?;
        Ok(results
            .into_iter()
            .map(|result| {
                let small = resize(&result, side, side, Resample::Bicubic);
                let mut out = source.clone();
                paste(&mut out, &small, left.into(), top.into());
                out
            })
            .collect())
    }
}
