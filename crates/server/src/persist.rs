//! Durable jobs: every queued job and its state live in an SQLite file beside the outputs, so a
//! crash or `kill -9` loses nothing.
//!
//! Design: what is stored is the job's original HTTP request (endpoint, raw query, content type
//! and body bytes, uploads included), plus the two things a handler chooses at random or by the
//! clock: the seeds it drew ([`random_seed`]) and the time its output names were made from. On
//! restart each unfinished request is replayed through the same router, so the same parsing
//! rebuilds the same `JobSpec` under the same key and output names. A new job kind therefore
//! needs no code here: any handler behind [`record_request`] that calls
//! [`crate::jobs::JobQueue::submit_unique`] is durable (draw seeds through [`random_seed`]).
//!
//! After a restart: pending jobs run again in their order; a job that was running is re-run
//! once, and reported `failed` (with a reason) when it was already interrupted before; finished
//! jobs keep answering `ready`.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::ApiError;
use crate::jobs::JobStatus;
use crate::state::AppState;

/// The file name of the job database inside the outputs folder (hidden: never served).
pub const JOBS_DB_NAME: &str = ".onnx-web-jobs.sqlite3";

/// A job interrupted while running this many times is failed instead of re-run (it may be what
/// kills the server, e.g. out of memory).
pub const MAX_ATTEMPTS: i64 = 2;

/// What a replayed request must reproduce.
#[derive(Debug, Clone)]
pub struct Replay {
    pub key: String,
    pub time: u64,
    pub seeds: Vec<u32>,
}

/// The request a job is being submitted from, kept for the job store.
#[derive(Debug)]
pub struct RequestRecord {
    /// `/api/...`
    pub endpoint: String,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// The peer address, for per-client limits; `None` for replays.
    pub client: Option<IpAddr>,
    pub replay: Option<Replay>,
    /// Seeds drawn so far (recording), or how many were used (replaying).
    seeds: Mutex<Vec<u32>>,
    seeds_used: Mutex<usize>,
}

impl RequestRecord {
    pub fn seeds(&self) -> Vec<u32> {
        self.seeds.lock().clone()
    }
}

tokio::task_local! {
    static CURRENT: Arc<RequestRecord>;
}

/// The request the current task is handling, when it went through [`record_request`].
pub fn current() -> Option<Arc<RequestRecord>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// A random seed: drawn by `draw` and recorded, or the recorded one when the request is replayed.
pub fn random_seed(draw: impl FnOnce() -> u32) -> u32 {
    let Some(record) = current() else {
        return draw();
    };
    if let Some(replay) = &record.replay {
        let mut used = record.seeds_used.lock();
        if let Some(&seed) = replay.seeds.get(*used) {
            *used += 1;
            return seed;
        }
    }
    let seed = draw();
    record.seeds.lock().push(seed);
    seed
}

/// Runs the rest of the stack for a job-submitting request inside a [`RequestRecord`]: the body
/// is read once (refused past `max_body` bytes) and kept for the job store.
pub async fn record_request(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let max_body = state.config.limits.max_body_bytes;
    let bytes = match read_body(body, max_body).await {
        Ok(bytes) => bytes,
        Err(()) => {
            return ApiError::PayloadTooLarge(format!(
                "the request body is larger than the limit of {max_body} bytes"
            ))
            .into_response()
        }
    };
    let replay = parts.extensions.get::<Replay>().cloned();
    let client = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let record = Arc::new(RequestRecord {
        endpoint: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: bytes.clone(),
        client,
        replay,
        seeds: Mutex::new(Vec::new()),
        seeds_used: Mutex::new(0),
    });
    let request = Request::from_parts(parts, Body::from(bytes));
    CURRENT.scope(record, next.run(request)).await
}

/// How much of a refused body is still read (and dropped) so that the client, still sending,
/// gets to read the 413 rather than a broken pipe.
const DRAIN_AFTER_LIMIT: usize = 8 << 20;

