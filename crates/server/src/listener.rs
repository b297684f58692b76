//! The listening socket, below the router: how many connections are served at once, how long a
//! connection may take to send its request head or sit idle, what hyper's own protocol errors
//! look like, and a graceful stop.
//!
//! axum's `serve` has no connection limit and no header or idle timeout, so a client sending one
//! header byte a second, or a few thousand idle connections, could use up the file descriptors.
//! Here:
//! - past `--max-connections`, the oldest connection with no request in progress is closed to make
//!   room (idle keep-alive and slow-header connections go first); when every connection is busy,
//!   the newcomer gets a 503 JSON answer, so the server keeps serving the others;
//! - a request head must arrive within `--header-timeout-secs` of its first byte, and a connection
//!   with no request in progress and no bytes moving is closed after `--idle-timeout-secs`;
//! - hyper answers malformed request heads (431, 414, 400) itself with an empty body; [`GuardedIo`]
//!   puts our `{"error": ...}` body into those answers, and drains what the client is still
//!   sending, so the client reads the answer rather than a reset connection.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The address of this server that a connection reached (a request extension).
#[derive(Clone, Copy, Debug)]
pub struct LocalAddr(pub SocketAddr);

/// How connections are limited (from [`crate::limits::Limits`]).
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// The largest request head (request line and headers) in bytes; 431 past it.
    pub max_header_bytes: usize,
    /// How long a graceful stop waits for open requests before closing their connections.
    pub drain_timeout: Duration,
}

/// What the listener and one connection share.
struct ConnectionState {
    id: u64,
    /// Requests whose handler is running.
    in_flight: AtomicUsize,
    /// Requests started on this connection so far.
    started: AtomicU64,
    /// Told to close (evicted to make room for a newer connection).
    evict: Notify,
    /// The connection's task, waiting for a request to end to arm its idle timer again.
    waiting: Mutex<Option<std::task::Waker>>,
}

#[derive(Default)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<ConnectionState>>>,
    next_id: AtomicU64,
    all_closed: Notify,
}

impl Registry {
    /// Registers a new connection when there is room, or makes room by evicting the oldest
    /// connection with no request in progress. `None` when every connection is busy.
    fn admit(&self, max: usize) -> Option<Arc<ConnectionState>> {
        let mut open = self.open.lock();
        if open.len() >= max {
            let oldest_idle = open
                .values()
                .filter(|c| c.in_flight.load(Ordering::Acquire) == 0)
                .min_by_key(|c| c.id)
                .map(Arc::clone)?;
            // Gone from the count now: its task closes it at once.
            open.remove(&oldest_idle.id);
            oldest_idle.evict.notify_one();
        }
        let state = Arc::new(ConnectionState {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            evict: Notify::new(),
            waiting: Mutex::new(None),
        });
        open.insert(state.id, Arc::clone(&state));
        Some(state)
    }

    fn close(&self, id: u64) {
        let mut open = self.open.lock();
        open.remove(&id);
        if open.is_empty() {
            self.all_closed.notify_waiters();
        }
    }

