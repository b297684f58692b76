//! The job table and the per-device workers.
//!
//! HTTP handlers validate a request, name its outputs and [`JobQueue::submit`] a [`Job`]; they
//! never run inference. One worker thread per device takes that device's pending jobs in FIFO
//! order and hands each to the [`JobRunner`]. `ready` and `cancel` read and change the table.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;

use image::{GrayImage, RgbImage};
use onnx_web_pipelines::inpaint::InpaintOptions;
use onnx_web_pipelines::{
    HighresOptions, ImageParams, Progress, Size, TileOptions, UpscaleOptions,
};
use parking_lot::{Condvar, Mutex};

use crate::persist::JobStore;

/// What a job does, with everything it needs already validated.
#[derive(Debug, Clone)]
pub enum JobSpec {
    Txt2Img(Txt2ImgJob),
    Img2Img(Img2ImgJob),
    Inpaint(InpaintJob),
    Upscale(UpscaleJob),
    Blend(BlendJob),
    Txt2Txt(crate::pipeline_routes::Txt2TxtJob),
    Chain(ChainJob),
}

/// A chain pipeline (`POST /api/chain`); its `persist-*` stages write the outputs.
#[derive(Debug, Clone)]
pub struct ChainJob {
    pub plan: onnx_web_chain::ChainPlan,
    /// Whether `source-url` and S3 `endpoint_url` may reach private addresses.
    pub allow_private_urls: bool,
    /// Non-public addresses they may reach anyway (`--allow-url-address`).
    pub allow_url_addresses: Vec<onnx_web_chain::AllowEntry>,
    pub metadata: OutputMetadata,
}

/// Tiling, upscaling/correction and highres options of a job.
#[derive(Debug, Clone)]
pub struct StageOptions {
    pub tiles: TileOptions,
    pub upscale: UpscaleOptions,
    pub highres: HighresOptions,
}

impl Default for StageOptions {
    fn default() -> Self {
        Self {
            tiles: TileOptions::default(),
            upscale: UpscaleOptions::none(),
            highres: HighresOptions::disabled(),
        }
    }
}

/// An uploaded image, shared and printed by size only.
#[derive(Clone)]
pub struct SharedImage(pub Arc<RgbImage>);

impl std::fmt::Debug for SharedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.0.width(), self.0.height())
    }
}

/// An uploaded mask, shared and printed by size only.
#[derive(Clone)]
pub struct SharedMask(pub Arc<GrayImage>);

impl std::fmt::Debug for SharedMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrayImage({}x{})", self.0.width(), self.0.height())
    }
}

#[derive(Debug, Clone)]
pub struct Txt2ImgJob {
    pub params: ImageParams,
    pub size: Size,
    pub stages: StageOptions,
    pub metadata: OutputMetadata,
}

#[derive(Debug, Clone)]
pub struct Img2ImgJob {
    pub params: ImageParams,
    pub stages: StageOptions,
    pub source: SharedImage,
    /// A source filter name (§3.3): applied first; unless `none`, the filtered source is
    /// also saved as the last output.
    pub source_filter: String,
    /// The filter's ONNX model (`models/filter/...`), for the model-based filters.
    pub source_filter_model: Option<std::path::PathBuf>,
    /// The `control` network's ONNX file (`models/control/<name>.onnx`), for `controlnet`.
    pub control_model: Option<std::path::PathBuf>,
    pub strength: f32,
    pub loopback: u32,
    pub metadata: OutputMetadata,
}

#[derive(Debug, Clone)]
pub struct InpaintJob {
    pub params: ImageParams,
    pub stages: StageOptions,
    pub source: SharedImage,
    pub mask: SharedMask,
    pub options: InpaintOptions,
    pub metadata: OutputMetadata,
}

#[derive(Debug, Clone)]
pub struct UpscaleJob {
    pub params: ImageParams,
    pub stages: StageOptions,
    pub source: SharedImage,
    pub metadata: OutputMetadata,
}