/// The body, when it is at most `max` bytes. A larger one is read on past the limit, up to
/// [`DRAIN_AFTER_LIMIT`] more bytes kept nowhere, then refused.
async fn read_body(mut body: Body, max: usize) -> Result<Bytes, ()> {
    use http_body_util::BodyExt;
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(());
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(data.len());
        if seen <= max {
            kept.extend_from_slice(&data);
        } else if seen > max.saturating_add(DRAIN_AFTER_LIMIT) {
            break;
        }
    }
    if seen > max {
        Err(())
    } else {
        Ok(Bytes::from(kept))
    }
}

/// A job row that has not finished.
#[derive(Debug, Clone)]
pub struct StoredJob {
    pub key: String,
    pub endpoint: String,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub time: u64,
    pub seeds: Vec<u32>,
    pub running: bool,
    pub attempts: i64,
}

/// A finished job row.
#[derive(Debug, Clone)]
pub struct FinishedJob {
    pub key: String,
    pub status: JobStatus,
    pub reason: Option<String>,
}

/// The SQLite job table. Every call is short; callers hold the queue lock, so rows change in the
/// same order as the in-memory table.
pub struct JobStore {
    connection: Mutex<Connection>,
}

impl JobStore {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let connection =
            Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        // WAL with synchronous=NORMAL survives a process crash (not a power cut) cheaply.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS jobs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                key TEXT NOT NULL UNIQUE,
                outputs TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                query TEXT NOT NULL,
                content_type TEXT,
                body BLOB NOT NULL,
                time INTEGER NOT NULL,
                seeds TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                cancelled INTEGER NOT NULL DEFAULT 0,
                failed INTEGER NOT NULL DEFAULT 0,
                progress INTEGER NOT NULL DEFAULT 0,
                reason TEXT
            );",
        )?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    /// Stores a newly queued job.
    pub fn insert(
        &self,
        key: &str,
        outputs: &[String],
        record: &RequestRecord,
        time: u64,
    ) -> anyhow::Result<()> {
        self.connection.lock().execute(
            "INSERT INTO jobs (key, outputs, endpoint, query, content_type, body, time, seeds, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending')",
            params![
                key,
                serde_json::to_string(outputs)?,
                record.endpoint,
                record.query,
                record.content_type,
                record.body.as_ref(),
                time as i64,
                serde_json::to_string(&record.seeds())?,
            ],
        )?;
        Ok(())
    }

    fn set_state(&self, key: &str, state: &str) -> anyhow::Result<()> {
        self.connection.lock().execute(
            "UPDATE jobs SET state = ?2, attempts = attempts + (?2 = 'running') WHERE key = ?1",
            params![key, state],
        )?;
        Ok(())
    }

    pub fn set_pending(&self, key: &str) -> anyhow::Result<()> {
        self.set_state(key, "pending")
    }

    /// Marks a running job pending again after a graceful stop interrupted it; that attempt
    /// does not count towards [`MAX_ATTEMPTS`].
    pub fn set_interrupted_by_stop(&self, key: &str) -> anyhow::Result<()> {
        self.connection.lock().execute(
            "UPDATE jobs SET state = 'pending', attempts = max(attempts - 1, 0)
             WHERE key = ?1 AND state = 'running'",
            params![key],
        )?;
        Ok(())
    }

    /// Moves the write-ahead log into the database file and empties it (on a clean stop).
    pub fn checkpoint(&self) -> anyhow::Result<()> {
        self.connection
            .lock()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// How many jobs the database holds.
    pub fn count(&self) -> anyhow::Result<u64> {
        Ok(self
            .connection
            .lock()
            .query_row("SELECT count(*) FROM jobs", [], |row| row.get::<_, i64>(0))?
            as u64)
    }

    /// Marks a job started (counting the attempt).
    pub fn set_running(&self, key: &str) -> anyhow::Result<()> {
        self.set_state(key, "running")
    }

    /// Marks a job finished and drops its request body (no longer needed).
    pub fn set_finished(
        &self,
        key: &str,
        status: &JobStatus,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        self.connection.lock().execute(
            "UPDATE jobs SET state = 'finished', cancelled = ?2, failed = ?3, progress = ?4,
                reason = ?5, body = x'' WHERE key = ?1",
            params![
                key,
                status.cancelled,
                status.failed,
                status.progress,
                reason
            ],
        )?;
        Ok(())
    }

    /// Unfinished jobs, oldest first.
    pub fn unfinished(&self) -> anyhow::Result<Vec<StoredJob>> {
        let connection = self.connection.lock();
        let mut statement = connection.prepare(
            "SELECT key, endpoint, query, content_type, body, time, seeds, state, attempts
             FROM jobs WHERE state != 'finished' ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            let seeds: String = row.get(6)?;
            let state: String = row.get(7)?;
            Ok(StoredJob {
                key: row.get(0)?,
                endpoint: row.get(1)?,
                query: row.get(2)?,
                content_type: row.get(3)?,
                body: row.get(4)?,
                time: row.get::<_, i64>(5)? as u64,
                seeds: serde_json::from_str(&seeds).unwrap_or_default(),
                running: state == "running",
                attempts: row.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Finished jobs, for `ready` after a restart.
    pub fn finished(&self) -> anyhow::Result<Vec<FinishedJob>> {
        let connection = self.connection.lock();
        let mut statement = connection.prepare(
            "SELECT key, cancelled, failed, progress, reason FROM jobs
             WHERE state = 'finished' ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(FinishedJob {
                key: row.get(0)?,
                status: JobStatus {
                    cancelled: row.get(1)?,
                    failed: row.get(2)?,
                    pending: false,
                    progress: row.get(3)?,
                    ready: true,
                },
                reason: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The stored state of one job (`pending`, `running`, `finished`) and its attempts.
    pub fn state(&self, key: &str) -> anyhow::Result<Option<(String, i64)>> {
        Ok(self
            .connection
            .lock()
            .query_row(
                "SELECT state, attempts FROM jobs WHERE key = ?1",
                params![key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }
}

/// Says loudly, once at start-up, when the job database is new or empty while the outputs
/// folder holds earlier outputs: the earlier jobs' states are gone (the database was deleted or
/// lost), so `ready` no longer knows them.
pub fn warn_if_history_lost(
    store: &JobStore,
    config: &crate::config::ServerConfig,
) -> anyhow::Result<()> {
    if store.count()? > 0 {
        return Ok(());
    }
    let earlier = std::fs::read_dir(&config.outputs)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| {
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    !name.starts_with('.') && name.ends_with(".json")
                })
                .count()
        })
        .unwrap_or(0);
    if earlier > 0 {
        tracing::error!(
            "THE JOB DATABASE {} IS MISSING OR EMPTY, but {} holds {earlier} earlier output(s): \
             their jobs are unknown from now on (ready answers 400 for them). Restore the \
             database from a backup, or ignore this if it was removed on purpose.",
            config.jobs_db_path().display(),
            config.outputs.display()
        );
    }
    Ok(())
}

/// Replays the unfinished jobs of `store` through `app` (the full router), oldest first, before
/// the server accepts requests. A job that cannot be rebuilt, or was interrupted while running
/// [`MAX_ATTEMPTS`] times, is reported failed with the reason.
pub async fn resume(app: axum::Router, queue: &crate::jobs::JobQueue) -> anyhow::Result<()> {
    use tower::ServiceExt;
    let Some(store) = queue.store() else {
        return Ok(());
    };
    let jobs = store.unfinished()?;
    if !jobs.is_empty() {
        tracing::info!("resuming {} unfinished job(s)", jobs.len());
    }
    for job in jobs {
        if job.running && job.attempts >= MAX_ATTEMPTS {
            let reason = format!(
                "the server stopped {} times while this job was running; it is not run again",
                job.attempts
            );
            queue.fail_stored(&job.key, &reason);
            continue;
        }
        let uri = if job.query.is_empty() {
            job.endpoint.clone()
        } else {
            format!("{}?{}", job.endpoint, job.query)
        };
        let mut request = Request::builder().method(Method::POST).uri(&uri);
        if let Some(value) = job
            .content_type
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            request = request.header(header::CONTENT_TYPE, value);
        }
        let request = request
            .extension(Replay {
                key: job.key.clone(),
                time: job.time,
                seeds: job.seeds.clone(),
            })
            .body(Body::from(job.body))?;
        let response = app.clone().oneshot(request).await?;
        let status = response.status();
        if status.is_success() {
            // The replay queued it again, unless the rebuilt key differed (failed there).
            tracing::info!(job = %job.key, was_running = job.running, "job resumed");
            continue;
        }
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let reason = format!(
            "the job could not be queued again after a restart ({status}): {}",
            String::from_utf8_lossy(&body)
        );
        queue.fail_stored(&job.key, &reason);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: &[u8]) -> RequestRecord {
        RequestRecord {
            endpoint: "/api/txt2img".into(),
            query: "prompt=a".into(),
            content_type: None,
            body: Bytes::copy_from_slice(body),
            client: None,
            replay: None,
            seeds: Mutex::new(vec![7, 9]),
            seeds_used: Mutex::new(0),
        }
    }

    #[test]
    fn rows_move_from_pending_to_finished_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOBS_DB_NAME);
        let store = JobStore::open(&path).unwrap();
        store
            .insert("a.png", &["a.png".into()], &record(b"xyz"), 100)
            .unwrap();
        store
            .insert("b.png", &["b.png".into()], &record(b""), 101)
            .unwrap();
        store.set_running("a.png").unwrap();
        drop(store);
        let store = JobStore::open(&path).unwrap();
        let unfinished = store.unfinished().unwrap();
        assert_eq!(unfinished.len(), 2);
        assert_eq!(unfinished[0].key, "a.png");
        assert!(unfinished[0].running && unfinished[0].attempts == 1);
        assert_eq!(unfinished[0].body, b"xyz");
        assert_eq!(unfinished[0].seeds, [7, 9]);
        assert_eq!(unfinished[0].time, 100);
        assert!(!unfinished[1].running);
        let status = JobStatus {
            cancelled: false,
            failed: true,
            pending: false,
            progress: 3,
            ready: true,
        };
        store
            .set_finished("a.png", &status, Some("out of memory"))
            .unwrap();
        let finished = store.finished().unwrap();
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].status, status);
        assert_eq!(finished[0].reason.as_deref(), Some("out of memory"));
        assert_eq!(store.unfinished().unwrap().len(), 1);
        assert_eq!(store.state("a.png").unwrap(), Some(("finished".into(), 1)));
    }

    #[tokio::test]
    async fn seeds_are_recorded_then_replayed_in_order() {
        let recording = Arc::new(record(b""));
        recording.seeds.lock().clear();
        let drawn = CURRENT
            .scope(Arc::clone(&recording), async {
                (random_seed(|| 11), random_seed(|| 12))
            })
            .await;
        assert_eq!(drawn, (11, 12));
        assert_eq!(recording.seeds(), [11, 12]);
        let mut replaying = record(b"");
        replaying.seeds.lock().clear();
        replaying.replay = Some(Replay {
            key: "k".into(),
            time: 1,
            seeds: vec![11, 12],
        });
        let replayed = CURRENT
            .scope(Arc::new(replaying), async {
                (random_seed(|| 99), random_seed(|| 98), random_seed(|| 97))
            })
            .await;
        // Past the recorded seeds, new ones are drawn.
        assert_eq!(replayed, (11, 12, 97));
        assert_eq!(
            random_seed(|| 5),
            5,
            "outside a request nothing is recorded"
        );
    }
}