    fn len(&self) -> usize {
        self.open.lock().len()
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets open
/// requests finish (up to `drain_timeout`) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let settings = Arc::new(settings);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!("accepting a connection failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Some(state) = registry.admit(settings.max_connections) else {
            tokio::spawn(refuse_busy(stream));
            continue;
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            app.clone(),
            Arc::clone(&settings),
            state,
            Arc::clone(&registry),
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = async {
        loop {
            let closed = registry.all_closed.notified();
            if registry.len() == 0 {
                break;
            }
            closed.await;
        }
    };
    if tokio::time::timeout(settings.drain_timeout, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            "{} connection(s) still open after {:?}; closing them",
            registry.len(),
            settings.drain_timeout
        );
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    settings: Arc<ConnectionSettings>,
    state: Arc<ConnectionState>,
    registry: Arc<Registry>,
    mut stop: watch::Receiver<bool>,
) {
    let local = stream.local_addr().ok().map(LocalAddr);
    let io = GuardedIo::new(stream, Arc::clone(&state), &settings);
    let counter = Arc::clone(&state);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let extensions = request.extensions_mut();
        extensions.insert(axum::extract::ConnectInfo(peer));
        if let Some(local) = local {
            extensions.insert(local);
        }
        let guard = InFlight::enter(Arc::clone(&counter));
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(axum::body::Body::new)).await;
            drop(guard);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Our own timeouts live in GuardedIo (the header one counts from the first byte).
        .header_read_timeout(None)
        .max_header_size(settings.max_header_bytes)
        .max_buf_size(settings.max_header_bytes.max(8192) * 2);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut stopping = *stop.borrow();
    if stopping {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, "connection closed: {error}");
                }
                break;
            }
            () = state.evict.notified() => {
                tracing::debug!(%peer, "idle connection closed to make room");
                break;
            }
            changed = stop.changed(), if !stopping => {
                if changed.is_err() || *stop.borrow() {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
    registry.close(state.id);
}

/// Counts a request as in progress on its connection while alive.
struct InFlight(Arc<ConnectionState>);

impl InFlight {
    fn enter(state: Arc<ConnectionState>) -> Self {
        state.started.fetch_add(1, Ordering::AcqRel);
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(state)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        // hyper may be parked in a read that started while this request ran, with no timer
        // armed: wake it so the idle timer starts now.
        if let Some(waker) = self.0.waiting.lock().take() {
            waker.wake();
        }
    }
}

/// The answer to a connection over the limit while every open one is busy.
async fn refuse_busy(mut stream: TcpStream) {
    let body = json_error("the server has too many open connections; try again shortly");
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let answer = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await?;
        drain(&mut stream, 64 << 10).await;
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), answer).await;
}

/// Reads and drops up to `limit` bytes, until the peer closes its side.
async fn drain(stream: &mut TcpStream, limit: usize) {
    use tokio::io::AsyncReadExt;
    let mut scratch = [0u8; 8192];
    let mut seen = 0;
    while seen < limit {
        match stream.read(&mut scratch).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen += n,
        }
    }
}

