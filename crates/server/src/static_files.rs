//! Static files: the GUI bundle (`GET /`, `GET /{*path}`) and the outputs (`GET /output/{*path}`,
//! images and `.json` sidecars), §1.1.
//!
//! A path is served only when it is a plain relative path inside its folder: no `..`, no
//! absolute paths, no backslashes, NUL or drive letters, no hidden (dot) files, no
//! percent-encoded separators in the raw URI, and no symlink that leads out of the folder. Every
//! refusal is the same JSON 404 as a missing file.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::error::ApiError;
use crate::listener::LocalAddr;
use crate::state::AppState;

/// How long clients may keep a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachePolicy {
    /// Revalidate every time (index.html, config.json).
    NoCache,
    /// Other bundle files: short.
    Bundle,
    /// Outputs: written once under a unique name.
    Output,
}

impl CachePolicy {
    fn header(self) -> &'static str {
        match self {
            Self::NoCache => "no-cache",
            Self::Bundle => "public, max-age=3600",
            Self::Output => "public, max-age=604800, immutable",
        }
    }
}

/// True when the raw (still encoded) URI path hides a separator or NUL in percent-encoding
/// (`%2F`, `%5C`, `%00`, any case).
pub fn raw_path_is_suspicious(raw: &str) -> bool {
    let lower = raw.to_ascii_lowercase();
    ["%2f", "%5c", "%00"].iter().any(|bad| lower.contains(bad))
}

/// The relative path to serve for a decoded request path, or `None` when it is not a plain
/// relative path: empty, absolute, `..` anywhere, backslashes, NUL, `:` (drive letters, streams)
/// or a component starting with `.` (hidden files, partial outputs). `.` and empty components
/// are dropped.
pub fn safe_relative_path(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.starts_with('/') || path.contains(['\\', '\0', ':']) {
        return None;
    }
    let mut out = PathBuf::new();
    for part in path.split('/') {
        match part {
            "" | "." => continue,
            _ if part.starts_with('.') => return None,
            _ => out.push(part),
        }
    }
    // Belt and braces: only normal components remain.
    if out.as_os_str().is_empty() || !out.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(out)
}

/// `base/relative` if it is a file whose real path (symlinks resolved) stays inside `base`.
pub async fn resolve_inside(base: &Path, relative: &Path) -> Option<PathBuf> {
    let base = tokio::fs::canonicalize(base).await.ok()?;
    let target = tokio::fs::canonicalize(base.join(relative)).await.ok()?;
    if !target.starts_with(&base) {
        return None;
    }
    let meta = tokio::fs::metadata(&target).await.ok()?;
    meta.is_file().then_some(target)
}

fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text = matches!(mime.type_(), mime_guess::mime::TEXT)
        || mime.essence_str() == "application/json"
        || mime.essence_str() == "application/javascript";
    if text {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_owned()
    }
}

/// Serves one file from `base`, with Content-Type, Cache-Control, ETag and `If-None-Match`.
pub async fn serve_file(
    base: &Path,
    raw_path: &str,
    decoded_path: &str,
    cache: CachePolicy,
    request_headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if raw_path_is_suspicious(raw_path) {
        return Err(ApiError::not_found());
    }
    let relative = safe_relative_path(decoded_path).ok_or_else(ApiError::not_found)?;
    let path = resolve_inside(base, &relative)
        .await
        .ok_or_else(ApiError::not_found)?;
    let meta = tokio::fs::metadata(&path)
        .await
        .map_err(|_| ApiError::not_found())?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("\"{:x}-{:x}\"", meta.len(), modified);

    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache.header()),
    );
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex etag is a valid header"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let matches_etag = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches_etag {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::not_found())?;
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type(&path)).expect("mime types are valid headers"),
    );
    Ok((StatusCode::OK, headers, bytes).into_response())
}

fn decode_path(raw: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::not_found())
}

/// `GET /`: the bundle's `index.html`.
pub async fn index(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve_file(
        &state.config.bundle,
        "index.html",
        "index.html",
        CachePolicy::NoCache,
        &headers,
    )
    .await
}

/// True for a `Host` header value that is only a host name or address and a port.
fn plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

/// The API root for the GUI: `--api-root`, else the scheme and host this request came in by
/// (`X-Forwarded-Proto: https` from a TLS proxy) when the host is one this server accepts
/// (`auth::host_accepted`), else the address the connection reached, else the listening address.
/// An unchecked `Host` is never echoed.
pub fn api_root(state: &AppState, headers: &HeaderMap, local: Option<SocketAddr>) -> String {
    if let Some(root) = state.config.api_root.as_deref().filter(|r| !r.is_empty()) {
        return root.to_owned();
    }
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| plain_host(h) && crate::auth::host_accepted(&state.config, h))
        .map(str::to_owned)
        .or_else(|| local.map(|address| address.to_string()))
        .unwrap_or_else(|| state.config.bind_address());
    format!("{scheme}://{host}/")
}

