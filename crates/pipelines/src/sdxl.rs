//! The SDXL pipelines (`txt2img-sdxl`, `img2img-sdxl`, `panorama-sdxl`), refiner-free: the
//! shared denoising loop with SDXL's added conditions (`text_embeds`, `time_ids`) on every UNet
//! call, MultiDiffusion views for panorama, and the VAE at SDXL's latent scale.

use image::RgbImage;
use onnx_web_diffusion::latents::latents_from_seed;
use onnx_web_diffusion::prompt_parser::slice_prompt;
use onnx_web_diffusion::schedulers::{create_scheduler, Scheduler, SchedulerOptions};
use onnx_web_diffusion::sdxl::{
    is_sdxl, latent_scale, StableDiffusionXl, XlEmbeddings, SDXL_NATIVE_SIZE,
};
use onnx_web_diffusion::text_encoder::Embeddings;
use onnx_web_diffusion::unet::ExtraInput;
use onnx_web_diffusion::vae::LATENT_SCALE;

use crate::denoise::{
    denoise, noised_source, randn, step_noise, views_for, ExtraInputs, Guidance, UnetRef, View,
};
use crate::error::{PipelineError, Result};
use crate::image_util::{align_up, crop_top_left, pad_edge, UNET_ALIGN};
use crate::params::{ImageParams, Size};
use crate::regions::{region_guides, RegionGuide};
use crate::sd::check_size;
use crate::stages::JobContext;
use crate::vae_tiles;

/// Whether a job runs an SDXL pipeline: its model is an SDXL export. A `-sdxl` pipeline with
/// a model that is not one is an error.
pub fn wants_sdxl(params: &ImageParams) -> Result<bool> {
    let model = is_sdxl(&params.model_dir);
    if params.pipeline.ends_with("-sdxl") && !model {
        return Err(PipelineError::Unsupported(format!(
            "pipeline {} needs an SDXL model (with text_encoder_2), {} is not one",
            params.pipeline,
            params.model_dir.display()
        )));
    }
    Ok(model)
}

/// SDXL's added conditions, the same for every view: the pooled prompt and the whole image's
/// size as `time_ids`.
struct AddedConditions<'a> {
    embeddings: &'a XlEmbeddings,
    width: u32,
    height: u32,
}

impl ExtraInputs for AddedConditions<'_> {
    fn inputs(
        &self,
        _: &[f32],
        _: [usize; 4],
        _: f64,
        _: &Embeddings,
        _: View,
    ) -> Result<Vec<ExtraInput>> {
        Ok(self.embeddings.unet_inputs(self.width, self.height))
    }
}

struct XlStage<'a> {
    ctx: &'a JobContext<'a>,
    models: StableDiffusionXl,
}

impl<'a> XlStage<'a> {
    fn load(ctx: &'a JobContext<'a>) -> Result<Self> {
        let models = ctx
            .pipelines
            .stable_diffusion_xl(&ctx.params.model_dir, ctx.platform)?;
        ctx.progress.check()?;
        Ok(Self { ctx, models })
    }

    fn guidance(&self) -> bool {
        self.ctx.params.cfg > 1.0
    }

    fn embeddings(&self, batch: usize) -> Result<XlEmbeddings> {
        let params = self.ctx.params;
        let embeddings = self.models.encode_prompt(
            slice_prompt(&params.prompt, 0),
            params.negative_prompt.as_deref(),
            batch,
            self.guidance(),
        )?;
        self.ctx.progress.check()?;
        Ok(embeddings)
    }

    fn schedulers(&self, count: usize, strength: Option<f32>) -> Result<Vec<Box<dyn Scheduler>>> {
        let params = self.ctx.params;
        (0..count)
            .map(|_| {
                let mut scheduler = create_scheduler(
                    &params.scheduler,
                    &self.models.scheduler_config,
                    SchedulerOptions { eta: params.eta },
                )?;
                scheduler.set_timesteps(params.steps.max(1) as usize, strength);
                Ok(scheduler)
            })
            .collect()
    }

    /// Views: the configured UNet tile for `panorama-sdxl`, else SDXL's native size, so images
    /// up to 1024 px are denoised whole.
    fn views(&self, h: usize, w: usize) -> Vec<View> {
        let tiles = &self.ctx.tiles;
        let tile = if self.ctx.params.pipeline.starts_with("panorama") {
            tiles.unet_tile
        } else {
            tiles.unet_tile.max(SDXL_NATIVE_SIZE)
        };
        views_for(h, w, tile, tiles.unet_overlap)
    }

