//! Text generation with an ONNX causal language model in optimum's GPT-2 layout:
//! `decoder_model.onnx` (`input_ids`, `attention_mask` → `logits`, `present.N.key/value`) and,
//! when present, `decoder_with_past_model.onnx` (the same plus `past_key_values.N.key/value`),
//! with the model's `tokenizer.json` (byte-level BPE). Without the past model every step
//! re-runs the whole sequence.

use std::path::Path;
use std::sync::Arc;

use onnx_web_engine::ort::value::{DynValue, Tensor, TensorElementType};
use onnx_web_engine::{Engine, Model};
use rand::{Rng, SeedableRng};
use tokenizers::Tokenizer;

use crate::error::{model_error, DiffusionError, Result};
use crate::float16::extend_from;

pub const DECODER: &str = "decoder_model.onnx";
pub const DECODER_WITH_PAST: &str = "decoder_with_past_model.onnx";

/// Whether `dir` holds a causal language model this module can run.
pub fn is_text_model(dir: &Path) -> bool {
    dir.join(DECODER).is_file() && dir.join("tokenizer.json").is_file()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateOptions {
    /// New tokens at most.
    pub max_tokens: usize,
    /// 0: greedy decoding; otherwise sampling from `softmax(logits / temperature)`.
    pub temperature: f32,
    /// Sample among the `top_k` most likely tokens (0: all).
    pub top_k: usize,
    pub seed: u64,
}

pub struct Generated {
    pub text: String,
    /// Prompt and generated token ids.
    pub tokens: Vec<u32>,
    pub new_tokens: usize,
}

pub struct TextGenerator {
    tokenizer: Tokenizer,
    decoder: Arc<Model>,
    decoder_with_past: Option<Arc<Model>>,
    eos: Option<u32>,
    /// The model's context length (`n_positions`).
    max_positions: usize,
    layers: usize,
}

/// `past_key_values` per layer: (key, value), each with its shape.
type Past = Vec<(Vec<f32>, Vec<usize>)>;

impl TextGenerator {
    pub fn load(engine: &Engine, dir: &Path, platform: &str) -> Result<Self> {
        let missing = |part: &str| DiffusionError::MissingPart {
            path: dir.to_path_buf(),
            part: part.into(),
        };
        if !dir.join(DECODER).is_file() {
            return Err(missing(DECODER));
        }
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| DiffusionError::Model {
                model: tokenizer_path.display().to_string(),
                message: e.to_string(),
            })?;
        let decoder = engine.load(&dir.join(DECODER), platform)?;
        let decoder_with_past = if dir.join(DECODER_WITH_PAST).is_file() {
            Some(engine.load(&dir.join(DECODER_WITH_PAST), platform)?)
        } else {
            None
        };
        let config: serde_json::Value = std::fs::read_to_string(dir.join("config.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let eos = config["eos_token_id"]
            .as_u64()
            .map(|id| id as u32)
            .or_else(|| tokenizer.token_to_id("<|endoftext|>"));
        let max_positions = config["n_positions"]
            .as_u64()
            .or(config["max_position_embeddings"].as_u64())
            .unwrap_or(1024) as usize;
        let layers = decoder
            .outputs()
            .iter()
            .filter(|o| o.name.starts_with("present.") && o.name.ends_with(".key"))
            .count();
        if decoder.outputs().first().map(|o| o.name.as_str()) != Some("logits") {
            return Err(model_error(&decoder, "the first output must be logits"));
        }
        Ok(Self {
            tokenizer,
            decoder,
            decoder_with_past,
            eos,
            max_positions,
            layers,
        })
    }

    pub fn uses_past(&self) -> bool {
        self.decoder_with_past.is_some()
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| self.tokenizer_error(e))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| self.tokenizer_error(e))
    }

    fn tokenizer_error(&self, e: impl std::fmt::Display) -> DiffusionError {
        DiffusionError::Model {
            model: "tokenizer.json".into(),
            message: e.to_string(),
        }
    }

    /// Continues `prompt` by up to `options.max_tokens` tokens, stopping at the end-of-text
    /// token or the model's context length. `step` runs after every model call (progress,
    /// cancellation).
    pub fn generate(
        &self,
        prompt: &str,
        options: GenerateOptions,
        step: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<Generated> {
        let mut tokens = self.encode(prompt)?;
        if tokens.is_empty() {
            // An empty prompt starts from the end-of-text token, as GPT-2 generation does.
            tokens.extend(self.eos);
        }
        let prompt_len = tokens.len();
        let mut rng = rand_pcg::Pcg64::seed_from_u64(options.seed);
        let mut past: Option<Past> = None;
        let mut new_tokens = 0;
        while new_tokens < options.max_tokens && tokens.len() < self.max_positions {
            let (logits, presents) = match (&self.decoder_with_past, &past) {
                (Some(model), Some(past)) => {
                    self.run(model, &tokens[tokens.len() - 1..], tokens.len(), Some(past))?
                }
                _ => self.run(&self.decoder, &tokens, tokens.len(), None)?,
            };
            if self.decoder_with_past.is_some() {
                past = Some(presents);
            }
            let next = pick(&logits, options, &mut rng);
            step().map_err(|message| DiffusionError::Model {
                model: "text generation".into(),
                message,
            })?;
            if Some(next) == self.eos {
                break;
            }
            tokens.push(next);
            new_tokens += 1;
        }
        let text = self.decode(&tokens[prompt_len..])?;
        Ok(Generated {
            text,
            tokens,
            new_tokens,
        })
    }

    /// One model call on `ids` (the whole sequence, or the last token with `past`); returns the
    /// last position's logits and the `present` keys and values.
    fn run(
        &self,
        model: &Model,
        ids: &[u32],
        total: usize,
        past: Option<&Past>,
    ) -> Result<(Vec<f32>, Past)> {
        let error = |e: onnx_web_engine::ort::Error| model_error(model, e.to_string());
        let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        let seq = ids.len();
        let mut inputs = onnx_web_engine::ort::inputs![
            "input_ids" => Tensor::from_array((vec![1usize, seq], ids)).map_err(error)?,
            "attention_mask" => Tensor::from_array((vec![1usize, total], vec![1i64; total])).map_err(error)?,
        ];
        if model.input("position_ids").is_some() {
            let positions: Vec<i64> = ((total - seq) as i64..total as i64).collect();
            let value = Tensor::from_array((vec![1usize, seq], positions)).map_err(error)?;
            inputs.push(("position_ids".into(), value.into_dyn().into()));
        }
        if let Some(past) = past {
            for (layer, chunk) in past.chunks(2).enumerate() {
                for ((data, shape), kind) in chunk.iter().zip(["key", "value"]) {
                    let name = format!("past_key_values.{layer}.{kind}");
                    let value: DynValue = match model.input(&name).and_then(|i| i.element_type) {
                        Some(TensorElementType::Float16) => {
                            Tensor::from_array((shape.clone(), crate::float16::to_f16(data)))
                                .map_err(error)?
                                .into_dyn()
                        }
                        _ => Tensor::from_array((shape.clone(), data.clone()))
                            .map_err(error)?
                            .into_dyn(),
                    };
                    inputs.push((name.into(), value.into()));
                }
            }
        }
        let layers = self.layers;
        model
            .run(inputs, |outputs| {
                let mut logits = Vec::new();
                let dims = extend_from(&outputs["logits"], &mut logits)?;
                let vocab = *dims.last().unwrap_or(&0) as usize;
                let last = logits.split_off(logits.len() - vocab);
                let mut presents = Vec::with_capacity(2 * layers);
                for layer in 0..layers {
                    for kind in ["key", "value"] {
                        let mut data = Vec::new();
                        let dims = extend_from(
                            &outputs[format!("present.{layer}.{kind}").as_str()],
                            &mut data,
                        )?;
                        presents.push((data, dims.iter().map(|&d| d as usize).collect()));
                    }
                }
                Ok((last, presents))
            })
            .map_err(Into::into)
    }
}

/// The next token: the most likely one, or a sample at the temperature among the top k.
fn pick(logits: &[f32], options: GenerateOptions, rng: &mut impl Rng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                if v > best.1 {
                    (i, v)
                } else {
                    best
                }
            })
            .0 as u32
    };
    if options.temperature <= 0.0 {
        return argmax();
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    if options.top_k > 0 {
        order.truncate(options.top_k);
    }
    let top = logits[order[0]];
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| f64::from((logits[i] - top) / options.temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut target = rng.random::<f64>() * total;
    for (&index, weight) in order.iter().zip(&weights) {
        if target < *weight {
            return index as u32;
        }
        target -= weight;
    }
    order[0] as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest_logit_and_sampling_stays_in_the_top_k() {
        let logits = [0.1, 3.0, -1.0, 2.9];
        let greedy = GenerateOptions {
            max_tokens: 1,
            temperature: 0.0,
            top_k: 0,
            seed: 1,
        };
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        assert_eq!(pick(&logits, greedy, &mut rng), 1);
        let sampled = GenerateOptions {
            temperature: 1.0,
            top_k: 2,
            ..greedy
        };
        let picks: Vec<u32> = (0..200).map(|_| pick(&logits, sampled, &mut rng)).collect();
        assert!(picks.iter().all(|&p| p == 1 || p == 3));
        assert!(picks.contains(&1) && picks.contains(&3));
    }
}