/// `GET /config.json`: what the GUI loads before anything else (`gui/src/config.ts`): the API
/// root and the server's own params, so the GUI's defaults and limits are this server's.
pub async fn gui_config(
    State(state): State<Arc<AppState>>,
    local: Option<Extension<LocalAddr>>,
    headers: HeaderMap,
) -> Response {
    let local = local.map(|Extension(LocalAddr(address))| address);
    let body = serde_json::json!({
        "api": { "root": api_root(&state, &headers, local) },
        "params": state.served_params(),
    });
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(body),
    )
        .into_response()
}

/// `GET /{*path}`: a bundle file.
pub async fn bundle_file(
    State(state): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let raw = uri.path().strip_prefix('/').unwrap_or(uri.path());
    let decoded = decode_path(raw)?;
    let cache = match decoded.rsplit('/').next() {
        Some("index.html" | "config.json") => CachePolicy::NoCache,
        _ => CachePolicy::Bundle,
    };
    serve_file(&state.config.bundle, raw, &decoded, cache, &headers).await
}

/// `GET /output/{*path}`: an output image or its `.json` sidecar.
pub async fn output_file(
    State(state): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let raw = uri
        .path()
        .strip_prefix("/output/")
        .ok_or_else(ApiError::not_found)?;
    let decoded = decode_path(raw)?;
    serve_file(
        &state.config.outputs,
        raw,
        &decoded,
        CachePolicy::Output,
        &headers,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            safe_relative_path("index.html"),
            Some(PathBuf::from("index.html"))
        );
        assert_eq!(
            safe_relative_path("bundle/main.js"),
            Some(PathBuf::from("bundle/main.js"))
        );
        assert_eq!(safe_relative_path("a//./b"), Some(PathBuf::from("a/b")));
        assert_eq!(
            safe_relative_path("txt2img_1_ab_2_0.png.json"),
            Some(PathBuf::from("txt2img_1_ab_2_0.png.json"))
        );
        for bad in [
            "",
            ".",
            "/etc/passwd",
            "../secret",
            "a/../../b",
            "a/..",
            "..",
            "a\\..\\b",
            "a\0b",
            "C:/windows",
            "c:x",
            ".env",
            "a/.git/config",
            ".txt2img.png.partial",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn raw_paths() {
        assert!(raw_path_is_suspicious("..%2Fsecret"));
        assert!(raw_path_is_suspicious("a%5cb"));
        assert!(raw_path_is_suspicious("a%00.png"));
        assert!(!raw_path_is_suspicious("a%20b.png"));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type(Path::new("a.png")), "image/png");
        assert_eq!(
            content_type(Path::new("a.png.json")),
            "application/json; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("x.unknownext")),
            "application/octet-stream"
        );
    }

    #[tokio::test]
    async fn symlinks_out_of_the_folder_are_refused() {
        let root = std::env::temp_dir().join(format!("onnx-web-static-{}", std::process::id()));
        let base = root.join("outputs");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(root.join("secret.txt"), "secret").unwrap();
        std::fs::write(base.join("ok.png"), "png").unwrap();
        std::fs::create_dir_all(base.join("dir")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("secret.txt"), base.join("link.txt")).unwrap();
            std::os::unix::fs::symlink(base.join("ok.png"), base.join("inside.png")).unwrap();
            assert_eq!(resolve_inside(&base, Path::new("link.txt")).await, None);
            assert!(resolve_inside(&base, Path::new("inside.png"))
                .await
                .is_some());
        }
        assert!(resolve_inside(&base, Path::new("ok.png")).await.is_some());
        assert_eq!(resolve_inside(&base, Path::new("dir")).await, None);
        assert_eq!(resolve_inside(&base, Path::new("missing.png")).await, None);

        let headers = HeaderMap::new();
        let response = serve_file(&base, "ok.png", "ok.png", CachePolicy::Output, &headers)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "image/png");
        let etag = response.headers()[header::ETAG].clone();
        let mut conditional = HeaderMap::new();
        conditional.insert(header::IF_NONE_MATCH, etag);
        let response = serve_file(&base, "ok.png", "ok.png", CachePolicy::Output, &conditional)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let refused = serve_file(
            &base,
            "..%2Fsecret.txt",
            "../secret.txt",
            CachePolicy::Output,
            &headers,
        )
        .await;
        assert_eq!(refused.unwrap_err().status(), StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(&root).ok();
    }
}