    /// The prompt's `<region:…>` tokens in `panorama-sdxl` (none elsewhere), each with its own
    /// pooled embeddings for `text_embeds`.
    fn regions(&self, batch: usize, latent_h: usize, latent_w: usize) -> Result<Vec<RegionGuide>> {
        let params = self.ctx.params;
        if !params.pipeline.starts_with("panorama") {
            return Ok(Vec::new());
        }
        let (width, height) = ((latent_w * 8) as u32, (latent_h * 8) as u32);
        let guides = region_guides(
            slice_prompt(&params.prompt, 0),
            latent_h,
            latent_w,
            |region_prompt| {
                let encoded = self.models.encode_prompt(
                    region_prompt,
                    params.negative_prompt.as_deref(),
                    batch,
                    self.guidance(),
                )?;
                let extra = encoded.unet_inputs(width, height);
                Ok((encoded.embeddings, extra))
            },
        )?;
        self.ctx.progress.check()?;
        Ok(guides)
    }

    #[allow(clippy::too_many_arguments)]
    fn denoise_and_decode(
        &self,
        embeddings: &XlEmbeddings,
        regions: &[RegionGuide],
        schedulers: &mut [Box<dyn Scheduler>],
        views: &[View],
        latents: &mut [f32],
        shape: [usize; 4],
        (width, height): (u32, u32),
    ) -> Result<Vec<RgbImage>> {
        // The added time ids name the aligned size the latents stand for.
        let conditions = AddedConditions {
            embeddings,
            width: (shape[3] * 8) as u32,
            height: (shape[2] * 8) as u32,
        };
        let params = self.ctx.params;
        denoise(
            UnetRef::Extended(&self.models.unet, &conditions),
            Guidance {
                embeddings: &embeddings.embeddings,
                cfg: params.cfg,
                enabled: self.guidance(),
                regions,
            },
            None,
            None,
            views,
            schedulers,
            latents,
            shape,
            &mut step_noise(params.seed),
            self.ctx.progress,
        )?;
        // vae_tiles divides by SD's latent scale; SDXL's VAE wants its own.
        let rescale = LATENT_SCALE / self.models.latent_scale;
        latents.iter_mut().for_each(|x| *x *= rescale);
        let images = vae_tiles::decode(
            &self.models.vae_decoder,
            latents,
            shape,
            &self.ctx.tiles,
            self.ctx.progress,
        )?;
        Ok(images
            .iter()
            .map(|image| crop_top_left(image, width, height))
            .collect())
    }
}

/// SDXL txt2img (and panorama-sdxl): onnx-web's seeded latents, then the guided loop.
pub fn txt2img(ctx: &JobContext<'_>, size: Size) -> Result<Vec<RgbImage>> {
    check_size(size)?;
    let stage = XlStage::load(ctx)?;
    let batch = ctx.params.batch.max(1) as usize;
    let embeddings = stage.embeddings(batch)?;
    let (aw, ah) = (
        align_up(size.width, UNET_ALIGN),
        align_up(size.height, UNET_ALIGN),
    );
    let (h, w) = ((ah / 8) as usize, (aw / 8) as usize);
    let views = stage.views(h, w);
    let regions = stage.regions(batch, h, w)?;
    let mut schedulers = stage.schedulers(views.len() + regions.len(), None)?;
    let mut latents =
        latents_from_seed(u64::from(ctx.params.seed), batch, aw as usize, ah as usize);
    let sigma = schedulers[0].init_noise_sigma();
    latents.iter_mut().for_each(|x| *x *= sigma);
    stage.denoise_and_decode(
        &embeddings,
        &regions,
        &mut schedulers,
        &views,
        &mut latents,
        [batch, 4, h, w],
        (size.width, size.height),
    )
}

/// SDXL img2img: the source encoded at SDXL's latent scale, noised to the strength's first
/// timestep, denoised.
pub fn img2img(
    ctx: &JobContext<'_>,
    source: &RgbImage,
    strength: f32,
    batch: usize,
) -> Result<Vec<RgbImage>> {
    let stage = XlStage::load(ctx)?;
    let (width, height) = source.dimensions();
    let (w8, h8) = (align_up(width, UNET_ALIGN), align_up(height, UNET_ALIGN));
    let padded = pad_edge(source, w8, h8);
    let encoder = ctx
        .pipelines
        .vae_encoder(&ctx.params.model_dir, ctx.platform)?;
    let mut original = vae_tiles::encode(&encoder, &padded, &ctx.tiles, ctx.progress)?;
    let rescale = latent_scale(&ctx.params.model_dir, "vae_encoder") / LATENT_SCALE;
    original.iter_mut().for_each(|x| *x *= rescale);
    let batch = batch.max(1);
    let embeddings = stage.embeddings(batch)?;
    let (h, w) = ((h8 / 8) as usize, (w8 / 8) as usize);
    let shape = [batch, 4, h, w];
    let views = stage.views(h, w);
    let mut schedulers = stage.schedulers(views.len(), Some(strength))?;
    let noise = randn(ctx.params.seed, shape.iter().product());
    let mut latents = noised_source(&original, &noise, shape, schedulers[0].as_ref());
    stage.denoise_and_decode(
        &embeddings,
        &[],
        &mut schedulers,
        &views,
        &mut latents,
        shape,
        (width, height),
    )
}
