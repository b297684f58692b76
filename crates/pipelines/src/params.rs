//! Typed, already validated parameters of one image job. The HTTP layer builds these once, at the
//! edge; everything below trusts them.

use std::path::PathBuf;

/// Width and height in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

/// The diffusion parameters shared by every image pipeline (onnx-web's `ImageParams`).
#[derive(Clone, Debug, PartialEq)]
pub struct ImageParams {
    /// Folder of the diffusion model (diffusers ONNX layout), already resolved inside the models root.
    pub model_dir: PathBuf,
    /// Requested pipeline name, echoed to clients.
    pub pipeline: String,
    /// Scheduler name, one of `onnx_web_diffusion::schedulers::SCHEDULER_NAMES`.
    pub scheduler: String,
    /// Prompt after wildcard expansion.
    pub prompt: String,
    /// Negative prompt after wildcard expansion; `None` when blank.
    pub negative_prompt: Option<String>,
    pub cfg: f32,
    /// The real seed (a request's -1 is replaced before this point).
    pub seed: u32,
    pub steps: u32,
    pub eta: f32,
    pub batch: u32,
}
