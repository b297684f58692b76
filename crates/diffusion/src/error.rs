use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DiffusionError {
    #[error(transparent)]
    Engine(#[from] onnx_web_engine::EngineError),
    #[error("{model}: {message}")]
    Model { model: String, message: String },
    #[error("model folder {path} is missing {part}")]
    MissingPart { path: PathBuf, part: String },
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    #[error("network {path}: {message}")]
    Network { path: PathBuf, message: String },
    #[error(transparent)]
    Scheduler(#[from] crate::schedulers::SchedulerError),
}

pub type Result<T, E = DiffusionError> = std::result::Result<T, E>;

/// An error about a model's interface (unexpected inputs, outputs or shapes).
pub(crate) fn model_error(
    model: &onnx_web_engine::Model,
    message: impl Into<String>,
) -> DiffusionError {
    DiffusionError::Model {
        model: model.label(),
        message: message.into(),
    }
}
