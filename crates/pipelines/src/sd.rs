//! What every Stable Diffusion stage needs at hand: the loaded model parts, the job's
//! parameters, tiling options and progress; and the txt2img / img2img latent stages built on
//! [`crate::denoise`].

use image::RgbImage;
use onnx_web_diffusion::latents::latents_from_seed;
use onnx_web_diffusion::latents::{reseed_region, reseed_seed};
use onnx_web_diffusion::prompt::encode_prompt;
use onnx_web_diffusion::prompt_parser::{parse_prompt, slice_prompt};
use onnx_web_diffusion::schedulers::{create_scheduler, Scheduler, SchedulerOptions};
use onnx_web_diffusion::text_encoder::Embeddings;
use onnx_web_diffusion::vae_encoder::VaeEncoder;
use onnx_web_diffusion::StableDiffusion;

use crate::denoise::{
    denoise, noised_source, randn, step_noise, views_for, Guidance, UnetRef, View,
};
use crate::error::{PipelineError, Result};
use crate::image_util::{align_up, crop_top_left, pad_edge, UNET_ALIGN};
use crate::options::TileOptions;
use crate::params::{ImageParams, Size};
use crate::progress::Progress;
use crate::regions::{region_guides, RegionGuide};
use crate::vae_tiles;

pub struct SdStage<'a> {
    pub models: &'a StableDiffusion,
    /// Needed for img2img and inpainting.
    pub vae_encoder: Option<&'a VaeEncoder>,
    pub params: &'a ImageParams,
    /// Which `||` prompt stage this stage encodes (§5.5): 0 for the base image, 1+i for
    /// highres iteration i.
    pub prompt_stage: usize,
    pub tiles: &'a TileOptions,
    pub progress: &'a Progress,
}

