//! Stable Diffusion XL in optimum's ONNX layout: two CLIP text encoders (the second with a
//! projection whose `text_embeds` is the pooled prompt), a UNet taking `text_embeds` and
//! `time_ids` beside the usual inputs, and a VAE whose latent scale is read from its config.

use std::path::Path;
use std::sync::Arc;

use onnx_web_engine::ort::value::{TensorElementType, TensorRef};
use onnx_web_engine::{Engine, Model};

use crate::error::{model_error, DiffusionError, Result};
use crate::schedulers::SchedulerConfig;
use crate::stable_diffusion::{load_part, part_path};
use crate::text_encoder::Embeddings;
use crate::tokenizer::ClipTokenizer;
use crate::unet::{ExtraInput, Unet};
use crate::vae::{VaeDecoder, LATENT_SCALE};

/// SDXL's native size (`unet.config.sample_size` 128 × the VAE's 8).
pub const SDXL_NATIVE_SIZE: u32 = 1024;

/// Whether a model folder is an SDXL export: it has a second text encoder.
pub fn is_sdxl(dir: &Path) -> bool {
    part_path(dir, "text_encoder_2").is_file()
}

/// The VAE's `scaling_factor` from `<dir>/<part>/config.json`, else SD's 0.18215.
pub fn latent_scale(dir: &Path, part: &str) -> f32 {
    std::fs::read_to_string(dir.join(part).join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|config| config["scaling_factor"].as_f64())
        .map_or(LATENT_SCALE, |scale| scale as f32)
}

pub struct StableDiffusionXl {
    pub tokenizer: Arc<ClipTokenizer>,
    pub tokenizer_2: Arc<ClipTokenizer>,
    pub text_encoder: Arc<Model>,
    pub text_encoder_2: Arc<Model>,
    pub unet: Unet,
    pub vae_decoder: VaeDecoder,
    pub scheduler_config: SchedulerConfig,
    /// The VAE's latent scale (0.13025 for SDXL).
    pub latent_scale: f32,
}

/// Prompt embeddings of both encoders, concatenated per token, and the pooled prompt.
pub struct XlEmbeddings {
    /// `[rows, 77, dim_1 + dim_2]` in the guided layout of [`crate::prompt::encode_prompt`].
    pub embeddings: Embeddings,
    /// `[rows, pooled_dim]`.
    pub pooled: Vec<f32>,
    pub pooled_dim: usize,
}

impl StableDiffusionXl {
    pub fn load(
        engine: &Engine,
        dir: &Path,
        platform: &str,
        tokenizer: Arc<ClipTokenizer>,
        tokenizer_2: Arc<ClipTokenizer>,
    ) -> Result<Self> {
        let load = |part: &str| load_part(engine, dir, part, platform);
        let scheduler_config =
            SchedulerConfig::from_file(&dir.join("scheduler/scheduler_config.json"))?
                .with_sd_pipeline_fixups();
        let unet = Unet::new(load("unet")?)?;
        for name in ["text_embeds", "time_ids"] {
            if unet.model().input(name).is_none() {
                return Err(model_error(
                    unet.model(),
                    format!("an SDXL UNet needs the input {name}"),
                ));
            }
        }
        Ok(Self {
            tokenizer,
            tokenizer_2,
            text_encoder: load("text_encoder")?,
            text_encoder_2: load("text_encoder_2")?,
            unet,
            vae_decoder: VaeDecoder::new(load("vae_decoder")?)?,
            scheduler_config,
            latent_scale: latent_scale(dir, "vae_decoder"),
        })
    }

    /// Both encoders' penultimate hidden states (SDXL's `clip_skip`-free default), concatenated,
    /// and the second encoder's `text_embeds`. A missing negative prompt is all zeros, as the
    /// base model's `force_zeros_for_empty_prompt` asks.
    pub fn encode_prompt(
        &self,
        prompt: &str,
        negative_prompt: Option<&str>,
        batch: usize,
        guidance: bool,
    ) -> Result<XlEmbeddings> {
        // Network, region, reseed and clip tokens are not text; intervals expand.
        let prompt = &crate::prompt::prompt_text(prompt);
        let negative_prompt = negative_prompt.map(crate::prompt::prompt_text);
        let negative_prompt = negative_prompt.as_deref();
        let (hidden_1, _) = encode(&self.text_encoder, &self.tokenizer, prompt)?;
        let (hidden_2, pooled) = encode(&self.text_encoder_2, &self.tokenizer_2, prompt)?;
        let positive = concat_tokens(&hidden_1, &hidden_2)?;
        let pooled_dim = pooled.len();
        let (negative, negative_pooled) = match (guidance, negative_prompt) {
            (false, _) => (None, None),
            (true, None) => (
                Some(Embeddings {
                    data: vec![0.0; positive.data.len()],
                    shape: positive.shape,
                }),
                Some(vec![0.0; pooled_dim]),
            ),
            (true, Some(text)) => {
                let (n1, _) = encode(&self.text_encoder, &self.tokenizer, text)?;
                let (n2, pooled) = encode(&self.text_encoder_2, &self.tokenizer_2, text)?;
                (Some(concat_tokens(&n1, &n2)?), Some(pooled))
            }
        };
        let [_, sequence, dim] = positive.shape;
        let rows = if guidance { 2 } else { 1 };
        let mut data = Vec::with_capacity(rows * batch * sequence * dim);
        let mut pooled_rows = Vec::with_capacity(rows * batch * pooled_dim);
        if let (Some(negative), Some(negative_pooled)) = (&negative, &negative_pooled) {
            for _ in 0..batch {
                data.extend_from_slice(&negative.data);
                pooled_rows.extend_from_slice(negative_pooled);
            }
        }
        for _ in 0..batch {
            data.extend_from_slice(&positive.data);
            pooled_rows.extend_from_slice(&pooled);
        }
        Ok(XlEmbeddings {
            embeddings: Embeddings {
                data,
                shape: [rows * batch, sequence, dim],
            },
            pooled: pooled_rows,
            pooled_dim,
        })
    }
}

