//! The Stable Diffusion x4 upscaler (diffusers' `OnnxStableDiffusionUpscalePipeline` layout):
//! a UNet whose `sample` holds the latents and the noisy low-resolution image (7 channels) with
//! the noise level as `class_labels`, latents at the low-resolution size, and a single `vae`
//! decoder that turns them into a 4× larger image.

use std::path::Path;
use std::sync::Arc;

use onnx_web_engine::ort::value::{TensorElementType, TensorRef};
use onnx_web_engine::{Engine, Model};

use crate::error::{model_error, DiffusionError, Result};
use crate::schedulers::SchedulerConfig;
use crate::stable_diffusion::part_path;
use crate::text_encoder::TextEncoder;
use crate::tokenizer::ClipTokenizer;
use crate::vae::VaeDecoder;

/// diffusers' `decode_latents` of the upscaler: `latents / 0.08333`.
pub const UPSCALER_LATENT_SCALE: f32 = 0.08333;

/// The upscaler's UNet: `sample` [b, 7, h, w], `timestep`, `encoder_hidden_states` and
/// `class_labels` int64 [b] (the noise level).
pub struct UpscaleUnet {
    model: Arc<Model>,
    timestep_type: TensorElementType,
    in_channels: usize,
    /// float16 `sample` and `encoder_hidden_states` (converted at the edge).
    sample_f16: bool,
    hidden_f16: bool,
}

impl UpscaleUnet {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        for name in [
            "sample",
            "timestep",
            "encoder_hidden_states",
            "class_labels",
        ] {
            if model.input(name).is_none() {
                return Err(model_error(&model, format!("has no input named {name}")));
            }
        }
        let timestep_type = match model.input("timestep").and_then(|i| i.element_type) {
            Some(
                t @ (TensorElementType::Float32
                | TensorElementType::Float16
                | TensorElementType::Int64),
            ) => t,
            other => {
                return Err(model_error(
                    &model,
                    format!("timestep must be float32, float16 or int64, found {other:?}"),
                ))
            }
        };
        let is_f16 = |name: &str| {
            model.input(name).and_then(|i| i.element_type) == Some(TensorElementType::Float16)
        };
        let (sample_f16, hidden_f16) = (is_f16("sample"), is_f16("encoder_hidden_states"));
        let in_channels = model
            .input("sample")
            .and_then(|i| i.shape.get(1).copied())
            .filter(|&c| c > 0)
            .unwrap_or(7) as usize;
        Ok(Self {
            model,
            timestep_type,
            in_channels,
            sample_f16,
            hidden_f16,
        })
    }

    /// Channels of `sample`: 4 latent channels plus the image's.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// One prediction; `out` has `b × 4 × h × w` values.
    #[allow(clippy::too_many_arguments)]
    pub fn predict(
        &self,
        sample: &[f32],
        sample_shape: [usize; 4],
        timestep: f64,
        hidden: &[f32],
        hidden_shape: [usize; 3],
        noise_level: i64,
        out: &mut [f32],
    ) -> Result<()> {
        let error = |e: onnx_web_engine::ort::Error| model_error(&self.model, e.to_string());
        let (sample16, hidden16);
        let sample_tensor = if self.sample_f16 {
            sample16 = crate::float16::to_f16(sample);
            TensorRef::from_array_view((sample_shape, &sample16[..]))
                .map_err(error)?
                .into_dyn()
        } else {
            TensorRef::from_array_view((sample_shape, sample))
                .map_err(error)?
                .into_dyn()
        };
        let hidden_tensor = if self.hidden_f16 {
            hidden16 = crate::float16::to_f16(hidden);
            TensorRef::from_array_view((hidden_shape, &hidden16[..]))
                .map_err(error)?
                .into_dyn()
        } else {
            TensorRef::from_array_view((hidden_shape, hidden))
                .map_err(error)?
                .into_dyn()
        };
        let labels = vec![noise_level; sample_shape[0]];
        let labels_tensor =
            TensorRef::from_array_view(([sample_shape[0]], &labels[..])).map_err(error)?;
        let timestep_f32 = [timestep as f32];
        let timestep_f16 = [half::f16::from_f64(timestep)];
        let timestep_i64 = [timestep as i64];
        let timestep_tensor = match self.timestep_type {
            TensorElementType::Int64 => TensorRef::from_array_view(([1usize], &timestep_i64[..]))
                .map_err(error)?
                .into_dyn(),
            TensorElementType::Float16 => TensorRef::from_array_view(([1usize], &timestep_f16[..]))
                .map_err(error)?
                .into_dyn(),
            _ => TensorRef::from_array_view(([1usize], &timestep_f32[..]))
                .map_err(error)?
                .into_dyn(),
        };
        let inputs = onnx_web_engine::ort::inputs![
            "sample" => sample_tensor,
            "timestep" => timestep_tensor,
            "encoder_hidden_states" => hidden_tensor,
            "class_labels" => labels_tensor,
        ];
        let expected = out.len();
        let copied = self.model.run(inputs, |outputs| {
            crate::float16::copy_into(&outputs[0], out)
        })?;
        if copied != expected {
            return Err(model_error(
                &self.model,
                format!("out_sample has {copied} values, expected {expected}"),
            ));
        }
        Ok(())
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
