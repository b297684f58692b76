use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "ONNX Runtime was not found (looked in: {searched}).\n\
         Install it with one of:\n  \
         scripts/setup.sh                          (fetches the CPU library into third_party/onnxruntime)\n  \
         pip install onnxruntime==1.31.1           (CPU; or onnxruntime-gpu / onnxruntime-migraphx / onnxruntime-directml)\n\
         or point ORT_DYLIB_PATH at a libonnxruntime.so of version 1.23 or newer."
    )]
    LibraryNotFound { searched: String },
    #[error("could not load ONNX Runtime from {path}: {message} (ONNX Runtime 1.23 or newer is required)")]
    LibraryLoad { path: PathBuf, message: String },
    #[error("model file {path} does not exist")]
    ModelMissing { path: PathBuf },
    #[error("could not load model {path}: {message}")]
    ModelLoad { path: PathBuf, message: String },
    #[error("unknown platform {0:?}")]
    UnknownPlatform(String),
    #[error("{model}: {message}")]
    Run { model: String, message: String },
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
