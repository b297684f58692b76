//! The parts of a diffusers-layout Stable Diffusion ONNX folder, loaded through the engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::BTreeMap;

use onnx_web_engine::onnx_weights::OnnxWeights;
use onnx_web_engine::Engine;

use crate::error::{DiffusionError, Result};
use crate::networks::{self, variant_key, NetworkFile, Tensor};
use crate::prompt_parser::NetworkKind;
use crate::schedulers::SchedulerConfig;
use crate::text_encoder::TextEncoder;
use crate::tokenizer::ClipTokenizer;
use crate::unet::Unet;
use crate::vae::VaeDecoder;

/// File of one model part: `<dir>/<part>/model.onnx`.
pub fn part_path(dir: &Path, part: &str) -> PathBuf {
    dir.join(part).join("model.onnx")
}

/// Loads `<dir>/<part>/model.onnx` on `platform`, naming the part when it is missing.
pub fn load_part(
    engine: &Engine,
    dir: &Path,
    part: &str,
    platform: &str,
) -> Result<Arc<onnx_web_engine::Model>> {
    let path = part_path(dir, part);
    if !path.is_file() {
        return Err(DiffusionError::MissingPart {
            path: dir.to_path_buf(),
            part: format!("{part}/model.onnx"),
        });
    }
    Ok(engine.load(&path, platform)?)
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
        let load = |part: &str| load_part(engine, dir, part, platform);
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

    /// [`Self::load`] with LoRA and Textual Inversion networks blended into the UNet and text
    /// encoder (sessions cached per network combination).
    pub fn load_with_networks(
        engine: &Engine,
        dir: &Path,
        platform: &str,
        tokenizer: Arc<ClipTokenizer>,
        networks: &[NetworkFile],
    ) -> Result<Self> {
        let mut models = Self::load(engine, dir, platform, Arc::clone(&tokenizer))?;
        if networks.is_empty() {
            return Ok(models);
        }
        let loras: Vec<&NetworkFile> = networks
            .iter()
            .filter(|n| n.kind == NetworkKind::Lora)
            .collect();
        let read_loras = || -> Result<Vec<_>> {
            loras
                .iter()
                .map(|n| Ok((networks::read_safetensors(&n.path)?, n.weight)))
                .collect()
        };
        let blend = |path: &Path, prefix: &str, files: &[(BTreeMap<String, Tensor>, f32)]| {
            let weights = OnnxWeights::read(path)?;
            let refs: Vec<_> = files.iter().map(|(t, w)| (t, *w)).collect();
            networks::lora_overrides(&weights, prefix, &refs).map(|o| (weights, o))
        };
        if !loras.is_empty() {
            let path = part_path(dir, "unet");
            let model = engine.load_variant(
                &path,
                platform,
                &variant_key(loras.iter().copied()),
                || Ok::<_, DiffusionError>(blend(&path, "lora_unet_", &read_loras()?)?.1),
            )?;
            models.unet = Unet::new(model)?;
        }

        let mut inversion_rows = Vec::new();
        for network in networks.iter().filter(|n| n.kind == NetworkKind::Inversion) {
            inversion_rows.extend(networks::inversion_tokens(
                &network.path,
                &network.name,
                network.weight,
            )?);
        }
        let token_names: Vec<&str> = inversion_rows.iter().map(|(t, _)| t.as_str()).collect();
        let (tokenizer, ids) = tokenizer.with_added_tokens(&token_names)?;
        let path = part_path(dir, "text_encoder");
        let model = engine.load_variant(&path, platform, &variant_key(networks), || {
            let (weights, mut overrides) = blend(&path, "lora_te_", &read_loras()?)?;
            if !inversion_rows.is_empty() {
                let table_name = networks::token_table_name(&weights).ok_or_else(|| {
                    DiffusionError::Network {
                        path: path.clone(),
                        message: "the text encoder has no token embedding table".into(),
                    }
                })?;
                let mut table = weights.read_f32(&table_name)?;
                let rows: Vec<(i64, Vec<f32>)> = ids
                    .iter()
                    .zip(&inversion_rows)
                    .map(|(id, (_, vector))| (*id, vector.clone()))
                    .collect();
                networks::write_token_rows(&mut table, &rows).map_err(|message| {
                    DiffusionError::Network {
                        path: path.clone(),
                        message,
                    }
                })?;
                overrides.push((table_name, table));
            }
            Ok::<_, DiffusionError>(overrides)
        })?;
        models.text_encoder = TextEncoder::new(model)?;
        models.tokenizer = Arc::new(tokenizer);
        Ok(models)
    }
}
