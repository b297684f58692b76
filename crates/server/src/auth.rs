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

/// The header that may carry the admin token instead of `?token=`.
pub const ADMIN_TOKEN_HEADER: &str = "x-admin-token";

/// An admin request: the admin token came in `X-Admin-Token` or `?token=` (401 otherwise).
pub struct Admin;

impl axum::extract::FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let from_header = parts
            .headers
            .get(ADMIN_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let query = crate::params::Query::parse(parts.uri.query())?;
        match from_header.or_else(|| query.get("token")) {
            Some(token) if same_token(token, &state.admin_token) => Ok(Admin),
            _ => Err(ApiError::Unauthorized("invalid admin token".into())),
        }
    }
}

/// Splits a `Host` header value into its lowercased name and port.
fn split_host(value: &str) -> (String, Option<u16>) {
    let value = value.trim();
    let (name, port) = if let Some(rest) = value.strip_prefix('[') {
        match rest.split_once(']') {
            Some((name, tail)) => (name, tail.strip_prefix(':')),
            None => (rest, None),
        }
    } else {
        match value.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') => (name, Some(port)),
            _ => (value, None),
        }
    };
    (
        name.trim_end_matches('.').to_ascii_lowercase(),
        port.and_then(|p| p.parse().ok()),
    )
}

/// Whether the `Host` header names this server: `localhost`, an IP address (no DNS name can be
/// rebound to it), the `--host` address, or a `--allowed-hosts` entry (`name` any port,
/// `name:port` that port only).
pub fn host_accepted(config: &crate::config::ServerConfig, value: &str) -> bool {
    let (name, port) = split_host(value);
    if name.is_empty() {
        return false;
    }
    if name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if split_host(&config.host).0 == name {
        return true;
    }
    crate::config::split_list(config.allowed_hosts.as_deref())
        .iter()
        .any(|entry| {
            let (allowed, allowed_port) = split_host(entry);
            allowed == name && (allowed_port.is_none() || allowed_port == port)
        })
}

/// On a loopback address, refuses requests whose `Host` names another host: a web page whose
/// DNS name was re-pointed at 127.0.0.1 (DNS rebinding) cannot reach the API from the browser.
pub async fn check_host(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if is_loopback_host(&state.config.host) {
        if let Some(host) = request.headers().get(header::HOST) {
            let accepted = host.to_str().is_ok_and(|h| host_accepted(&state.config, h));
            if !accepted {
                return ApiError::BadRequest(format!(
                    "Host: {:?} is not a name this server answers to; add it to --allowed-hosts",
                    String::from_utf8_lossy(host.as_bytes())
                ))
                .into_response();
            }
        }
    }
    next.run(request).await
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
    fn host_names_this_server_accepts() {
        let mut config = crate::config::ServerConfig::with_paths("m".into(), "o".into());
        config.allowed_hosts = Some("sd.example.net, gpu.lan:5000".into());
        for host in [
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "10.1.2.3",
            "sd.example.net",
            "SD.example.net.:80",
            "gpu.lan:5000",
        ] {
            assert!(host_accepted(&config, host), "{host}");
        }
        for host in ["evil.example", "gpu.lan:5001", "localhost.evil.example", ""] {
            assert!(!host_accepted(&config, host), "{host}");
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