#[derive(Debug, Clone)]
pub struct BlendJob {
    pub params: ImageParams,
    pub stages: StageOptions,
    pub sources: [SharedImage; 2],
    pub mask: SharedMask,
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

/// The last part of a job, run off the worker thread (encoding and writing its files), so the
/// worker can start the next job meanwhile. The job is reported `ready` only once it has run.
pub type Deferred = Box<dyn FnOnce() -> anyhow::Result<()> + Send>;

/// Queued deferred parts at most (each holds a job's images): a full queue makes the worker wait.
const DEFERRED_QUEUE: usize = 2;

/// Runs one job on a device; errors are logged by the queue and reported as `failed`.
pub trait JobRunner: Send + Sync + 'static {
    fn run(&self, device: &str, job: &Job, progress: &Progress) -> anyhow::Result<()>;

    /// Like [`JobRunner::run`], but may hand back the job's last part (writing its outputs) for
    /// the queue's output thread. By default everything runs in `run`.
    fn run_deferred(
        &self,
        device: &str,
        job: &Job,
        progress: &Progress,
    ) -> anyhow::Result<Option<Deferred>> {
        self.run(device, job, progress).map(|()| None)
    }
}

/// A job whose deferred part waits for the output thread.
struct DeferredJob {
    key: String,
    progress: Arc<Progress>,
    cancelled: bool,
    work: Deferred,
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
    /// Its pipeline, model and start, for the metrics.
    timer: crate::metrics::JobTimer,
}

