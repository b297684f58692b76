//! Progress and cancellation of one running job, shared between the worker and the HTTP side.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Returned by a pipeline that noticed its job was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("job was cancelled")]
pub struct Cancelled;

/// Called with the duration of every step (e.g. to record it in a histogram).
pub type StepObserver = Box<dyn Fn(Duration) + Send + Sync>;

/// Times steps: a step lasts from the previous step or [`Progress::check`] to its `step_done`.
struct StepTimer {
    origin: Instant,
    /// Nanoseconds from `origin` to the last mark.
    mark: AtomicU64,
    observe: StepObserver,
}

impl StepTimer {
    fn nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Counts model calls (onnx-web's cumulative diffusion steps) and carries the cancel flag.
/// A pipeline calls [`Progress::step_done`] after every UNet call, so a cancel stops the job at
/// the next step.
#[derive(Default)]
pub struct Progress {
    steps: AtomicU32,
    cancelled: AtomicBool,
    timer: Option<StepTimer>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("steps", &self.steps)
            .field("cancelled", &self.cancelled)
            .field("timed", &self.timer.is_some())
            .finish()
    }
}

impl Progress {
    pub fn new() -> Self {
        Self::default()
    }

    /// A progress that hands every step's duration to `observe`: the time since the previous
    /// step, or since the last [`Progress::check`] (pipelines check after their set-up, e.g. the
    /// prompt encoding, so the first step does not include it).
    pub fn with_step_observer(observe: StepObserver) -> Self {
        Self {
            timer: Some(StepTimer {
                origin: Instant::now(),
                mark: AtomicU64::new(0),
                observe,
            }),
            ..Self::default()
        }
    }

    /// Steps completed so far.
    pub fn steps(&self) -> u32 {
        self.steps.load(Ordering::Relaxed)
    }

    /// Records one finished model call; fails when the job has been cancelled meanwhile.
    pub fn step_done(&self) -> Result<(), Cancelled> {
        self.steps.fetch_add(1, Ordering::Relaxed);
        if let Some(timer) = &self.timer {
            let now = timer.nanos();
            let last = timer.mark.swap(now, Ordering::Relaxed);
            (timer.observe)(Duration::from_nanos(now.saturating_sub(last)));
        }
        self.check_cancelled()
    }

    /// Fails when the job has been cancelled; pipelines call it between expensive stages. It
    /// also starts the time of the next step.
    pub fn check(&self) -> Result<(), Cancelled> {
        if let Some(timer) = &self.timer {
            timer.mark.store(timer.nanos(), Ordering::Relaxed);
        }
        self.check_cancelled()
    }

    fn check_cancelled(&self) -> Result<(), Cancelled> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn steps_are_timed_from_the_last_check_or_step() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let progress =
            Progress::with_step_observer(Box::new(move |d| sink.lock().unwrap().push(d)));
        std::thread::sleep(Duration::from_millis(30));
        progress.check().unwrap();
        progress.step_done().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        progress.step_done().unwrap();
        let timed = seen.lock().unwrap().clone();
        assert_eq!(timed.len(), 2);
        assert!(timed[0] < Duration::from_millis(25), "{:?}", timed[0]);
        assert!(timed[1] >= Duration::from_millis(5), "{:?}", timed[1]);
        assert_eq!(progress.steps(), 2);
        progress.cancel();
        assert_eq!(progress.step_done(), Err(Cancelled));
        assert_eq!(seen.lock().unwrap().len(), 3);
    }
}
