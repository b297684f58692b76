//! One loaded ONNX model: its session, its input and output types, and the time spent inside it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ort::session::{Session, SessionInputs, SessionOutputs};
use ort::value::TensorElementType;
use parking_lot::Mutex;

use crate::error::{EngineError, Result};

/// Name and element type of a model input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub element_type: Option<TensorElementType>,
    /// Dimensions, -1 where dynamic.
    pub shape: Vec<i64>,
}

#[derive(Debug)]
pub struct Model {
    path: PathBuf,
    platform: String,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    // ort's `run` needs `&mut Session`: one job at a time uses a model, so the lock is uncontended.
    session: Mutex<Session>,
    nanos_in_run: AtomicU64,
    runs: AtomicU64,
}

fn tensor_infos(outlets: &[ort::value::Outlet]) -> Vec<TensorInfo> {
    outlets
        .iter()
        .map(|o| TensorInfo {
            name: o.name().to_owned(),
            element_type: o.dtype().tensor_type(),
            shape: o
                .dtype()
                .tensor_shape()
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
        })
        .collect()
}

impl Model {
    pub(crate) fn new(path: &Path, platform: &str, session: Session) -> Self {
        Self {
            path: path.to_path_buf(),
            platform: platform.to_owned(),
            inputs: tensor_infos(session.inputs()),
            outputs: tensor_infos(session.outputs()),
            session: Mutex::new(session),
            nanos_in_run: AtomicU64::new(0),
            runs: AtomicU64::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn platform(&self) -> &str {
        &self.platform
    }

    pub fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    pub fn input(&self, name: &str) -> Option<&TensorInfo> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// A short name for errors: the model's folder and file, e.g. `unet/model.onnx`.
    pub fn label(&self) -> String {
        let mut parts: Vec<_> = self
            .path
            .iter()
            .rev()
            .take(2)
            .map(|p| p.to_string_lossy())
            .collect();
        parts.reverse();
        parts.join("/")
    }

    /// Runs the model and hands the outputs to `read`, which copies out what it needs while the
    /// session is held. Time inside ONNX Runtime is added to [`Model::time_in_run`].
    pub fn run<'i, 'v: 'i, const N: usize, R>(
        &self,
        inputs: impl Into<SessionInputs<'i, 'v, N>>,
        read: impl FnOnce(&SessionOutputs<'_>) -> ort::Result<R>,
    ) -> Result<R> {
        let mut session = self.session.lock();
        let started = Instant::now();
        let outputs = session.run(inputs).map_err(|e| self.run_error(e))?;
        let elapsed = started.elapsed();
        self.nanos_in_run
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        self.runs.fetch_add(1, Ordering::Relaxed);
        read(&outputs).map_err(|e| self.run_error(e))
    }

    fn run_error(&self, error: ort::Error) -> EngineError {
        EngineError::Run {
            model: self.label(),
            message: error.to_string(),
        }
    }

    /// Total time spent inside `Session::run` for this model.
    pub fn time_in_run(&self) -> Duration {
        Duration::from_nanos(self.nanos_in_run.load(Ordering::Relaxed))
    }

    /// Number of completed runs.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}
