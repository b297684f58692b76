use crate::params::Size;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Cancelled(#[from] crate::progress::Cancelled),
    #[error(transparent)]
    Diffusion(#[from] onnx_web_diffusion::DiffusionError),
    #[error(transparent)]
    Scheduler(#[from] onnx_web_diffusion::schedulers::SchedulerError),
    #[error(transparent)]
    Tokenizer(#[from] onnx_web_diffusion::tokenizer::TokenizerError),
    #[error("image size {}x{} is not a positive multiple of 8", .0.width, .0.height)]
    InvalidSize(Size),
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