impl SdStage<'_> {
    pub fn guidance_enabled(&self) -> bool {
        self.params.cfg > 1.0
    }

    /// Prompt embeddings for `batch` items.
    pub fn embeddings(&self, batch: usize) -> Result<Embeddings> {
        let embeddings = encode_prompt(
            &self.models.tokenizer,
            &self.models.text_encoder,
            slice_prompt(&self.params.prompt, self.prompt_stage),
            self.params.negative_prompt.as_deref(),
            batch,
            self.guidance_enabled(),
        )?;
        self.progress.check()?;
        Ok(embeddings)
    }

    /// `count` fresh schedulers with their timesteps set (`strength` for img2img).
    pub fn schedulers(
        &self,
        count: usize,
        strength: Option<f32>,
    ) -> Result<Vec<Box<dyn Scheduler>>> {
        (0..count)
            .map(|_| {
                let mut scheduler = create_scheduler(
                    &self.params.scheduler,
                    &self.models.scheduler_config,
                    SchedulerOptions {
                        eta: self.params.eta,
                    },
                )?;
                scheduler.set_timesteps(self.params.steps.max(1) as usize, strength);
                Ok(scheduler)
            })
            .collect()
    }

    pub fn encoder(&self) -> Result<&VaeEncoder> {
        self.vae_encoder.ok_or_else(|| {
            PipelineError::Unsupported("this stage needs the model's vae_encoder".into())
        })
    }

    /// txt2img at any size: seeded latents, then the denoising loop in `unet_tile` views
    /// (MultiDiffusion, onnx-web's panorama pipeline) when the image is larger than one tile,
    /// and a tiled VAE decode when larger than `vae_tile`. With one view this is txt2img.
    pub fn txt2img(&self, size: Size) -> Result<Vec<RgbImage>> {
        check_size(size)?;
        let batch = self.params.batch.max(1) as usize;
        let embeddings = self.embeddings(batch)?;
        // Sides that are not multiples of 64 are generated larger and cropped.
        let (aw, ah) = (
            align_up(size.width, UNET_ALIGN),
            align_up(size.height, UNET_ALIGN),
        );
        let (h, w) = ((ah / 8) as usize, (aw / 8) as usize);
        let shape = [batch, 4, h, w];
        let views = views_for(h, w, self.tiles.unet_tile, self.tiles.unet_overlap);
        let regions = self.regions(batch, h, w)?;
        let mut schedulers = self.schedulers(views.len() + regions.len(), None)?;
        // onnx-web's get_latents_from_seed, for the whole (aligned) image.
        let mut latents =
            latents_from_seed(u64::from(self.params.seed), batch, aw as usize, ah as usize);
        apply_reseeds(
            &mut latents,
            shape,
            slice_prompt(&self.params.prompt, self.prompt_stage),
            self.params.seed,
        );
        let sigma = schedulers[0].init_noise_sigma();
        latents.iter_mut().for_each(|x| *x *= sigma);
        self.denoise_and_decode(
            &embeddings,
            &views,
            &regions,
            &mut schedulers,
            &mut latents,
            shape,
            (size.width, size.height),
        )
    }

    /// The prompt's `<region:…>` tokens (§5.6) in the panorama pipelines; none in the other
    /// pipelines, as in onnx-web.
    fn regions(&self, batch: usize, latent_h: usize, latent_w: usize) -> Result<Vec<RegionGuide>> {
        if !self.params.pipeline.starts_with("panorama") {
            return Ok(Vec::new());
        }
        let prompt = slice_prompt(&self.params.prompt, self.prompt_stage);
        let guides = region_guides(prompt, latent_h, latent_w, |region_prompt| {
            let embeddings = encode_prompt(
                &self.models.tokenizer,
                &self.models.text_encoder,
                region_prompt,
                self.params.negative_prompt.as_deref(),
                batch,
                self.guidance_enabled(),
            )?;
            Ok((embeddings, Vec::new()))
        })?;
        self.progress.check()?;
        Ok(guides)
    }

    /// img2img of one source image into `batch` images of the same size: the source is encoded,
    /// noised to the strength's first timestep and denoised (in views when larger than
    /// `unet_tile`). Sources whose sides are not multiples of 64 are extended at the right and
    /// bottom edges for the models, and the results cropped back.
    pub fn img2img(&self, source: &RgbImage, strength: f32, batch: usize) -> Result<Vec<RgbImage>> {
        let (width, height) = source.dimensions();
        let (w8, h8) = (align_up(width, UNET_ALIGN), align_up(height, UNET_ALIGN));
        let padded;
        let source_8 = if (w8, h8) != (width, height) {
            padded = pad_edge(source, w8, h8);
            &padded
        } else {
            source
        };
        let encoder = self.encoder()?;
        let original = vae_tiles::encode(encoder, source_8, self.tiles, self.progress)?;
        let batch = batch.max(1);
        let embeddings = self.embeddings(batch)?;
        let (h, w) = ((h8 / 8) as usize, (w8 / 8) as usize);
        let shape = [batch, 4, h, w];
        let views = views_for(h, w, self.tiles.unet_tile, self.tiles.unet_overlap);
        let mut schedulers = self.schedulers(views.len(), Some(strength))?;
        let noise = randn(self.params.seed, shape.iter().product());
        let mut latents = noised_source(&original, &noise, shape, schedulers[0].as_ref());
        self.denoise_and_decode(
            &embeddings,
            &views,
            &[],
            &mut schedulers,
            &mut latents,
            shape,
            (width, height),
        )
    }

    /// The common end of txt2img and img2img: the guided denoising loop over `views` from
    /// prepared `latents`, the (tiled) VAE decode, and the crop back to the requested size.
    #[allow(clippy::too_many_arguments)]
    fn denoise_and_decode(
        &self,
        embeddings: &Embeddings,
        views: &[View],
        regions: &[RegionGuide],
        schedulers: &mut [Box<dyn Scheduler>],
        latents: &mut [f32],
        shape: [usize; 4],
        (width, height): (u32, u32),
    ) -> Result<Vec<RgbImage>> {
        let guidance = Guidance {
            embeddings,
            cfg: self.params.cfg,
            enabled: self.guidance_enabled(),
            regions,
        };
        denoise(
            UnetRef::Sd(&self.models.unet),
            guidance,
            None,
            None,
            views,
            schedulers,
            latents,
            shape,
            &mut step_noise(self.params.seed),
            self.progress,
        )?;
        let images = vae_tiles::decode(
            &self.models.vae_decoder,
            latents,
            shape,
            self.tiles,
            self.progress,
        )?;
        Ok(images
            .iter()
            .map(|image| crop_top_left(image, width, height))
            .collect())
    }
}

/// Sizes the UNet can take: positive multiples of 8.
pub fn check_size(size: Size) -> Result<()> {
    if size.width == 0
        || size.height == 0
        || !size.width.is_multiple_of(8)
        || !size.height.is_multiple_of(8)
    {
        return Err(PipelineError::InvalidSize(size));
    }
    Ok(())
}

/// `<reseed:TOP:LEFT:BOTTOM:RIGHT:SEED>` tokens (§5.6): fresh latents from SEED in the region
/// (SEED -1 draws one from the job's seed). Regions off the 8-pixel grid or outside the image
/// are skipped, as numpy refuses them.
pub(crate) fn apply_reseeds(latents: &mut [f32], shape: [usize; 4], prompt: &str, job_seed: u32) {
    let reseeds = parse_prompt(prompt).reseeds;
    if reseeds.is_empty() {
        return;
    }
    let mut seeds = reseed_seed(job_seed);
    for token in reseeds {
        let seed = if token.seed == -1 {
            u64::from(seeds.random_integers(u32::MAX))
        } else {
            // numpy seeds must fit in 32 bits; larger values wrap like a C cast.
            token.seed as u64 & u64::from(u32::MAX)
        };
        let region = [token.top, token.left, token.bottom, token.right].map(|v| v as usize);
        if !reseed_region(latents, shape, region, seed) {
            tracing::warn!("reseed region {region:?} does not fit the image; skipped");
        }
    }
}
