//! Prometheus metrics (`GET /metrics`, admin only): HTTP requests by route and status, the job
//! queue, job and step durations per pipeline and model, and the engine's model cache.
//!
//! Everything is recorded through the `metrics` facade into one process-wide Prometheus
//! recorder, installed by [`handle`] on first use (the router does it). The engine records its
//! cache counters through the same facade without knowing about the server.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use onnx_web_pipelines::Progress;

use crate::jobs::{Job, JobCounts, JobSpec};

/// Counter: HTTP requests by `method`, `route` (the route template) and `status`.
pub const HTTP_REQUESTS: &str = "onnx_web_http_requests_total";
/// Histogram: HTTP request durations by `method` and `route`.
pub const HTTP_DURATION: &str = "onnx_web_http_request_duration_seconds";
/// Gauge: jobs waiting for a worker.
pub const QUEUE_LENGTH: &str = "onnx_web_queue_length";
/// Gauge: jobs the queue knows by `state` (`pending`, `running`, `succeeded`, `failed`,
/// `cancelled`).
pub const JOBS: &str = "onnx_web_jobs";
/// Counter: finished jobs by `pipeline`, `model` and `outcome` (`succeeded`, `failed`,
/// `cancelled`).
pub const JOBS_FINISHED: &str = "onnx_web_jobs_finished_total";
/// Histogram: durations of jobs that ran, from start to ready, by `pipeline` and `model`.
pub const JOB_DURATION: &str = "onnx_web_job_duration_seconds";
/// Histogram: durations of diffusion steps (model calls), by `pipeline` and `model`.
pub const STEP_DURATION: &str = "onnx_web_step_duration_seconds";
/// Counters of the engine's model cache, by `platform`.
pub const CACHE_HITS: &str = onnx_web_engine::METRIC_CACHE_HITS;
pub const CACHE_LOADS: &str = onnx_web_engine::METRIC_CACHE_LOADS;
/// Gauges of the engine's model cache.
pub const CACHE_MODELS: &str = onnx_web_engine::METRIC_CACHE_MODELS;
pub const CACHE_BYTES: &str = onnx_web_engine::METRIC_CACHE_BYTES;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const HTTP_BUCKETS: &[f64] = &[0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10.0, 60.0];
const JOB_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];
const STEP_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The Prometheus recorder's handle, installing the recorder on first use. When another
/// recorder is already installed, the handle renders an empty registry (and says so once).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = || -> PrometheusBuilder {
            let buckets = [
                (HTTP_DURATION, HTTP_BUCKETS),
                (JOB_DURATION, JOB_BUCKETS),
                (STEP_DURATION, STEP_BUCKETS),
            ];
            buckets
                .into_iter()
                .fold(PrometheusBuilder::new(), |builder, (name, buckets)| {
                    builder
                        .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
                        .expect("bucket lists are not empty")
                })
        };
        match builder().install_recorder() {
            Ok(handle) => {
                describe();
                handle
            }
            Err(error) => {
                tracing::warn!("metrics: cannot install the Prometheus recorder: {error}");
                builder().build_recorder().handle()
            }
        }
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "HTTP request durations");
    describe_gauge!(QUEUE_LENGTH, "Jobs waiting for a worker");
    describe_gauge!(JOBS, "Jobs the queue knows, by state");
    describe_counter!(
        JOBS_FINISHED,
        "Finished jobs by pipeline, model and outcome"
    );
    describe_histogram!(
        JOB_DURATION,
        Unit::Seconds,
        "Job durations from start to ready"
    );
    describe_histogram!(
        STEP_DURATION,
        Unit::Seconds,
        "Diffusion step (model call) durations"
    );
    describe_counter!(CACHE_HITS, "Models served from the model cache");
    describe_counter!(CACHE_LOADS, "Models loaded into ONNX Runtime");
    describe_gauge!(CACHE_MODELS, "Models in the model cache");
    describe_gauge!(CACHE_BYTES, "Bytes of model files in the model cache");
}

/// The metrics in the Prometheus text format, with the queue gauges brought up to date.
pub fn render(counts: JobCounts) -> String {
    let handle = handle();
    metrics::gauge!(QUEUE_LENGTH).set(counts.pending as f64);
    for (state, count) in [
        ("pending", counts.pending),
        ("running", counts.running),
        ("succeeded", counts.succeeded),
        ("failed", counts.failed),
        ("cancelled", counts.cancelled),
    ] {
        metrics::gauge!(JOBS, "state" => state).set(count as f64);
    }
    handle.render()
}

/// Records every request by route template (bounded, unlike raw paths) and status. Requests
/// that match no route count as route `unmatched`.
pub async fn record_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(HTTP_DURATION, "method" => method.clone(), "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// A job's `pipeline` (the endpoint that queued it) and `model` (the model folder's name; `none`
/// for chains, whose stages may use several) labels.
pub fn job_labels(job: &Job) -> (&'static str, String) {
    let model = |dir: &std::path::Path| {
        dir.file_name()
            .map_or_else(|| "none".to_owned(), |n| n.to_string_lossy().into_owned())
    };
    match &job.spec {
        JobSpec::Txt2Img(j) => ("txt2img", model(&j.params.model_dir)),
        JobSpec::Img2Img(j) => ("img2img", model(&j.params.model_dir)),
        JobSpec::Inpaint(j) => ("inpaint", model(&j.params.model_dir)),
        JobSpec::Upscale(j) => ("upscale", model(&j.params.model_dir)),
        JobSpec::Blend(j) => ("blend", model(&j.params.model_dir)),
        JobSpec::Txt2Txt(j) => ("txt2txt", model(&j.params.model_dir)),
        JobSpec::Chain(_) => ("chain", "none".to_owned()),
    }
}

/// What the queue records about a running job.
#[derive(Debug, Clone)]
pub struct JobTimer {
    pipeline: &'static str,
    model: String,
    started: Instant,
}

impl JobTimer {
    pub fn start(job: &Job) -> Self {
        let (pipeline, model) = job_labels(job);
        Self {
            pipeline,
            model,
            started: Instant::now(),
        }
    }

    /// A progress whose steps go to the step histogram of this job's pipeline and model.
    pub fn progress(&self) -> Arc<Progress> {
        let histogram = metrics::histogram!(
            STEP_DURATION,
            "pipeline" => self.pipeline,
            "model" => self.model.clone()
        );
        Arc::new(Progress::with_step_observer(Box::new(
            move |step: Duration| histogram.record(step.as_secs_f64()),
        )))
    }

    /// Records the finished job: its duration and outcome.
    pub fn finish(&self, failed: bool, cancelled: bool) {
        metrics::histogram!(
            JOB_DURATION,
            "pipeline" => self.pipeline,
            "model" => self.model.clone()
        )
        .record(self.started.elapsed().as_secs_f64());
        finished(self.pipeline, &self.model, outcome(failed, cancelled));
    }
}

/// Counts a job cancelled before it started.
pub fn cancelled_pending(job: &Job) {
    let (pipeline, model) = job_labels(job);
    finished(pipeline, &model, "cancelled");
}

fn outcome(failed: bool, cancelled: bool) -> &'static str {
    match (failed, cancelled) {
        (_, true) => "cancelled",
        (true, false) => "failed",
        (false, false) => "succeeded",
    }
}

fn finished(pipeline: &'static str, model: &str, outcome: &'static str) {
    metrics::counter!(
        JOBS_FINISHED,
        "pipeline" => pipeline,
        "model" => model.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}
