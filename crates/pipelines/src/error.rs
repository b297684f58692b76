use crate::params::Size;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Cancelled(#[from] crate::progress::Cancelled),
    #[error(transparent)]
    Engine(#[from] onnx_web_engine::EngineError),
    #[error(transparent)]
    Diffusion(#[from] onnx_web_diffusion::DiffusionError),
    #[error(transparent)]
    Scheduler(#[from] onnx_web_diffusion::schedulers::SchedulerError),
    #[error(transparent)]
    Tokenizer(#[from] onnx_web_diffusion::tokenizer::TokenizerError),
    #[error(transparent)]
    Image(#[from] onnx_web_imageops::ImageError),
    #[error("image size {}x{} is not a positive multiple of 8", .0.width, .0.height)]
    InvalidSize(Size),
    /// A stage asked for something the models or parameters cannot do.
    #[error("{0}")]
    Unsupported(String),
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
