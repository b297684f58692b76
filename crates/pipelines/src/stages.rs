//! What each endpoint runs (§6.0), stage by stage: the diffusion stage of the endpoint, then face
//! correction, highres and upscaling in the order `upscaleOrder` asks for.
//!
//! Correction order (§6.4, following onnx-web's documentation with highres before upscaling, so
//! the final size is the one the response predicts):
//! - `correction-first`: correct → highres → upscale
//! - `correction-last`: highres → upscale → correct
//! - `correction-both`: correct → highres → upscale → correct
//!
//! Blend uses the same order without highres. Panorama txt2img denoises its result first
//! (onnx-web's `blend-denoise` stage, fastNlMeans with strength 3).

use image::{GrayImage, RgbImage};
use onnx_web_diffusion::vae_encoder::VaeEncoder;
use onnx_web_diffusion::StableDiffusion;

use crate::error::{PipelineError, Result};
use crate::inpaint::InpaintOptions;
use crate::options::{HighresOptions, TileOptions, UpscaleOptions, UpscaleOrder};
use crate::params::{ImageParams, Size};
use crate::progress::Progress;
use crate::sd::SdStage;
use crate::tiling::Margins;
use crate::Pipelines;

/// The strength (`h` and `hColor`) of the fastNlMeans denoising after panorama txt2img.
const PANORAMA_DENOISE: f32 = 3.0;

/// Everything a job's stages need.
pub struct JobContext<'a> {
    pub pipelines: &'a Pipelines,
    pub platform: &'a str,
    pub params: &'a ImageParams,
    pub tiles: TileOptions,
    pub upscale: UpscaleOptions,
    pub highres: HighresOptions,
    pub progress: &'a Progress,
}

/// Loaded Stable Diffusion parts.
struct SdModels {
    models: StableDiffusion,
    encoder: Option<VaeEncoder>,
}

impl<'a> JobContext<'a> {
    fn load_sd(&self, with_encoder: bool) -> Result<SdModels> {
        let models = self
            .pipelines
            .stable_diffusion_for(self.params, self.platform)?;
        let encoder = if with_encoder {
            Some(
                self.pipelines
                    .vae_encoder(&self.params.model_dir, self.platform)?,
            )
        } else {
            None
        };
        self.progress.check()?;
        Ok(SdModels { models, encoder })
    }

    fn stage<'s>(&'s self, sd: &'s SdModels) -> SdStage<'s> {
        SdStage {
            models: &sd.models,
            vae_encoder: sd.encoder.as_ref(),
            params: self.params,
            prompt_stage: 0,
            tiles: &self.tiles,
            progress: self.progress,
        }
    }

    /// Tile margins: histogram noise of the tile's inside part (onnx-web's default).
    fn margins(&self) -> Margins {
        Margins::histogram(u64::from(self.params.seed) ^ 0x6d61_7267_696e)
    }

    /// One face correction pass (with `faceOutscale`).
    pub fn correct(&self, image: &RgbImage) -> Result<RgbImage> {
        let path = self.upscale.correction_model.as_ref().ok_or_else(|| {
            PipelineError::Unsupported("face correction needs a correction model".into())
        })?;
        let model = self.pipelines.image_model(path, self.platform)?;
        crate::correction::correct_faces(
            &model,
            image,
            self.upscale.face_strength,
            self.upscale.face_outscale.max(1),
            self.margins(),
            self.progress,
        )
    }

    /// Upscales with the configured upscaling model: native factor `scale`, final `outscale`.
    pub fn upscale_with_model(&self, image: &RgbImage, outscale: u32) -> Result<RgbImage> {
        if let Some(method) = self
            .upscale
            .upscale_name
            .as_deref()
            .and_then(crate::upscale::simple_resample)
        {
            if self
                .upscale
                .upscale_model
                .as_ref()
                .is_none_or(|p| !p.exists())
            {
                return Ok(crate::upscale::upscale_simple(image, method, outscale));
            }
        }
        let path = self.upscale.upscale_model.as_ref().ok_or_else(|| {
            PipelineError::Unsupported("upscaling needs an upscaling model".into())
        })?;
        if path.is_dir() {
            let upscaler = self.pipelines.sd_upscaler(path, self.platform)?;
            crate::upscale::upscale_stable_diffusion(
                &upscaler,
                self.params,
                image,
                // diffusers casts the noise level to int64: `denoise` in [0, 1] truncates.
                self.upscale.denoise as i64,
                self.tiles.vae_overlap,
                outscale,
                self.margins(),
                self.progress,
            )
        } else {
            let model = self.pipelines.image_model(path, self.platform)?;
            crate::upscale::upscale_onnx(
                &model,
                image,
                self.tiles.unet_tile,
                outscale,
                self.progress,
            )
        }
    }

