//! The parts of a diffusers-layout Stable Diffusion ONNX folder, loaded through the engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use onnx_web_engine::Engine;

use crate::error::{DiffusionError, Result};
use crate::schedulers::SchedulerConfig;
use crate::text_encoder::TextEncoder;
use crate::tokenizer::ClipTokenizer;
use crate::unet::Unet;
use crate::vae::VaeDecoder;

/// File of one model part: `<dir>/<part>/model.onnx`.
pub fn part_path(dir: &Path, part: &str) -> PathBuf {
    dir.join(part).join("model.onnx")
}

pub struct StableDiffusion {
    pub tokenizer: Arc<ClipTokenizer>,
    pub text_encoder: TextEncoder,
    pub unet: Unet,
    pub vae_decoder: VaeDecoder,
    pub scheduler_config: SchedulerConfig,
}

impl StableDiffusion {
    /// Loads the txt2img parts of the folder `dir` on `platform`. Sessions come from the
    /// engine's cache; the tokenizer is passed in so callers can cache it too.
    pub fn load(
        engine: &Engine,
        dir: &Path,
        platform: &str,
        tokenizer: Arc<ClipTokenizer>,
    ) -> Result<Self> {
        Self::load_with_unet(engine, dir, platform, tokenizer, "unet")
    }

    /// [`StableDiffusion::load`] with the UNet from another part folder (the ControlNet UNet
    /// variant in `cnet/`).
    pub fn load_with_unet(
        engine: &Engine,
        dir: &Path,
        platform: &str,
        tokenizer: Arc<ClipTokenizer>,
        unet_part: &str,
    ) -> Result<Self> {
        let load = |part: &str| {
            let path = part_path(dir, part);
            if !path.is_file() {
                return Err(DiffusionError::MissingPart {
                    path: dir.to_path_buf(),
                    part: format!("{part}/model.onnx"),
                });
            }
            Ok(engine.load(&path, platform)?)
        };
        // diffusers' SD pipelines force steps_offset 1 and clip_sample off on every scheduler.
        let scheduler_config =
            SchedulerConfig::from_file(&dir.join("scheduler/scheduler_config.json"))?
                .with_sd_pipeline_fixups();
        Ok(Self {
            tokenizer,
            text_encoder: TextEncoder::new(load("text_encoder")?)?,
            unet: Unet::new(load(unet_part)?)?,
            vae_decoder: VaeDecoder::new(load("vae_decoder")?)?,
            scheduler_config,
        })
    }
}
