//! Request limits: body and upload size, pixels per upload and per job, queue length overall and
//! per client (429 past them), and a timeout per request. Every limit is a flag with an
//! environment variable and a safe default.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body in bytes, uploads included (413 past it).
    #[arg(long, env = "ONNX_WEB_MAX_BODY_BYTES", default_value_t = 64 << 20)]
    pub max_body_bytes: usize,

    /// Largest uploaded image in pixels; larger ones are refused before decoding (400).
    #[arg(long, env = "ONNX_WEB_MAX_UPLOAD_PIXELS", default_value_t = 4096 * 4096)]
    pub max_upload_pixels: u64,

    /// Largest image a job may produce, in pixels, after highres and upscaling (400).
    #[arg(long, env = "ONNX_WEB_MAX_JOB_PIXELS", default_value_t = 8192 * 8192)]
    pub max_job_pixels: u64,

    /// Pending and running jobs at most, from every client together (429 past it).
    #[arg(long, env = "ONNX_WEB_MAX_QUEUE", default_value_t = 100)]
    pub max_queue: usize,

    /// Pending and running jobs at most per client address (429 past it).
    #[arg(long, env = "ONNX_WEB_MAX_QUEUE_PER_CLIENT", default_value_t = 20)]
    pub max_queue_per_client: usize,

    /// Seconds a request may take, body upload included (408 past it); 0 = no limit.
    #[arg(long, env = "ONNX_WEB_REQUEST_TIMEOUT", default_value_t = 120)]
    pub request_timeout_secs: u64,

    /// Open connections at most; past it the oldest idle one is closed, and when all are busy
    /// a new one gets a 503.
    #[arg(long, env = "ONNX_WEB_MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,

    /// Seconds a client has to send a whole request head (line and headers) from its first byte.
    #[arg(long, env = "ONNX_WEB_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a connection may stay open with no request in progress and no bytes moving.
    #[arg(long, env = "ONNX_WEB_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Largest request head (URL and headers) in bytes (431 past it).
    #[arg(long, env = "ONNX_WEB_MAX_HEADER_BYTES", default_value_t = 64 << 10)]
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 << 20,
            max_upload_pixels: 4096 * 4096,
            max_job_pixels: 8192 * 8192,
            max_queue: 100,
            max_queue_per_client: 20,
            request_timeout_secs: 120,
            max_connections: 512,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_header_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// The listener's share of the limits.
    pub fn connections(&self, drain_timeout: Duration) -> crate::listener::ConnectionSettings {
        crate::listener::ConnectionSettings {
            max_connections: self.max_connections.max(1),
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
            max_header_bytes: self.max_header_bytes.max(1024),
            drain_timeout,
        }
    }
}

/// The limits of this process, for the code that has no state at hand (image decoding).
static PROCESS_LIMITS: OnceLock<Limits> = OnceLock::new();

/// Sets the process-wide limits once (the server's configuration); later calls are ignored.
pub fn install(limits: &Limits) {
    let _ = PROCESS_LIMITS.set(limits.clone());
}

/// The process-wide limits: the installed ones, else the defaults.
pub fn current() -> Limits {
    PROCESS_LIMITS.get().cloned().unwrap_or_default()
}

/// Requests that may queue a job and have not finished yet, per client: they count against the
/// queue limits until their job is in the queue, so concurrent requests cannot overshoot.
#[derive(Default)]
pub struct InFlight {
    total: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted request; released when dropped.
struct Admission {
    gate: Arc<AppState>,
    client: Option<IpAddr>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut counts = self.gate.in_flight.total.lock();
        counts.0 -= 1;
        if let Some(client) = self.client {
            if let Some(n) = counts.1.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    counts.1.remove(&client);
                }
            }
        }
    }
}

/// POST routes under `/api` that do not queue jobs.
const NOT_JOBS: &[&str] = &["/api/restart"];

/// Admits a job request only while the queue is under its limits; 429 with a JSON error past
/// them. Replays after a restart are always admitted.
pub async fn queue_limits(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let is_job = request.method() == Method::POST
        && path.starts_with("/api/")
        && !NOT_JOBS.contains(&path)
        && request
            .extensions()
            .get::<crate::persist::Replay>()
            .is_none();
    if !is_job {
        return next.run(request).await;
    }
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let limits = &state.config.limits;
    let admission = {
        let mut counts = state.in_flight.total.lock();
        let (queued, queued_by_client) = state.queue.active_jobs(client);
        let mine = client.map_or(0, |c| counts.1.get(&c).copied().unwrap_or(0));
        if queued + counts.0 >= limits.max_queue {
            return ApiError::TooManyRequests(format!(
                "the queue is full ({} jobs); try again later",
                limits.max_queue
            ))
            .into_response();
        }
        if client.is_some() && queued_by_client + mine >= limits.max_queue_per_client {
            return ApiError::TooManyRequests(format!(
                "you have {} jobs queued, the most one client may have; try again later",
                limits.max_queue_per_client
            ))
            .into_response();
        }
        counts.0 += 1;
        if let Some(client) = client {
            *counts.1.entry(client).or_default() += 1;
        }
        Admission {
            gate: Arc::clone(&state),
            client,
        }
    };
    let response = next.run(request).await;
    drop(admission);
    response
}

/// Ends requests that take longer than the configured timeout with a 408 JSON error.
pub async fn request_timeout(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let seconds = state.config.limits.request_timeout_secs;
    if seconds == 0 {
        return next.run(request).await;
    }
    match tokio::time::timeout(Duration::from_secs(seconds), next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout(format!(
            "the request took longer than the limit of {seconds} s"
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
    }

    #[test]
    fn flag_defaults_match_the_default_limits() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.limits, Limits::default());
        let cli =
            Cli::try_parse_from(["x", "--max-queue", "3", "--request-timeout-secs", "0"]).unwrap();
        assert_eq!(cli.limits.max_queue, 3);
        assert_eq!(cli.limits.request_timeout_secs, 0);
    }
}