impl XlEmbeddings {
    /// The UNet's added conditions for `rows` (= its batch): the pooled prompt and `time_ids`
    /// (original size, crop offset, target size; height first, as diffusers orders them).
    pub fn unet_inputs(&self, width: u32, height: u32) -> Vec<ExtraInput> {
        let rows = self.embeddings.shape[0];
        let ids = time_ids(width, height);
        vec![
            ExtraInput {
                name: "text_embeds".into(),
                data: self.pooled.clone(),
                shape: vec![rows, self.pooled_dim],
            },
            ExtraInput {
                name: "time_ids".into(),
                data: ids.iter().copied().cycle().take(rows * 6).collect(),
                shape: vec![rows, 6],
            },
        ]
    }
}

/// `add_time_ids` for a refiner-free SDXL pipeline: `(h, w) + (0, 0) + (h, w)`.
pub fn time_ids(width: u32, height: u32) -> [f32; 6] {
    let (w, h) = (width as f32, height as f32);
    [h, w, 0.0, 0.0, h, w]
}

fn concat_tokens(first: &Embeddings, second: &Embeddings) -> Result<Embeddings> {
    let [b1, s1, d1] = first.shape;
    let [b2, s2, d2] = second.shape;
    if b1 != b2 || s1 != s2 {
        return Err(DiffusionError::Model {
            model: "text_encoder_2".into(),
            message: format!(
                "hidden states {:?} do not match {:?}",
                second.shape, first.shape
            ),
        });
    }
    let mut data = Vec::with_capacity(b1 * s1 * (d1 + d2));
    for token in 0..b1 * s1 {
        data.extend_from_slice(&first.data[token * d1..(token + 1) * d1]);
        data.extend_from_slice(&second.data[token * d2..(token + 1) * d2]);
    }
    Ok(Embeddings {
        data,
        shape: [b1, s1, d1 + d2],
    })
}

/// One prompt through one SDXL text encoder: the penultimate hidden state `[1, 77, dim]` and the
/// pooled output (`text_embeds` when the encoder has a projection, else the first output's EOS
/// row is not needed by SDXL and the pooled vector is empty).
fn encode(model: &Model, tokenizer: &ClipTokenizer, text: &str) -> Result<(Embeddings, Vec<f32>)> {
    let ids = tokenizer.encode_padded(text)?;
    let hidden_names: Vec<&str> = model
        .outputs()
        .iter()
        .map(|o| o.name.as_str())
        .filter(|name| name.starts_with("hidden_states"))
        .collect();
    // hidden_states.N is the output of layer N; SDXL uses the one before the last layer.
    let hidden = if hidden_names.len() >= 2 {
        hidden_names[hidden_names.len() - 2].to_owned()
    } else {
        "last_hidden_state".to_owned()
    };
    let pooled_name = model
        .outputs()
        .iter()
        .any(|o| o.name == "text_embeds")
        .then_some("text_embeds");
    let int64 = matches!(
        model.input("input_ids").and_then(|i| i.element_type),
        Some(TensorElementType::Int64)
    );
    let shape = [1usize, ids.len()];
    let read = |outputs: &onnx_web_engine::ort::session::SessionOutputs<'_>| {
        let mut data = Vec::new();
        let dims = crate::float16::extend_from(&outputs[hidden.as_str()], &mut data)?;
        let mut pooled = Vec::new();
        if let Some(name) = pooled_name {
            crate::float16::extend_from(&outputs[name], &mut pooled)?;
        }
        Ok((dims, data, pooled))
    };
    let error = |e: onnx_web_engine::ort::Error| model_error(model, e.to_string());
    let (dims, data, pooled) = if int64 {
        let input = TensorRef::from_array_view((shape, &ids[..])).map_err(error)?;
        model.run(onnx_web_engine::ort::inputs!["input_ids" => input], read)?
    } else {
        let ids32: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
        let input = TensorRef::from_array_view((shape, &ids32[..])).map_err(error)?;
        model.run(onnx_web_engine::ort::inputs!["input_ids" => input], read)?
    };
    match dims[..] {
        [1, s, d] => Ok((
            Embeddings {
                data,
                shape: [1, s as usize, d as usize],
            },
            pooled,
        )),
        _ => Err(model_error(
            model,
            format!("expected hidden states [1, sequence, dim], got {dims:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ids_are_height_first() {
        assert_eq!(
            time_ids(1024, 768),
            [768.0, 1024.0, 0.0, 0.0, 768.0, 1024.0]
        );
    }

    #[test]
    fn token_states_are_concatenated_per_token() {
        let a = Embeddings {
            data: vec![1.0, 2.0, 3.0, 4.0],
            shape: [1, 2, 2],
        };
        let b = Embeddings {
            data: vec![9.0, 8.0],
            shape: [1, 2, 1],
        };
        let joined = concat_tokens(&a, &b).unwrap();
        assert_eq!(joined.shape, [1, 2, 3]);
        assert_eq!(joined.data, vec![1.0, 2.0, 9.0, 3.0, 4.0, 8.0]);
    }
}
