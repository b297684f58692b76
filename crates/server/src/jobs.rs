//! The job table and the per-device workers.
//!
//! HTTP handlers validate a request, name its outputs and [`JobQueue::submit`] a [`Job`]; they
//! never run inference. One worker thread per device takes that device's pending jobs in FIFO
//! order and hands each to the [`JobRunner`]. `ready` and `cancel` read and change the table.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;

use onnx_web_pipelines::{ImageParams, Progress, Size};
use parking_lot::{Condvar, Mutex};

/// What a job does, with everything it needs already validated.
#[derive(Debug, Clone)]
pub enum JobSpec {
    Txt2Img(Txt2ImgJob),
}

#[derive(Debug, Clone)]
pub struct Txt2ImgJob {
    pub params: ImageParams,
    pub size: Size,
    pub metadata: OutputMetadata,
}

/// What is written beside every output image: the onnx-web response body (its `outputs` key is
/// replaced per file) and the A1111-style `parameters` text.
#[derive(Debug, Clone)]
pub struct OutputMetadata {
    pub response: serde_json::Value,
    pub parameters: String,
}

#[derive(Debug, Clone)]
pub struct Job {
    /// The job key: the first output name.
    pub key: String,
    /// Every output file name, in order.
    pub outputs: Vec<String>,
    /// The platform the request asked for, or `None` for any.
    pub platform: Option<String>,
    pub spec: JobSpec,
}

/// Runs one job on a device; errors are logged by the queue and reported as `failed`.
pub trait JobRunner: Send + Sync + 'static {
    fn run(&self, device: &str, job: &Job, progress: &Progress) -> anyhow::Result<()>;
}

/// A job's state as `/api/ready` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct JobStatus {
    pub cancelled: bool,
    pub failed: bool,
    pub pending: bool,
    pub progress: u32,
    pub ready: bool,
}

struct PendingJob {
    device: usize,
    job: Job,
}

struct RunningJob {
    device: usize,
    progress: Arc<Progress>,
}

#[derive(Default)]
struct Table {
    pending: VecDeque<PendingJob>,
    running: HashMap<String, RunningJob>,
    finished: HashMap<String, JobStatus>,
    shutting_down: bool,
}

/// A device worker's public state, for `/api/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    pub device: String,
    pub jobs_started: u64,
}

pub struct JobQueue {
    devices: Vec<String>,
    table: Mutex<Table>,
    work_ready: Condvar,
    jobs_started: Vec<std::sync::atomic::AtomicU64>,
}

impl JobQueue {
    /// A queue with one worker slot per device name (e.g. `["cpu"]`).
    pub fn new(devices: Vec<String>) -> Arc<Self> {
        assert!(
            !devices.is_empty(),
            "the job queue needs at least one device"
        );
        let jobs_started = devices.iter().map(|_| Default::default()).collect();
        Arc::new(Self {
            devices,
            table: Mutex::new(Table::default()),
            work_ready: Condvar::new(),
            jobs_started,
        })
    }

    pub fn devices(&self) -> &[String] {
        &self.devices
    }

    /// Starts one worker thread per device. Each runs until [`JobQueue::shutdown`].
    pub fn start_workers(self: &Arc<Self>, runner: Arc<dyn JobRunner>) -> Vec<JoinHandle<()>> {
        (0..self.devices.len())
            .map(|device| {
                let queue = Arc::clone(self);
                let runner = Arc::clone(&runner);
                std::thread::Builder::new()
                    .name(format!("worker-{}", self.devices[device]))
                    .spawn(move || queue.worker_loop(device, runner.as_ref()))
                    .expect("spawning a worker thread")
            })
            .collect()
    }

    /// Stops the workers after their current job.
    pub fn shutdown(&self) {
        self.table.lock().shutting_down = true;
        self.work_ready.notify_all();
    }

    /// Queues a job on the requested platform's device, or on the least busy one.
    pub fn submit(&self, job: Job) {
        let mut table = self.table.lock();
        let device = self.pick_device(&table, job.platform.as_deref());
        table.finished.remove(&job.key);
        table.pending.push_back(PendingJob { device, job });
        drop(table);
        self.work_ready.notify_all();
    }