fn json_error(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// How much of a refused request [`GuardedIo`] still reads after answering, so the client,
/// still sending, gets to read the answer.
const DRAIN_AFTER_ERROR: usize = 4 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A TCP stream with the connection's timeouts, and JSON bodies for hyper's own error answers.
struct GuardedIo {
    inner: TcpStream,
    state: Arc<ConnectionState>,
    header_timeout: Duration,
    idle_timeout: Duration,
    max_header_bytes: usize,
    /// When bytes last moved either way.
    last_activity: Instant,
    /// When the first byte of a request head arrived, while that head is incomplete.
    head_started: Option<Instant>,
    /// `state.started` when last looked at: a change means a request head was complete.
    requests_seen: u64,
    timer: Pin<Box<Sleep>>,
    /// Our replacement for an error answer hyper is writing: the bytes, how many are written,
    /// and how many of hyper's bytes it stands for.
    replacement: Option<(Vec<u8>, usize, usize)>,
    /// After an error answer: drain what the client still sends before closing.
    drain: Option<(usize, Instant)>,
}

impl GuardedIo {
    fn new(inner: TcpStream, state: Arc<ConnectionState>, settings: &ConnectionSettings) -> Self {
        let now = Instant::now();
        Self {
            inner,
            state,
            header_timeout: settings.header_timeout,
            idle_timeout: settings.idle_timeout,
            max_header_bytes: settings.max_header_bytes,
            last_activity: now,
            head_started: None,
            requests_seen: 0,
            timer: Box::pin(tokio::time::sleep_until(now + settings.idle_timeout)),
            replacement: None,
            drain: None,
        }
    }

    /// When this connection is to be closed, if nothing happens before: `None` while a request
    /// is being handled.
    fn deadline(&mut self) -> Option<Instant> {
        let started = self.state.started.load(Ordering::Acquire);
        if started != self.requests_seen {
            self.requests_seen = started;
            self.head_started = None;
            self.last_activity = Instant::now();
        }
        if self.state.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(match self.head_started {
            Some(first_byte) => first_byte + self.header_timeout,
            None => self.last_activity + self.idle_timeout,
        })
    }

    /// `Ready(error)` once the deadline has passed; otherwise arms the timer to wake us then.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.state.in_flight.load(Ordering::Acquire) > 0 {
            // Registered before `deadline` looks again, so a request ending in between wakes us.
            *self.state.waiting.lock() = Some(cx.waker().clone());
        }
        let Some(deadline) = self.deadline() else {
            return Poll::Pending;
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let what = if self.head_started.is_some() {
                    "the request head took too long"
                } else {
                    "the connection was idle too long"
                };
                Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, what))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn note_read(&mut self) {
        let _ = self.deadline(); // notice a request that started since
        self.last_activity = Instant::now();
        if self.head_started.is_none() && self.state.in_flight.load(Ordering::Acquire) == 0 {
            self.head_started = Some(self.last_activity);
        }
    }

    /// hyper's own answer to a malformed request head, with our JSON body instead of none.
    fn rewrite_error_answer(&self, head: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(head).ok()?;
        let end = text.find("\r\n\r\n")?;
        if end + 4 != text.len() {
            return None; // a body follows: not one of hyper's bare answers
        }
        let status: u16 = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
        let lower = text[..end].to_ascii_lowercase();
        if status < 400 || lower.contains("\r\ncontent-type:") {
            return None;
        }
        let message = match status {
            431 => format!(
                "the request head (URL and headers) is larger than the limit of {} bytes",
                self.max_header_bytes
            ),
            414 => "the URL is too long".to_owned(),
            400 => "the request is not valid HTTP: bad request line, URL or header \
                    (e.g. a space, NUL or control character in the path)"
                .to_owned(),
            _ => format!("the request was refused ({status})"),
        };
        let body = json_error(&message);
        let reason = text[12..text.find("\r\n")?].trim();
        Some(
            format!(
                "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }

    /// Writes the pending replacement; `Ready(n)` with the count hyper asked to write once done.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, _)) = &mut self.replacement {
            if *written == bytes.len() {
                let (_, _, stands_for) = self.replacement.take().expect("checked above");
                self.drain = Some((0, Instant::now() + DRAIN_TIME));
                return Poll::Ready(Ok(stands_for));
            }
            let n =
                std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(0))
    }

    fn poll_write_guarded(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.replacement.is_none() && buf.starts_with(b"HTTP/1.1 ") {
            if let Some(answer) = self.rewrite_error_answer(buf) {
                self.replacement = Some((answer, 0, buf.len()));
            }
        }
        if self.replacement.is_some() {
            return self.poll_replacement(cx);
        }
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                self.last_activity = Instant::now();
                Poll::Ready(Ok(n))
            }
            Poll::Pending => match self.poll_deadline(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    /// Reads and drops what the client still sends after an error answer, within limits.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while let Some((seen, until)) = self.drain {
            if seen >= DRAIN_AFTER_ERROR || Instant::now() >= until {
                break;
            }
            let mut scratch = [0u8; 8192];
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.drain = Some((seen + buf.filled().len(), until));
                }
                Poll::Ready(_) => break,
                Poll::Pending => {
                    if self.timer.deadline() != until {
                        self.timer.as_mut().reset(until);
                    }
                    if self.timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    break;
                }
            }
        }
        self.drain = None;
        Poll::Ready(())
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.note_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.poll_deadline(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_guarded(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        // hyper's bare error answers are one slice: a head with nothing after it.
        if this.replacement.is_some()
            || (first.starts_with(b"HTTP/1.1 ") && this.rewrite_error_answer(first).is_some())
        {
            return this.poll_write_guarded(cx, first);
        }
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                this.last_activity = Instant::now();
                Poll::Ready(Ok(n))
            }
            Poll::Pending => match this.poll_deadline(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_drain(cx));
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_idle_connection_makes_room_and_busy_ones_are_kept() {
        let registry = Registry::default();
        let first = registry.admit(2).unwrap();
        let second = registry.admit(2).unwrap();
        first.in_flight.store(1, Ordering::Release);
        let third = registry.admit(2).expect("the idle second one makes room");
        assert_eq!(registry.len(), 2);
        assert!(registry.open.lock().contains_key(&first.id));
        assert!(!registry.open.lock().contains_key(&second.id));
        third.in_flight.store(1, Ordering::Release);
        assert!(registry.admit(2).is_none(), "every connection is busy");
        registry.close(first.id);
        assert!(registry.admit(2).is_some());
    }
}
