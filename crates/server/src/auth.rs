//! The optional API token: with `--api-token` set, every request that is not GET, HEAD or
//! OPTIONS must carry it in `X-Api-Token: <token>` or `Authorization: Bearer <token>` (401
//! otherwise). Admin routes check the admin token on their own (`routes::check_admin`).
//!
//! The server binds 127.0.0.1 unless told otherwise; bound elsewhere without a token it warns at
//! start-up, since anyone who can reach it may queue jobs.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// The header carrying the API token.
pub const TOKEN_HEADER: &str = "x-api-token";

/// Compares two tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries, if any.
fn request_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(token) = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(token.trim());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// True when `host` only accepts local connections.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses changing requests without the configured API token.
pub async fn require_api_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.config.api_token.as_deref().filter(|t| !t.is_empty()) else {
        return next.run(request).await;
    };
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // Replays after a restart were checked when first submitted.
    let replay = request
        .extensions()
        .get::<crate::persist::Replay>()
        .is_some();
    if safe || replay {
        return next.run(request).await;
    }
    match request_token(request.headers()) {
        Some(token) if same_token(token, expected) => next.run(request).await,
        _ => ApiError::Unauthorized(format!(
            "this server needs an API token in the {TOKEN_HEADER} header"
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "192.168.1.2", "example.com"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn tokens_from_either_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_token(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(request_token(&headers), Some("abc"));
        headers.insert(TOKEN_HEADER, "xyz".parse().unwrap());
        assert_eq!(request_token(&headers), Some("xyz"));
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd") && !same_token("abc", "ab"));
    }
}