    fn pick_device(&self, table: &Table, platform: Option<&str>) -> usize {
        if let Some(index) = platform.and_then(|p| self.devices.iter().position(|d| d == p)) {
            return index;
        }
        let mut load = vec![0usize; self.devices.len()];
        for pending in &table.pending {
            load[pending.device] += 1;
        }
        for running in table.running.values() {
            load[running.device] += 1;
        }
        // Fewest queued jobs; ties go to the lowest index.
        (0..load.len()).min_by_key(|&i| (load[i], i)).unwrap_or(0)
    }

    /// The job's state, or `None` when the key is unknown.
    pub fn status(&self, key: &str) -> Option<JobStatus> {
        let table = self.table.lock();
        if table.pending.iter().any(|p| p.job.key == key) {
            return Some(JobStatus {
                cancelled: false,
                failed: false,
                pending: true,
                progress: 0,
                ready: false,
            });
        }
        if let Some(running) = table.running.get(key) {
            return Some(JobStatus {
                cancelled: false,
                failed: false,
                pending: false,
                progress: running.progress.steps(),
                ready: false,
            });
        }
        table.finished.get(key).copied()
    }

    /// Cancels a pending job (removed from the queue) or a running one (stops at its next step).
    /// Returns false for finished and unknown jobs.
    pub fn cancel(&self, key: &str) -> bool {
        let mut table = self.table.lock();
        if let Some(index) = table.pending.iter().position(|p| p.job.key == key) {
            table.pending.remove(index);
            table.finished.insert(
                key.to_owned(),
                JobStatus {
                    cancelled: true,
                    failed: true,
                    pending: false,
                    progress: 0,
                    ready: true,
                },
            );
            return true;
        }
        if let Some(running) = table.running.get(key) {
            running.progress.cancel();
            return true;
        }
        false
    }

    /// Pending, running and finished keys with their progress, for `/api/status`.
    pub fn snapshot(&self) -> QueueSnapshot {
        let table = self.table.lock();
        QueueSnapshot {
            pending: table.pending.iter().map(|p| p.job.key.clone()).collect(),
            running: table
                .running
                .iter()
                .map(|(k, r)| (k.clone(), r.progress.steps()))
                .collect(),
            finished: table
                .finished
                .iter()
                .map(|(k, s)| (k.clone(), *s))
                .collect(),
            devices: self
                .devices
                .iter()
                .zip(&self.jobs_started)
                .map(|(d, n)| DeviceStatus {
                    device: d.clone(),
                    jobs_started: n.load(std::sync::atomic::Ordering::Relaxed),
                })
                .collect(),
        }
    }

    fn next_job(&self, device: usize) -> Option<(Job, Arc<Progress>)> {
        let mut table = self.table.lock();
        loop {
            if table.shutting_down {
                return None;
            }
            if let Some(index) = table.pending.iter().position(|p| p.device == device) {
                let pending = table.pending.remove(index).expect("index from position");
                let progress = Arc::new(Progress::new());
                table.running.insert(
                    pending.job.key.clone(),
                    RunningJob {
                        device,
                        progress: Arc::clone(&progress),
                    },
                );
                return Some((pending.job, progress));
            }
            self.work_ready.wait(&mut table);
        }
    }

    fn worker_loop(&self, device: usize, runner: &dyn JobRunner) {
        let name = &self.devices[device];
        while let Some((job, progress)) = self.next_job(device) {
            self.jobs_started[device].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(job = %job.key, device = %name, "job started");
            // A panic in a pipeline fails that job only; the worker keeps serving.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runner.run(name, &job, &progress)
            }));
            let cancelled = progress.is_cancelled();
            let failed = match outcome {
                Ok(Ok(())) => false,
                Ok(Err(error)) => {
                    if cancelled {
                        tracing::info!(job = %job.key, "job cancelled");
                    } else {
                        tracing::error!(job = %job.key, "job failed: {error:#}");
                    }
                    true
                }
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("unknown panic");
                    tracing::error!(job = %job.key, "job panicked: {message}");
                    true
                }
            };
            let mut table = self.table.lock();
            table.running.remove(&job.key);
            table.finished.insert(
                job.key.clone(),
                JobStatus {
                    cancelled,
                    failed,
                    pending: false,
                    progress: progress.steps(),
                    ready: true,
                },
            );
            drop(table);
            tracing::info!(job = %job.key, failed, cancelled, steps = progress.steps(), "job finished");
        }
    }
}

/// A copy of the queue's state at one moment.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    pub pending: Vec<String>,
    pub running: Vec<(String, u32)>,
    pub finished: Vec<(String, JobStatus)>,
    pub devices: Vec<DeviceStatus>,
}
