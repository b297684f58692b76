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
        (status, Json(serde_json::json!({ "error": self.message() }))).into_response()
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
