//! The Stable Diffusion x4 upscaler (diffusers' `OnnxStableDiffusionUpscalePipeline` layout):
//! a UNet whose `sample` holds the latents and the noisy low-resolution image (7 channels) with
//! the noise level as `class_labels`, latents at the low-resolution size, and a single `vae`
//! decoder that turns them into a 4× larger image.

use std::path::Path;
use std::sync::Arc;

use onnx_web_engine::{Engine, Model};

use crate::error::{model_error, Result};
use crate::schedulers::SchedulerConfig;
use crate::stable_diffusion::load_part;
use crate::text_encoder::TextEncoder;
use crate::tokenizer::ClipTokenizer;
use crate::unet::{Unet, UnetInputs};
use crate::vae::VaeDecoder;

/// diffusers' `decode_latents` of the upscaler: `latents / 0.08333`.
pub const UPSCALER_LATENT_SCALE: f32 = 0.08333;

/// The upscaler's UNet: `sample` [b, 7, h, w], `timestep`, `encoder_hidden_states` and
/// `class_labels` int64 [b] (the noise level); the SD UNet wrapper with one more input.
pub struct UpscaleUnet {
    unet: Unet,
    in_channels: usize,
}

impl UpscaleUnet {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        if model.input("class_labels").is_none() {
            return Err(model_error(&model, "has no input named class_labels"));
        }
        let in_channels = model
            .input("sample")
            .and_then(|i| i.shape.get(1).copied())
            .filter(|&c| c > 0)
            .unwrap_or(7) as usize;
        Ok(Self {
            unet: Unet::new(model)?,
            in_channels,
        })
    }

    /// Channels of `sample`: 4 latent channels plus the image's.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// One prediction at `noise_level`; `out` has `b × 4 × h × w` values.
    pub fn predict(&self, inputs: UnetInputs<'_>, noise_level: i64, out: &mut [f32]) -> Result<()> {
        let inputs = UnetInputs {
            class_label: Some(noise_level),
            ..inputs
        };
        self.unet.predict(&inputs, out)
    }
}

/// The loaded parts of an SD x4 upscaler folder.
pub struct SdUpscaler {
    pub tokenizer: Arc<ClipTokenizer>,
    pub text_encoder: TextEncoder,
    pub unet: UpscaleUnet,
    pub vae: VaeDecoder,
    pub scheduler_config: SchedulerConfig,
    /// `alphas_cumprod` of the low-resolution noise scheduler (DDPM), indexed by noise level.
    pub low_res_alphas_cumprod: Vec<f32>,
}

impl SdUpscaler {
    pub fn load(
        engine: &Engine,
        dir: &Path,
        platform: &str,
        tokenizer: Arc<ClipTokenizer>,
    ) -> Result<Self> {
        let load = |part: &str| load_part(engine, dir, part, platform);
        let scheduler_config =
            SchedulerConfig::from_file(&dir.join("scheduler/scheduler_config.json"))?
                .with_sd_pipeline_fixups();
        let low_res_path = dir.join("low_res_scheduler/scheduler_config.json");
        let low_res = if low_res_path.is_file() {
            SchedulerConfig::from_file(&low_res_path)?
        } else {
            // stabilityai/stable-diffusion-x4-upscaler's low_res_scheduler.
            SchedulerConfig::from_json_str(
                r#"{"_class_name": "DDPMScheduler", "beta_end": 0.02, "beta_schedule": "scaled_linear",
                    "beta_start": 0.0001, "num_train_timesteps": 1000}"#,
            )?
        };
        Ok(Self {
            tokenizer,
            text_encoder: TextEncoder::new(load("text_encoder")?)?,
            unet: UpscaleUnet::new(load("unet")?)?,
            vae: VaeDecoder::new(load("vae")?)?,
            scheduler_config,
            low_res_alphas_cumprod: low_res.alphas_cumprod(false)?,
        })
    }
}
