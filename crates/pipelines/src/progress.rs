//! Progress and cancellation of one running job, shared between the worker and the HTTP side.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Returned by a pipeline that noticed its job was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("job was cancelled")]
pub struct Cancelled;

/// Counts model calls (onnx-web's cumulative diffusion steps) and carries the cancel flag.
/// A pipeline calls [`Progress::step_done`] after every UNet call, so a cancel stops the job at
/// the next step.
#[derive(Debug, Default)]
pub struct Progress {
    steps: AtomicU32,
    cancelled: AtomicBool,
}

impl Progress {
    pub fn new() -> Self {
        Self::default()
    }

    /// Steps completed so far.
    pub fn steps(&self) -> u32 {
        self.steps.load(Ordering::Relaxed)
    }

    /// Records one finished model call; fails when the job has been cancelled meanwhile.
    pub fn step_done(&self) -> Result<(), Cancelled> {
        self.steps.fetch_add(1, Ordering::Relaxed);
        self.check()
    }

    /// Fails when the job has been cancelled; pipelines call it between expensive stages.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.cancelled.load(Ordering::Relaxed) {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}
