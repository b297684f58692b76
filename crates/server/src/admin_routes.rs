//! The admin routes the GUI's Models and Settings tabs call (§1.9): `GET`/`PUT /api/extras` and
//! `POST /api/restart` (`GET /api/status` is in `routes`). Each needs `?token=` equal to the admin
//! token; anything else is a 401 JSON error.
//!
//! Differences from onnx-web, kept so its GUI works: the extras file is answered with its five model
//! lists always present (onnx-web sends the raw text, and a 500 when no file is configured, which
//! breaks the Models tab); an extras file that does not parse or validate is refused with a 400
//! naming the problem instead of being written and logged; no model converter runs after a write
//! (models are ONNX already), the catalog is re-read.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};

use crate::auth::Admin;
use crate::error::ApiError;
use crate::models::{parse_config_text, validate_extras};
use crate::responses::status_json;
use crate::state::AppState;

/// The lists every extras object has for the GUI (`gui/src/types/model.ts::ExtrasFile`).
const EXTRAS_LISTS: &[&str] = &[
    "diffusion",
    "correction",
    "upscaling",
    "networks",
    "sources",
];

/// Largest extras file accepted by `PUT /api/extras`.
const MAX_EXTRAS_BYTES: usize = 1024 * 1024;

/// The file `PUT /api/extras` writes: the first configured extras file, else `<models>/extras.json`.
fn extras_path(state: &AppState) -> PathBuf {
    state
        .config
        .extra_model_files()
        .into_iter()
        .next()
        .unwrap_or_else(|| state.config.models.join("extras.json"))
}

/// `data` with each of the GUI's model lists present (an empty list where missing).
fn with_all_lists(mut data: Map<String, Value>) -> Map<String, Value> {
    for list in EXTRAS_LISTS {
        data.entry(*list)
            .or_insert_with(|| Value::Array(Vec::new()));
    }
    data
}

/// `GET /api/extras?token=`: the extras file as JSON.
pub async fn get_extras(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let path = extras_path(&state);
    let data = match tokio::fs::read_to_string(&path).await {
        Ok(text) => match parse_config_text(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "extras file {} is not an object",
                    path.display()
                )))
            }
            Err(error) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "extras file {} does not parse: {error:#}",
                    path.display()
                )))
            }
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(error) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "reading extras file {}: {error}",
                path.display()
            )))
        }
    };
    Ok(Json(Value::Object(with_all_lists(data))).into_response())
}

/// `PUT /api/extras?token=`: replaces the extras file with the body (JSON or YAML, as the GUI
/// sends it with no content type), re-reads models, extras and wildcards, and answers the data.
pub async fn put_extras(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.len() > MAX_EXTRAS_BYTES {
        return Err(ApiError::BadRequest(format!(
            "extras: the body is {} bytes, more than the {MAX_EXTRAS_BYTES} allowed",
            body.len()
        )));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("extras: the body is not UTF-8 text".into()))?;
    let data = parse_config_text(text)
        .map_err(|error| ApiError::BadRequest(format!("extras: {error:#}")))?;
    validate_extras(&data).map_err(|error| ApiError::BadRequest(format!("extras: {error}")))?;

    let path = extras_path(&state);
    let state_for_write = Arc::clone(&state);
    let text = text.to_owned();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        crate::outputs::write_atomic(&path, text.as_bytes()).map_err(|error| {
            ApiError::Internal(anyhow::anyhow!(
                "writing extras file {}: {error:#}",
                path.display()
            ))
        })?;
        state_for_write.reload_catalog();
        Ok(())
    })
    .await
    .map_err(|error| ApiError::Internal(anyhow::anyhow!("extras write task: {error}")))??;
    Ok(Json(data).into_response())
}

/// `POST /api/restart?token=`: onnx-web recycles its worker processes; here the workers drop
/// their loaded models (the next job loads them again) and the catalog is re-read. Answers the
/// queue status, as onnx-web does.
pub async fn restart(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let state_for_reload = Arc::clone(&state);
    tokio::task::spawn_blocking(move || {
        state_for_reload.recycle();
        state_for_reload.reload_catalog();
    })
    .await
    .map_err(|error| ApiError::Internal(anyhow::anyhow!("restart task: {error}")))?;
    tracing::info!("restart: models unloaded, catalog re-read");
    Ok((StatusCode::OK, Json(status_json(&state.queue.snapshot()))).into_response())
}
