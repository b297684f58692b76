//! Image pipelines: txt2img today; img2img, inpaint, upscale and chains build on the same parts.

pub mod blend;
pub mod controlnet;
pub mod correction;
pub mod denoise;
pub mod error;
pub mod filter_models;
pub mod highres;
pub mod image_util;
pub mod inpaint;
pub mod options;
pub mod params;
pub mod pix2pix;
pub mod progress;
pub mod regions;
pub mod sd;
pub mod sdxl;
pub mod source_filter;
pub mod stages;
pub mod tiling;
pub mod txt2img;
pub mod txt2txt;
pub mod upscale;
pub mod vae_tiles;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use onnx_web_diffusion::image_model::ImageModel;
use onnx_web_diffusion::networks::resolve_networks;
use onnx_web_diffusion::prompt_parser::prompt_networks;
use onnx_web_diffusion::sd_upscaler::SdUpscaler;
use onnx_web_diffusion::stable_diffusion::part_path;
use onnx_web_diffusion::tokenizer::ClipTokenizer;
use onnx_web_diffusion::vae_encoder::VaeEncoder;
use onnx_web_diffusion::{DiffusionError, StableDiffusion};
use onnx_web_engine::Engine;
use parking_lot::Mutex;

pub use error::{PipelineError, Result};
pub use options::{Border, HighresOptions, TileOptions, UpscaleOptions, UpscaleOrder};
pub use params::{ImageParams, Size};
pub use progress::{Cancelled, Progress, StepObserver};
pub use stages::JobContext;

/// Shared by all workers: the engine (with its session cache) and parsed tokenizers.
pub struct Pipelines {
    engine: Arc<Engine>,
    tokenizers: Mutex<HashMap<PathBuf, Arc<ClipTokenizer>>>,
    /// Where `lora/` and `inversion/` are; without it, prompts' network tokens are ignored.
    models_root: Option<PathBuf>,
}

impl Pipelines {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            tokenizers: Mutex::new(HashMap::new()),
            models_root: None,
        }
    }

    /// Looks up the prompts' LoRA and Textual Inversion networks under `root`.
    pub fn with_models_root(mut self, root: PathBuf) -> Self {
        self.models_root = Some(root);
        self
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn tokenizer(&self, model_dir: &Path) -> Result<Arc<ClipTokenizer>> {
        self.tokenizer_in(model_dir, "tokenizer")
    }

    /// The tokenizer in `model_dir/<part>`, parsed once.
    fn tokenizer_in(&self, model_dir: &Path, part: &str) -> Result<Arc<ClipTokenizer>> {
        let key = if part == "tokenizer" {
            model_dir.to_path_buf()
        } else {
            model_dir.join(part)
        };
        if let Some(tokenizer) = self.tokenizers.lock().get(&key) {
            return Ok(Arc::clone(tokenizer));
        }
        let tokenizer = Arc::new(ClipTokenizer::from_dir(&model_dir.join(part))?);
        self.tokenizers.lock().insert(key, Arc::clone(&tokenizer));
        Ok(tokenizer)
    }

    /// The parts of an SDXL folder (optimum layout).
    pub fn stable_diffusion_xl(
        &self,
        model_dir: &Path,
        platform: &str,
    ) -> Result<onnx_web_diffusion::sdxl::StableDiffusionXl> {
        Ok(onnx_web_diffusion::sdxl::StableDiffusionXl::load(
            &self.engine,
            model_dir,
            platform,
            self.tokenizer(model_dir)?,
            self.tokenizer_in(model_dir, "tokenizer_2")?,
        )?)
    }

    /// The Stable Diffusion parts with the ControlNet UNet variant of `cnet/`.
    pub fn stable_diffusion_cnet(
        &self,
        model_dir: &Path,
        platform: &str,
    ) -> Result<StableDiffusion> {
        Ok(StableDiffusion::load_with_unet(
            &self.engine,
            model_dir,
            platform,
            self.tokenizer(model_dir)?,
            "cnet",
        )?)
    }

    /// The Stable Diffusion parts of `model_dir` on `platform`.
    pub fn stable_diffusion(&self, model_dir: &Path, platform: &str) -> Result<StableDiffusion> {
        let tokenizer = self.tokenizer(model_dir)?;
        Ok(StableDiffusion::load(
            &self.engine,
            model_dir,
            platform,
            tokenizer,
        )?)
    }

    /// The Stable Diffusion parts for a job: with the LoRA and Textual Inversion networks its
    /// prompt and negative prompt name (all prompt stages) blended in.
    pub fn stable_diffusion_for(
        &self,
        params: &ImageParams,
        platform: &str,
    ) -> Result<StableDiffusion> {
        let Some(root) = &self.models_root else {
            return self.stable_diffusion(&params.model_dir, platform);
        };
        let tokens = prompt_networks(&params.prompt, params.negative_prompt.as_deref());
        let networks = resolve_networks(root, &tokens)?;
        let tokenizer = self.tokenizer(&params.model_dir)?;
        Ok(StableDiffusion::load_with_networks(
            &self.engine,
            &params.model_dir,
            platform,
            tokenizer,
            &networks,
        )?)
    }

    /// The VAE encoder of `model_dir` (img2img, inpainting).
    pub fn vae_encoder(&self, model_dir: &Path, platform: &str) -> Result<VaeEncoder> {
        let path = part_path(model_dir, "vae_encoder");
        if !path.is_file() {
            return Err(DiffusionError::MissingPart {
                path: model_dir.to_path_buf(),
                part: "vae_encoder/model.onnx".into(),
            }
            .into());
        }
        Ok(VaeEncoder::new(self.engine.load(&path, platform)?)?)
    }

    /// A single-file image model: an upscaler or a face restorer.
    pub fn image_model(&self, path: &Path, platform: &str) -> Result<ImageModel> {
        Ok(ImageModel::new(self.engine.load(path, platform)?)?)
    }

    /// The parts of a Stable Diffusion x4 upscaler folder.
    pub fn sd_upscaler(&self, dir: &Path, platform: &str) -> Result<SdUpscaler> {
        let tokenizer = self.tokenizer(dir)?;
        Ok(SdUpscaler::load(&self.engine, dir, platform, tokenizer)?)
    }

    /// Loads the model and runs txt2img.
    pub fn txt2img(
        &self,
        params: &ImageParams,
        size: Size,
        platform: &str,
        progress: &Progress,
    ) -> Result<txt2img::Txt2ImgOutput> {
        let models = self.stable_diffusion_for(params, platform)?;
        progress.check()?;
        txt2img::run(&models, params, size, progress)
    }
}
