//! Why a running chain stopped.

use onnx_web_pipelines::{Cancelled, PipelineError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("stage {stage:?}: {source}")]
    Stage {
        stage: String,
        #[source]
        source: Box<RunError>,
    },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("job was cancelled")]
    Cancelled,
    #[error("{0}")]
    Input(String),
    #[error("saving {name}: {message}")]
    Save { name: String, message: String },
    #[error("S3: {0}")]
    S3(String),
    #[error("fetching {url}: {message}")]
    Url { url: String, message: String },
}

impl From<Cancelled> for RunError {
    fn from(_: Cancelled) -> Self {
        Self::Cancelled
    }
}

impl From<onnx_web_imageops::ImageError> for RunError {
    fn from(error: onnx_web_imageops::ImageError) -> Self {
        Self::Input(error.to_string())
    }
}

impl RunError {
    /// Whether the job stopped because it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        match self {
            Self::Cancelled => true,
            Self::Pipeline(PipelineError::Cancelled(_)) => true,
            Self::Stage { source, .. } => source.is_cancelled(),
            _ => false,
        }
    }
}

pub type Result<T, E = RunError> = std::result::Result<T, E>;
