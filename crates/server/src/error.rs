//! The one place where errors become HTTP responses: `{"error": "<message>"}` with a status.
//!
//! onnx-web answers handled errors with 400 and everything else with an HTML 500 page (§0.4).
//! Here bad input is always a 400 that names the field, and every error body is JSON.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input; the message names the field, e.g. `steps: expected an integer, got "abc"`.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotImplemented(String),
    /// A body or upload past the configured size.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A queue limit; the client may retry later.
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    RequestTimeout(String),
    /// The server cannot take the request now (e.g. the job store cannot be written).
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A server fault; logged, and answered with a generic message.
    #[error("internal server error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// A 400 about one query field: `"<field>: <message>"`.
    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::BadRequest(format!("{field}: {message}"))
    }

    pub fn not_found() -> Self {
        Self::NotFound("not found".into())
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::NotImplemented(format!("{what} is not implemented yet"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The text sent to the client.
    pub fn message(&self) -> String {
        match self {
            Self::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(error) = &self {
            tracing::error!("request failed: {error:#}");
        } else if status != StatusCode::NOT_FOUND {
            tracing::debug!(%status, "request refused: {self}");
        }
        let mut response =
            (status, Json(serde_json::json!({ "error": self.message() }))).into_response();
        if matches!(self, Self::TooManyRequests(_) | Self::ServiceUnavailable(_)) {
            // Seconds a client should wait before trying again.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// Makes every error answer JSON, also those made below the handlers (axum's extractor
/// rejections, body limits): a 4xx/5xx whose body is not JSON becomes `{"error": "<its text>"}`.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_owned(),
        text => text.to_owned(),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    let body = serde_json::json!({ "error": message }).to_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// `Retry-After` on 429 and 503 answers.
pub const RETRY_AFTER_SECS: &str = "5";

impl From<crate::jobs::NotRecorded> for ApiError {
    fn from(error: crate::jobs::NotRecorded) -> Self {
        Self::ServiceUnavailable(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_field() {
        let error = ApiError::field("steps", "expected an integer, got \"abc\"");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error.message(), "steps: expected an integer, got \"abc\"");
    }

    #[test]
    fn internal_errors_hide_details() {
        let error = ApiError::from(anyhow::anyhow!("secret path /x"));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.message(), "internal server error");
    }
}
