//! txt2txt: continues a prompt with an ONNX causal language model (onnx-web's unstable
//! `/api/txt2txt`, which runs a GPT-style model and generates up to a token limit).

use std::path::PathBuf;

use onnx_web_diffusion::text_generation::{GenerateOptions, TextGenerator};

use crate::error::Result;
use crate::progress::Progress;
use crate::Pipelines;

/// One text generation job, validated at the edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Txt2TxtParams {
    /// The text model's folder (`decoder_model.onnx`, `tokenizer.json`).
    pub model_dir: PathBuf,
    pub prompt: String,
    pub options: GenerateOptions,
}

pub struct Txt2TxtOutput {
    /// The prompt followed by the generated text.
    pub text: String,
    pub new_tokens: usize,
}

/// Generates the continuation; progress counts model calls and a cancel stops at the next one.
pub fn run(
    pipelines: &Pipelines,
    platform: &str,
    params: &Txt2TxtParams,
    progress: &Progress,
) -> Result<Txt2TxtOutput> {
    let generator = TextGenerator::load(pipelines.engine(), &params.model_dir, platform)?;
    progress.check()?;
    let generated = generator.generate(&params.prompt, params.options, &mut || {
        progress.step_done().map_err(|_| "cancelled".to_owned())
    });
    // A cancel inside the loop is reported as a cancel, not as a model error.
    progress.check()?;
    let generated = generated?;
    Ok(Txt2TxtOutput {
        text: format!("{}{}", params.prompt, generated.text),
        new_tokens: generated.new_tokens,
    })
}