#[derive(Default)]
struct Table {
    pending: VecDeque<PendingJob>,
    running: HashMap<String, RunningJob>,
    finished: HashMap<String, JobStatus>,
    /// Why failed jobs failed (errors, panics, restarts).
    reasons: HashMap<String, String>,
    /// The client that submitted each pending or running job, for the per-client limit.
    clients: HashMap<String, std::net::IpAddr>,
    shutting_down: bool,
    /// Running jobs interrupted by a stop: stored as pending again instead of finished.
    interrupted_by_stop: std::collections::HashSet<String>,
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
    /// The durable copy of the table (see `persist`), when attached.
    store: std::sync::OnceLock<Arc<JobStore>>,
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
            store: std::sync::OnceLock::new(),
        })
    }

    /// Makes the queue durable: loads the finished jobs of `store` (so `ready` answers for them)
    /// and writes every change from now on. Unfinished jobs are queued again by
    /// [`crate::persist::resume`].
    pub fn attach_store(&self, store: Arc<JobStore>) -> anyhow::Result<()> {
        let finished = store.finished()?;
        let mut table = self.table.lock();
        for job in finished {
            if let Some(reason) = job.reason {
                table.reasons.insert(job.key.clone(), reason);
            }
            table.finished.insert(job.key, job.status);
        }
        drop(table);
        self.store
            .set(store)
            .map_err(|_| anyhow::anyhow!("the job queue already has a store"))
    }

    pub fn store(&self) -> Option<&Arc<JobStore>> {
        self.store.get()
    }

    /// Reports a stored job that will not run again as failed, with the reason.
    pub fn fail_stored(&self, key: &str, reason: &str) {
        tracing::error!(job = %key, "job failed: {reason}");
        let status = JobStatus {
            cancelled: false,
            failed: true,
            pending: false,
            progress: 0,
            ready: true,
        };
        let mut table = self.table.lock();
        table.finished.insert(key.to_owned(), status);
        table.reasons.insert(key.to_owned(), reason.to_owned());
        self.persist(|store| store.set_finished(key, &status, Some(reason)));
    }

    /// Why a job failed, when known.
    pub fn failure_reason(&self, key: &str) -> Option<String> {
        self.table.lock().reasons.get(key).cloned()
    }

    /// Pending and running jobs: all of them, and those `client` submitted.
    pub fn active_jobs(&self, client: Option<std::net::IpAddr>) -> (usize, usize) {
        let table = self.table.lock();
        let total = table.pending.len() + table.running.len();
        let mine = client.map_or(0, |client| {
            table.clients.values().filter(|c| **c == client).count()
        });
        (total, mine)
    }

    /// Writes a change to the store; a failing store is logged, the queue goes on in memory.
    fn persist(&self, change: impl FnOnce(&JobStore) -> anyhow::Result<()>) {
        if let Some(store) = self.store.get() {
            if let Err(error) = change(store) {
                tracing::error!("job store: {error:#}");
            }
        }
    }

    pub fn devices(&self) -> &[String] {
        &self.devices
    }

    /// Starts one worker thread per device, and one output thread that finishes the jobs'
    /// deferred parts (see [`JobRunner::run_deferred`]). Each runs until [`JobQueue::shutdown`];
    /// the output thread ends after the workers, once it has finished what they handed it.
    pub fn start_workers(self: &Arc<Self>, runner: Arc<dyn JobRunner>) -> Vec<JoinHandle<()>> {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<DeferredJob>(DEFERRED_QUEUE);
        let mut threads: Vec<JoinHandle<()>> = (0..self.devices.len())
            .map(|device| {
                let queue = Arc::clone(self);
                let runner = Arc::clone(&runner);
                let sender = sender.clone();
                std::thread::Builder::new()
                    .name(format!("worker-{}", self.devices[device]))
                    .spawn(move || queue.worker_loop(device, runner.as_ref(), &sender))
                    .expect("spawning a worker thread")
            })
            .collect();
        drop(sender);
        let queue = Arc::clone(self);
        threads.push(
            std::thread::Builder::new()
                .name("outputs".into())
                .spawn(move || {
                    for deferred in receiver {
                        queue.finish_deferred(deferred);
                    }
                })
                .expect("spawning the output thread"),
        );
        threads
    }

    fn finish_deferred(&self, deferred: DeferredJob) {
        let DeferredJob {
            key,
            progress,
            cancelled,
            work,
        } = deferred;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let reason = Self::failed(&key, cancelled, outcome);
        self.finish(&key, &progress, cancelled, reason);
    }

    /// Logs a job's error or panic; the reason when it failed.
    fn failed(
        key: &str,
        cancelled: bool,
        outcome: std::thread::Result<anyhow::Result<()>>,
    ) -> Option<String> {
        match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => {
                if cancelled {
                    tracing::info!(job = %key, "job cancelled");
                } else {
                    tracing::error!(job = %key, "job failed: {error:#}");
                }
                Some(format!("{error:#}"))
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                tracing::error!(job = %key, "job panicked: {message}");
                Some(format!("the pipeline panicked: {message}"))
            }
        }
    }

    /// Moves a job from running to finished: `ready` from now on.
    fn finish(&self, key: &str, progress: &Progress, cancelled: bool, reason: Option<String>) {
        let failed = reason.is_some();
        let status = JobStatus {
            cancelled,
            failed,
            pending: false,
            progress: progress.steps(),
            ready: true,
        };
        let mut table = self.table.lock();
        if let Some(running) = table.running.remove(key) {
            running.timer.finish(failed, cancelled);
        }
        table.clients.remove(key);
        table.finished.insert(key.to_owned(), status);
        self.persist(|store| store.set_finished(key, &status, reason.as_deref()));
        if let Some(reason) = reason {
            table.reasons.insert(key.to_owned(), reason);
        }
        drop(table);
        self.work_ready.notify_all();
        tracing::info!(job = %key, failed, cancelled, steps = progress.steps(), "job finished");
    }

    /// Stops the workers after their current job.
    pub fn shutdown(&self) {
        self.table.lock().shutting_down = true;
        self.work_ready.notify_all();
    }

    /// A graceful stop: no job starts any more; running jobs get `grace` to finish, then stop
    /// at their next step and are stored as pending again (not counted as an interrupted
    /// attempt), so the next start runs them. Join the workers afterwards.
    pub fn stop(&self, grace: std::time::Duration) {
        self.shutdown();
        let until = std::time::Instant::now() + grace;
        let mut table = self.table.lock();
        while !table.running.is_empty() {
            if self.work_ready.wait_until(&mut table, until).timed_out() {
                break;
            }
        }
        let running: Vec<(String, Arc<Progress>)> = table
            .running
            .iter()
            .map(|(key, job)| (key.clone(), Arc::clone(&job.progress)))
            .collect();
        for (key, progress) in running {
            tracing::warn!(job = %key, "stopping: the job is interrupted and kept for the next start");
            table.interrupted_by_stop.insert(key);
            progress.cancel();
        }
    }

    /// Puts a job interrupted by [`JobQueue::stop`] back as pending in the store.
    fn keep_for_next_start(&self, key: &str) {
        let mut table = self.table.lock();
        table.running.remove(key);
        table.clients.remove(key);
        self.persist(|store| store.set_interrupted_by_stop(key));
        drop(table);
        self.work_ready.notify_all();
    }

    /// Queues the job that `build` makes for the first `time` from `start` whose key is new: not
    /// pending, running or finished here, and not `taken` (e.g. an existing output file). Two
    /// identical requests within one second would otherwise share a key. Returns what `build`
    /// returned beside the job (the response body).
    ///
    /// A new job is acknowledged only once the store holds it: when it cannot be written (a full
    /// disk), nothing is queued and the error says why.
    pub fn submit_unique<R>(
        &self,
        start: u64,
        mut build: impl FnMut(u64) -> (Job, R),
        taken: impl Fn(&str) -> bool,
    ) -> Result<R, NotRecorded> {
        let record = crate::persist::current();
        let replay = record.as_ref().and_then(|r| r.replay.clone());
        let mut table = self.table.lock();
        if let Some(replay) = replay {
            // A job queued again after a restart: its key and names come from its stored time
            // (and seeds); its partial outputs, if any, are overwritten.
            let (job, extra) = build(replay.time);
            if job.key != replay.key {
                drop(table);
                self.fail_stored(
                    &replay.key,
                    &format!(
                        "after a restart the request no longer makes the same job ({} instead)",
                        job.key
                    ),
                );
                return Ok(extra);
            }
            self.persist(|store| store.set_pending(&job.key));
            let device = self.pick_device(&table, job.platform.as_deref());
            table.pending.push_back(PendingJob { device, job });
            drop(table);
            self.work_ready.notify_all();
            return Ok(extra);
        }
        let mut time = start;
        let (job, extra) = loop {
            let (job, extra) = build(time);
            let known = table.pending.iter().any(|p| p.job.key == job.key)
                || table.running.contains_key(&job.key)
                || table.finished.contains_key(&job.key);
            if !known && !taken(&job.key) {
                break (job, extra);
            }
            time += 1;
        };
        if let Some(record) = &record {
            if let Some(store) = self.store.get() {
                if let Err(error) = store.insert(&job.key, &job.outputs, record, time) {
                    tracing::error!(job = %job.key, "job store: {error:#}; the job is refused");
                    return Err(NotRecorded(format!("{error:#}")));
                }
            }
            if let Some(client) = record.client {
                table.clients.insert(job.key.clone(), client);
            }
        }
        let device = self.pick_device(&table, job.platform.as_deref());
        table.pending.push_back(PendingJob { device, job });
        drop(table);
        self.work_ready.notify_all();
        Ok(extra)
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
            if let Some(pending) = table.pending.remove(index) {
                crate::metrics::cancelled_pending(&pending.job);
            }
            table.clients.remove(key);
            let status = JobStatus {
                cancelled: true,
                failed: true,
                pending: false,
                progress: 0,
                ready: true,
            };
            table.finished.insert(key.to_owned(), status);
            self.persist(|store| store.set_finished(key, &status, Some("cancelled")));
            return true;
        }
        if let Some(running) = table.running.get(key) {
            running.progress.cancel();
            return true;
        }
        false
    }

    /// How many jobs are in each state, for the metrics.
    pub fn counts(&self) -> JobCounts {
        let table = self.table.lock();
        let mut counts = JobCounts {
            pending: table.pending.len(),
            running: table.running.len(),
            ..JobCounts::default()
        };
        for status in table.finished.values() {
            if status.cancelled {
                counts.cancelled += 1;
            } else if status.failed {
                counts.failed += 1;
            } else {
                counts.succeeded += 1;
            }
        }
        counts
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
                let timer = crate::metrics::JobTimer::start(&pending.job);
                let progress = timer.progress();
                self.persist(|store| store.set_running(&pending.job.key));
                table.running.insert(
                    pending.job.key.clone(),
                    RunningJob {
                        device,
                        progress: Arc::clone(&progress),
                        timer,
                    },
                );
                return Some((pending.job, progress));
            }
            self.work_ready.wait(&mut table);
        }
    }

    fn worker_loop(
        &self,
        device: usize,
        runner: &dyn JobRunner,
        deferred: &std::sync::mpsc::SyncSender<DeferredJob>,
    ) {
        let name = &self.devices[device];
        while let Some((job, progress)) = self.next_job(device) {
            self.jobs_started[device].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(job = %job.key, device = %name, "job started");
            // A panic in a pipeline fails that job only; the worker keeps serving.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runner.run_deferred(name, &job, &progress)
            }));
            let cancelled = progress.is_cancelled();
            // Stopped before it was done: kept for the next start (a finished run goes on).
            let unfinished = !matches!(outcome, Ok(Ok(_)));
            if cancelled && unfinished && self.table.lock().interrupted_by_stop.contains(&job.key) {
                self.keep_for_next_start(&job.key);
                continue;
            }
            let outcome = match outcome {
                Ok(Ok(Some(work))) => {
                    let job = DeferredJob {
                        key: job.key.clone(),
                        progress: Arc::clone(&progress),
                        cancelled,
                        work,
                    };
                    // Blocks while the output thread is DEFERRED_QUEUE jobs behind.
                    match deferred.send(job) {
                        Ok(()) => continue,
                        // The output thread is gone (it panicked): finish here.
                        Err(std::sync::mpsc::SendError(job)) => {
                            self.finish_deferred(job);
                            continue;
                        }
                    }
                }
                Ok(Ok(None)) => Ok(Ok(())),
                Ok(Err(error)) => Ok(Err(error)),
                Err(panic) => Err(panic),
            };
            let reason = Self::failed(&job.key, cancelled, outcome);
            self.finish(&job.key, &progress, cancelled, reason);
        }
    }
}