    fn upscale_stage(&self, image: RgbImage) -> Result<RgbImage> {
        if !self.upscale.upscale {
            return Ok(image);
        }
        self.upscale_with_model(&image, self.upscale.outscale.max(1))
    }

    fn correct_first(&self) -> bool {
        self.upscale.faces
            && matches!(
                self.upscale.order,
                UpscaleOrder::CorrectionFirst | UpscaleOrder::CorrectionBoth
            )
    }

    fn correct_last(&self) -> bool {
        self.upscale.faces
            && matches!(
                self.upscale.order,
                UpscaleOrder::CorrectionLast | UpscaleOrder::CorrectionBoth
            )
    }

    /// Correction, highres and upscaling after the endpoint's diffusion stage.
    fn post_process(&self, sd: Option<&SdStage<'_>>, image: RgbImage) -> Result<RgbImage> {
        let mut image = image;
        if self.correct_first() {
            image = self.correct(&image)?;
        }
        if self.highres.enabled && self.highres.iterations > 0 {
            let loaded;
            let stage = match sd {
                Some(stage) => stage.clone_ref(),
                None => {
                    loaded = self.load_sd(true)?;
                    self.stage(&loaded)
                }
            };
            image = crate::highres::highres(&stage, image, &self.highres, &|img, scale| {
                self.upscale_with_model(img, scale)
            })?;
        }
        image = self.upscale_stage(image)?;
        if self.correct_last() {
            image = self.correct(&image)?;
        }
        Ok(image)
    }

    /// txt2img beyond what `txt2img::run` does: larger than `unet_tile` (MultiDiffusion views),
    /// `tiled_vae`, or the panorama pipeline; then the post-processing stages. `base` is the
    /// plain txt2img, called when none of those apply.
    pub fn txt2img(
        &self,
        size: Size,
        base: impl FnOnce(&StableDiffusion) -> Result<Vec<RgbImage>>,
    ) -> Result<Vec<RgbImage>> {
        if crate::sdxl::wants_sdxl(self.params)? {
            let panorama = self.params.pipeline.starts_with("panorama");
            return crate::sdxl::txt2img(self, size)?
                .into_iter()
                .map(|image| self.finish_txt2img(None, image, panorama))
                .collect();
        }
        let sd = self.load_sd(self.highres.enabled)?;
        let stage = self.stage(&sd);
        let panorama = self.params.pipeline.starts_with("panorama");
        let plain = size.width <= self.tiles.unet_tile
            && size.height <= self.tiles.unet_tile
            && !self.tiles.tiled_vae
            && !panorama;
        let images = if plain {
            base(&sd.models)?
        } else {
            stage.txt2img(size)?
        };
        images
            .into_iter()
            .map(|image| self.finish_txt2img(Some(&stage), image, panorama))
            .collect()
    }

    fn finish_txt2img(
        &self,
        stage: Option<&SdStage<'_>>,
        image: RgbImage,
        panorama: bool,
    ) -> Result<RgbImage> {
        // onnx-web's txt2img adds a `blend-denoise` stage (OpenCV fastNlMeans, strength 3)
        // after panorama generation, before upscaling, correction and highres. It runs that
        // stage in `unet_tile` tiles on larger images; the whole image is denoised at once
        // here, which differs only within 13 px of its tile seams.
        let image = if panorama {
            onnx_web_imageops::fast_nl_means_colored(&image, PANORAMA_DENOISE, PANORAMA_DENOISE)
        } else {
            image
        };
        self.post_process(stage, image)
    }

    /// img2img as the request's pipeline asks (§3.5): `pix2pix` (strength = image guidance),
    /// `controlnet` with a usable `control` network (strength = conditioning scale; else the
    /// plain pipeline), SDXL for SDXL models, else plain img2img. `loopback` repeats the
    /// pipeline on each result.
    pub fn img2img_pipeline(
        &self,
        source: &RgbImage,
        strength: f32,
        loopback: u32,
        control: Option<&std::path::Path>,
    ) -> Result<Vec<RgbImage>> {
        let params = self.params;
        let batch = params.batch.max(1) as usize;
        if crate::sdxl::wants_sdxl(params)? {
            return self.with_loopback(
                loopback,
                batch,
                |image, batch| crate::sdxl::img2img(self, image, strength, batch),
                source,
                None,
            );
        }
        match control {
            Some(control)
                if params.pipeline == "controlnet"
                    && crate::controlnet::usable(&params.model_dir, Some(control)) =>
            {
                self.with_loopback(
                    loopback,
                    batch,
                    |image, batch| {
                        crate::controlnet::controlnet(self, image, control, strength, batch)
                    },
                    source,
                    None,
                )
            }
            _ if params.pipeline == "pix2pix" => {
                let sd = self.load_sd(true)?;
                let stage = self.stage(&sd);
                self.with_loopback(
                    loopback,
                    batch,
                    |image, batch| crate::pix2pix::pix2pix(&stage, image, strength, batch),
                    source,
                    Some(&stage),
                )
            }
            _ => self.img2img(source, strength, loopback),
        }
    }

    fn with_loopback(
        &self,
        loopback: u32,
        batch: usize,
        run: impl Fn(&RgbImage, usize) -> Result<Vec<RgbImage>>,
        source: &RgbImage,
        stage: Option<&SdStage<'_>>,
    ) -> Result<Vec<RgbImage>> {
        run(source, batch)?
            .into_iter()
            .map(|mut image| {
                for _ in 0..loopback {
                    image = run(&image, 1)?.pop().expect("one image");
                }
                self.post_process(stage, image)
            })
            .collect()
    }

    /// img2img: `batch` results from one source, `loopback` extra passes each, then the
    /// post-processing stages.
    pub fn img2img(
        &self,
        source: &RgbImage,
        strength: f32,
        loopback: u32,
    ) -> Result<Vec<RgbImage>> {
        let sd = self.load_sd(true)?;
        let stage = self.stage(&sd);
        let batch = self.params.batch.max(1) as usize;
        let first = stage.img2img(source, strength, batch)?;
        first
            .into_iter()
            .map(|mut image| {
                for _ in 0..loopback {
                    image = stage
                        .img2img(&image, strength, 1)?
                        .pop()
                        .expect("one image");
                }
                self.post_process(Some(&stage), image)
            })
            .collect()
    }

    /// Inpaint/outpaint, then the post-processing stages.
    pub fn inpaint(
        &self,
        source: &RgbImage,
        mask: &GrayImage,
        options: &InpaintOptions,
    ) -> Result<Vec<RgbImage>> {
        let sd = self.load_sd(true)?;
        let stage = self.stage(&sd);
        stage
            .inpaint(source, mask, options)?
            .into_iter()
            .map(|image| self.post_process(Some(&stage), image))
            .collect()
    }

    /// The upscale endpoint: correction, highres (loading the diffusion model only then) and
    /// upscaling of the source.
    pub fn upscale(&self, source: &RgbImage) -> Result<RgbImage> {
        self.post_process(None, source.clone())
    }

    /// Blend: the mask composite of two sources, then upscaling and correction in order.
    pub fn blend(&self, first: &RgbImage, second: &RgbImage, mask: &GrayImage) -> Result<RgbImage> {
        let mut image = crate::blend::blend(first, second, mask);
        if self.correct_first() {
            image = self.correct(&image)?;
        }
        image = self.upscale_stage(image)?;
        if self.correct_last() {
            image = self.correct(&image)?;
        }
        Ok(image)
    }
}

impl SdStage<'_> {
    /// A copy of the borrowed context.
    pub fn clone_ref(&self) -> SdStage<'_> {
        SdStage {
            models: self.models,
            vae_encoder: self.vae_encoder,
            params: self.params,
            prompt_stage: self.prompt_stage,
            tiles: self.tiles,
            progress: self.progress,
        }
    }
}