/// A new job that the job store could not record (e.g. the disk is full); it was not queued.
#[derive(Debug, thiserror::Error)]
#[error("the job could not be recorded, so it was not queued: {0}")]
pub struct NotRecorded(pub String);

/// Jobs by state; finished ones by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub pending: usize,
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub cancelled: usize,
}

/// A copy of the queue's state at one moment.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    pub pending: Vec<String>,
    pub running: Vec<(String, u32)>,
    pub finished: Vec<(String, JobStatus)>,
    pub devices: Vec<DeviceStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use onnx_web_pipelines::ImageParams;
    use std::sync::mpsc;

    fn job(key: &str, platform: Option<&str>) -> Job {
        Job {
            key: key.to_owned(),
            outputs: vec![key.to_owned()],
            platform: platform.map(str::to_owned),
            spec: JobSpec::Txt2Img(Txt2ImgJob {
                params: ImageParams {
                    model_dir: "m".into(),
                    pipeline: "txt2img".into(),
                    scheduler: "euler".into(),
                    prompt: String::new(),
                    negative_prompt: None,
                    cfg: 1.0,
                    seed: 0,
                    steps: 1,
                    eta: 0.0,
                    batch: 1,
                },
                size: Size {
                    width: 64,
                    height: 64,
                },
                stages: StageOptions::default(),
                metadata: OutputMetadata {
                    response: serde_json::Value::Null,
                    parameters: String::new(),
                },
            }),
        }
    }

    fn submit(queue: &JobQueue, key: &str, platform: Option<&str>) -> String {
        queue
            .submit_unique(
                0,
                |time| {
                    let key = if time == 0 {
                        key.to_owned()
                    } else {
                        format!("{key}-{time}")
                    };
                    (job(&key, platform), key)
                },
                |_| false,
            )
            .unwrap()
    }

    /// Runs jobs when told to, reporting which device ran which key; the queue is what is tested.
    struct GatedRunner {
        go: Mutex<mpsc::Receiver<Result<(), String>>>,
        ran: Mutex<Vec<(String, String)>>,
    }

    impl JobRunner for GatedRunner {
        fn run(&self, device: &str, job: &Job, progress: &Progress) -> anyhow::Result<()> {
            progress.step_done().map_err(anyhow::Error::from)?;
            let outcome = self.go.lock().recv().unwrap_or(Ok(()));
            self.ran.lock().push((device.to_owned(), job.key.clone()));
            progress.check()?;
            match outcome {
                Ok(()) => Ok(()),
                Err(message) if message == "panic" => panic!("pipeline bug"),
                Err(message) => Err(anyhow::anyhow!(message)),
            }
        }
    }

    fn wait_until(queue: &JobQueue, key: &str, done: impl Fn(&JobStatus) -> bool) -> JobStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = queue.status(key).filter(|s| done(s)) {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{key}: {:?}",
                queue.status(key)
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    #[test]
    fn keys_are_unique_while_a_job_is_known() {
        let queue = JobQueue::new(vec!["cpu".into()]);
        assert_eq!(submit(&queue, "a", None), "a");
        assert_eq!(submit(&queue, "a", None), "a-1");
        assert_eq!(submit(&queue, "a", None), "a-2");
        // A taken file also moves the key on.
        let key = queue
            .submit_unique(
                5,
                |t| (job(&format!("b{t}"), None), format!("b{t}")),
                |k| k == "b5",
            )
            .unwrap();
        assert_eq!(key, "b6");
    }

    #[test]
    fn jobs_run_in_order_failures_and_panics_fail_only_their_job() {
        let queue = JobQueue::new(vec!["cpu".into()]);
        let (go, gate) = mpsc::channel();
        let runner = Arc::new(GatedRunner {
            go: Mutex::new(gate),
            ran: Mutex::new(Vec::new()),
        });
        let workers = queue.start_workers(runner.clone());
        for key in ["ok", "error", "panic", "after"] {
            submit(&queue, key, None);
        }
        assert!(queue.status("after").unwrap().pending);
        go.send(Ok(())).unwrap();
        go.send(Err("model exploded".into())).unwrap();
        go.send(Err("panic".into())).unwrap();
        go.send(Ok(())).unwrap();
        let finished = |s: &JobStatus| s.ready;
        assert!(!wait_until(&queue, "ok", finished).failed);
        assert!(wait_until(&queue, "error", finished).failed);
        assert!(wait_until(&queue, "panic", finished).failed);
        let after = wait_until(&queue, "after", finished);
        assert!(!after.failed && !after.cancelled && after.progress == 1);
        let order: Vec<String> = runner.ran.lock().iter().map(|(_, k)| k.clone()).collect();
        assert_eq!(order, ["ok", "error", "panic", "after"].map(String::from));
        queue.shutdown();
        for worker in workers {
            worker.join().unwrap();
        }
    }

    #[test]
    fn cancel_pending_running_finished_and_unknown() {
        let queue = JobQueue::new(vec!["cpu".into()]);
        let (go, gate) = mpsc::channel();
        let runner = Arc::new(GatedRunner {
            go: Mutex::new(gate),
            ran: Mutex::new(Vec::new()),
        });
        let workers = queue.start_workers(runner);
        submit(&queue, "running", None);
        submit(&queue, "pending", None);
        wait_until(&queue, "running", |s| s.progress == 1);
        assert!(queue.cancel("pending"));
        let pending = queue.status("pending").unwrap();
        assert!(pending.ready && pending.cancelled && pending.progress == 0);
        assert!(queue.cancel("running"));
        go.send(Ok(())).unwrap();
        let running = wait_until(&queue, "running", |s| s.ready);
        assert!(running.cancelled && running.failed);
        assert!(
            !queue.cancel("running"),
            "a finished job cannot be cancelled"
        );
        assert!(!queue.cancel("never-submitted"));
        assert!(queue.status("never-submitted").is_none());
        queue.shutdown();
        for worker in workers {
            worker.join().unwrap();
        }
    }

    /// Computes at once; the deferred part (writing outputs) waits for `write`.
    struct DeferredRunner {
        started: Mutex<Vec<String>>,
        write: Arc<Mutex<mpsc::Receiver<Result<(), String>>>>,
    }

    impl JobRunner for DeferredRunner {
        fn run(&self, _: &str, _: &Job, _: &Progress) -> anyhow::Result<()> {
            unreachable!("the queue calls run_deferred")
        }

        fn run_deferred(
            &self,
            _: &str,
            job: &Job,
            progress: &Progress,
        ) -> anyhow::Result<Option<Deferred>> {
            progress.step_done().map_err(anyhow::Error::from)?;
            self.started.lock().push(job.key.clone());
            let write = Arc::clone(&self.write);
            Ok(Some(Box::new(move || {
                let outcome = write.lock().recv().unwrap_or(Ok(()));
                outcome.map_err(|message| anyhow::anyhow!(message))
            })))
        }
    }

    #[test]
    fn the_next_job_starts_while_outputs_are_written_and_ready_waits_for_them() {
        let queue = JobQueue::new(vec!["cpu".into()]);
        let (write, gate) = mpsc::channel();
        let runner = Arc::new(DeferredRunner {
            started: Mutex::new(Vec::new()),
            write: Arc::new(Mutex::new(gate)),
        });
        let workers = queue.start_workers(runner.clone());
        submit(&queue, "first", None);
        submit(&queue, "second", None);
        // The worker computes the second job while the first one's outputs are still written.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while runner.started.lock().len() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the second job never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let first = queue.status("first").unwrap();
        assert!(
            !first.ready && !first.pending && first.progress == 1,
            "{first:?}"
        );
        assert!(!queue.status("second").unwrap().ready);
        write.send(Ok(())).unwrap();
        let first = wait_until(&queue, "first", |s| s.ready);
        assert!(!first.failed);
        assert!(!queue.status("second").unwrap().ready);
        write.send(Err("disk full".into())).unwrap();
        assert!(wait_until(&queue, "second", |s| s.ready).failed);
        queue.shutdown();
        for worker in workers {
            worker.join().unwrap();
        }
    }

    #[test]
    fn platforms_pick_their_device_and_others_go_to_the_least_busy() {
        let queue = JobQueue::new(vec!["cuda".into(), "cpu".into()]);
        submit(&queue, "first", Some("cpu"));
        submit(&queue, "second", Some("cpu"));
        submit(&queue, "any", None);
        let devices: Vec<usize> = queue
            .table
            .lock()
            .pending
            .iter()
            .map(|p| p.device)
            .collect();
        assert_eq!(devices, [1, 1, 0]);
    }
}
