//! The HTTP routes (§1.0): settings lists, the image endpoints (txt2img here, the ones with uploads
//! in `images_routes`), ready/cancel, the admin status, the static files, and JSON 501 answers for
//! the onnx-web routes that are not implemented yet.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put, MethodRouter};
use axum::{Json, Router};
use onnx_web_pipelines::Size;
use serde_json::{json, Value};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::jobs::JobStatus;
use crate::models::{network_tokens, Catalog};
use crate::naming::sanitize_name;
use crate::params::{BaseParams, Query};
use crate::responses::{empty_status, parameters_text, ready_json, status_json, ParametersText};
use crate::state::AppState;
use crate::static_files;
use crate::{admin_routes, images_routes};

/// Mask filters (§3.3), in onnx-web's order.
pub const MASK_FILTERS: &[&str] = &["none", "gaussian-multiply", "gaussian-screen"];
/// Source filters (§3.3), in onnx-web's order.
pub const SOURCE_FILTERS: &[&str] = &[
    "canny", "depth", "face", "gaussian", "hed", "mlsd", "noise", "none", "normal", "openpose",
    "segment", "scribble",
];
/// Noise sources (§3.2).
pub const NOISE_SOURCES: &[&str] = &[
    "fill-edge",
    "fill-mask",
    "gaussian",
    "histogram",
    "normal",
    "uniform",
];

/// Every route, in onnx-web's registration order, with the methods it answers (`/api` lists
/// these; onnx-web sends `null` for the methods).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/", &["GET", "HEAD"]),
    ("/:filename", &["GET", "HEAD"]),
    ("/output/:filename", &["GET", "HEAD"]),
    ("/api", &["GET", "HEAD"]),
    ("/api/settings/filters", &["GET", "HEAD"]),
    ("/api/settings/masks", &["GET", "HEAD"]),
    ("/api/settings/models", &["GET", "HEAD"]),
    ("/api/settings/noises", &["GET", "HEAD"]),
    ("/api/settings/params", &["GET", "HEAD"]),
    ("/api/settings/pipelines", &["GET", "HEAD"]),
    ("/api/settings/platforms", &["GET", "HEAD"]),
    ("/api/settings/schedulers", &["GET", "HEAD"]),
    ("/api/settings/strings", &["GET", "HEAD"]),
    ("/api/settings/wildcards", &["GET", "HEAD"]),
    ("/api/img2img", &["POST"]),
    ("/api/txt2img", &["POST"]),
    ("/api/txt2txt", &["POST"]),
    ("/api/inpaint", &["POST"]),
    ("/api/upscale", &["POST"]),
    ("/api/chain", &["POST"]),
    ("/api/blend", &["POST"]),
    ("/api/cancel", &["PUT"]),
    ("/api/ready", &["GET", "HEAD"]),
    ("/api/extras", &["GET", "HEAD", "PUT"]),
    ("/api/restart", &["POST"]),
    ("/api/status", &["GET", "HEAD"]),
    // Not in onnx-web: the OpenAPI document of these routes, and a page that shows it.
    ("/openapi.json", &["GET", "HEAD"]),
    ("/api/docs", &["GET", "HEAD"]),
];

type AppRouter = Router<Arc<AppState>>;

/// The whole HTTP API, with CORS when the configuration allows origins.
pub fn router(state: Arc<AppState>) -> Router {
    // Installs the metrics recorder, if the binary has not yet.
    crate::metrics::handle();
    let api: AppRouter = Router::new()
        .route("/api", get(introspect))
        .route("/api/settings/filters", get(list_filters))
        .route("/api/settings/masks", get(list_masks))
        .route("/api/settings/models", get(list_models))
        .route("/api/settings/noises", get(list_noises))
        .route("/api/settings/params", get(list_params))
        .route(
            "/api/settings/pipelines",
            get(crate::pipeline_routes::list_pipelines),
        )
        .route("/api/settings/platforms", get(list_platforms))
        .route("/api/settings/schedulers", get(list_schedulers))
        .route("/api/settings/strings", get(list_strings))
        .route("/api/settings/wildcards", get(list_wildcards))
        .route("/api/txt2img", post(images_routes::txt2img))
        .route(
            "/api/img2img",
            uploads_post(post(crate::images_routes::img2img)),
        )
        .route("/api/txt2txt", post(crate::pipeline_routes::txt2txt))
        .route(
            "/api/inpaint",
            uploads_post(post(crate::images_routes::inpaint)),
        )
        .route(
            "/api/upscale",
            uploads_post(post(crate::images_routes::upscale)),
        )
        .route("/api/chain", uploads_post(post(crate::chain_routes::chain)))
        .route(
            "/api/blend",
            uploads_post(post(crate::images_routes::blend)),
        )
        .route("/api/cancel", put(cancel))
        .route("/api/ready", get(ready))
        .route(
            "/api/extras",
            get(admin_routes::get_extras).put(admin_routes::put_extras),
        )
        .route("/api/restart", post(admin_routes::restart))
        .route("/api/status", get(worker_status))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .route("/api/docs", get(crate::openapi::api_docs))
        .route("/metrics", get(metrics));
    let app = api
        .route("/", get(static_files::index))
        .route("/config.json", get(static_files::gui_config))
        .route("/output/{*path}", get(static_files::output_file))
        .route("/{*path}", get(static_files::bundle_file))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::MethodNotAllowed(format!("method {method} is not allowed here"))
        });
    let cors = cors_layer(&state.config.cors_origins());
    // Outermost last: the HTTP metrics (the final status of every answer), every error as JSON,
    // the Host check, timeout, API token, queue limits, then the request record for durable jobs.
    let app = app
        .layer(from_fn_with_state(
            Arc::clone(&state),
            crate::persist::record_request,
        ))
        .layer(from_fn_with_state(
            Arc::clone(&state),
            crate::limits::queue_limits,
        ))
        .layer(from_fn_with_state(
            Arc::clone(&state),
            crate::auth::require_api_token,
        ))
        .layer(from_fn_with_state(
            Arc::clone(&state),
            crate::limits::request_timeout,
        ))
        .layer(from_fn_with_state(
            Arc::clone(&state),
            crate::auth::check_host,
        ))
        .layer(axum::middleware::from_fn(crate::error::json_errors))
        .layer(axum::middleware::from_fn(crate::metrics::record_http));
    let app = app.with_state(state);
    match cors {
        Some(layer) => app.layer(layer),
        None => app,
    }
}

/// CORS like flask-cors with `origins=...`: `*` mirrors the request's origin; any method and
/// request header are allowed. `None` when no origin is configured.
pub fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::mirror_request()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request()),
    )
}

/// Image uploads need more than axum's default 2 MB body limit; `persist::record_request` reads
/// every POST body under the configured `--max-body-bytes` before it gets here.
fn uploads_post(route: MethodRouter<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    route.layer(DefaultBodyLimit::disable())
}

async fn introspect() -> Json<Value> {
    let routes: Vec<Value> = ROUTES
        .iter()
        .map(|(path, methods)| json!({"methods": methods, "path": path}))
        .collect();
    Json(json!({"name": "onnx-web", "routes": routes}))
}

async fn list_filters() -> Json<Value> {
    Json(json!({"mask": MASK_FILTERS, "source": SOURCE_FILTERS}))
}

async fn list_masks() -> Json<Value> {
    Json(json!(MASK_FILTERS))
}

async fn list_noises() -> Json<Value> {
    Json(json!(NOISE_SOURCES))
}

async fn list_models(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.catalog().models_json())
}

async fn list_params(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.served_params())
}

async fn list_platforms(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!(state.platforms))
}

async fn list_schedulers(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!(state.schedulers))
}

async fn list_strings(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.catalog().strings_json())
}

async fn list_wildcards(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.catalog().wildcards_json())
}

/// The A1111 `parameters` text of a request, with the SHA-256 of the LoRA and Textual Inversion
/// files its prompts name. Blocking (hashes files; cached per file).
pub fn metadata_parameters(
    state: &AppState,
    catalog: &Catalog,
    base: &BaseParams,
    size: Size,
) -> String {
    let mut inversions: Vec<(String, String)> = Vec::new();
    let mut loras: Vec<(String, String)> = Vec::new();
    let prompts = [Some(base.prompt.as_str()), base.negative_prompt.as_deref()];
    for (kind, name) in prompts.into_iter().flatten().flat_map(network_tokens) {
        let list = if kind == "lora" {
            &mut loras
        } else {
            &mut inversions
        };
        if list.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let Some(path) = catalog.network_file(kind, &name) else {
            continue;
        };
        match state.file_hash(&path) {
            Ok(hash) => list.push((name, hash)),
            Err(error) => tracing::warn!("cannot hash {}: {error}", path.display()),
        }
    }
    let model_name = base.model_basename();
    let model_hash = catalog.model_hash(&model_name, &base.model_dir);
    parameters_text(&ParametersText {
        prompt: &base.prompt,
        negative_prompt: base.negative_prompt.as_deref(),
        steps: base.steps,
        scheduler: &base.scheduler,
        cfg: base.cfg,
        seed: base.seed,
        width: size.width,
        height: size.height,
        model_hash: &model_hash,
        model_name: &model_name,
        server_version: &state.config.server_version,
        inversions: &inversions,
        loras: &loras,
    })
}

/// The sanitized `output` key of ready/cancel.
fn output_key(raw: Option<&str>) -> Result<String, ApiError> {
    let query = Query::parse(raw)?;
    query
        .get("output")
        .map(sanitize_name)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| ApiError::bad_request("output name is required"))
}

/// `GET /api/ready?output=`: the job's state; for unknown keys, ready, and failed unless the
/// output file exists (§1.8).
async fn ready(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let key = output_key(raw.as_deref())?;
    let reason = state.queue.failure_reason(&key);
    let status = match state.queue.status(&key) {
        Some(status) => status,
        None => {
            let path = state.config.outputs.join(&key);
            let exists = tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file());
            JobStatus {
                failed: !exists,
                ready: true,
                ..empty_status()
            }
        }
    };
    let mut body = ready_json(status);
    // Not in onnx-web: why a job failed (an error, a panic, a restart), for clients that look.
    if let (true, Some(reason), Some(fields)) = (status.failed, reason, body.as_object_mut()) {
        fields.insert("reason".into(), Value::String(reason));
    }
    Ok(Json(body))
}

/// `PUT /api/cancel?output=`: always 200; `cancelled` says whether a pending or running job was
/// cancelled.
async fn cancel(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let key = output_key(raw.as_deref())?;
    let cancelled = state.queue.cancel(&key);
    tracing::info!(job = %key, cancelled, "cancel requested");
    Ok(Json(ready_json(JobStatus {
        cancelled,
        ..empty_status()
    })))
}

/// `GET /api/status?token=`: the queue in onnx-web's tuple format (§1.9).
async fn worker_status(
    State(state): State<Arc<AppState>>,
    _admin: crate::auth::Admin,
) -> Result<Response, ApiError> {
    Ok((StatusCode::OK, Json(status_json(&state.queue.snapshot()))).into_response())
}

/// `GET /metrics?token=`: the Prometheus text format (admin only; see `metrics`).
async fn metrics(State(state): State<Arc<AppState>>, _admin: crate::auth::Admin) -> Response {
    let body = crate::metrics::render(state.queue.counts());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use crate::jobs::JobQueue;
    use axum::body::Body;
    use axum::http::{header, Request};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    struct Fixture {
        root: std::path::PathBuf,
        state: Arc<AppState>,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.root).ok();
        }
    }

    fn fixture(name: &str, cors: Option<&str>) -> Fixture {
        let root =
            std::env::temp_dir().join(format!("onnx-web-routes-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let models = root.join("models");
        std::fs::create_dir_all(models.join("diffusion-tiny")).unwrap();
        std::fs::create_dir_all(models.join("lora")).unwrap();
        std::fs::write(models.join("lora/shiny.safetensors"), b"abc").unwrap();
        std::fs::create_dir_all(models.join("wildcard")).unwrap();
        std::fs::write(models.join("wildcard/colors.txt"), "red\n").unwrap();
        std::fs::create_dir_all(root.join("gui")).unwrap();
        std::fs::write(root.join("gui/index.html"), "<html></html>").unwrap();
        std::fs::write(root.join("secret.txt"), "secret").unwrap();
        let mut config = ServerConfig::with_paths(models, root.join("outputs"));
        config.bundle = root.join("gui");
        config.params = root.clone();
        config.admin_token = Some("token".into());
        config.cors_origin = cors.map(str::to_owned);
        config.validate().unwrap();
        std::fs::write(root.join("outputs/done.png"), b"png").unwrap();
        std::fs::write(root.join("outputs/done.png.json"), b"{}").unwrap();
        let devices = vec!["cpu".to_owned()];
        let queue = JobQueue::new(devices.clone());
        let state = Arc::new(AppState::new(config, devices, queue).unwrap());
        Fixture { root, state }
    }

    async fn call(
        state: &Arc<AppState>,
        method: &str,
        uri: &str,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = router(Arc::clone(state)).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    async fn call_json(state: &Arc<AppState>, method: &str, uri: &str) -> (StatusCode, Value) {
        let (status, headers, body) = call(state, method, uri).await;
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn settings_lists() {
        let f = fixture("settings", None);
        let (status, body) = call_json(&f.state, "GET", "/api/settings/platforms").await;
        assert_eq!((status, body), (StatusCode::OK, json!(["any", "cpu"])));
        let (_, body) = call_json(&f.state, "GET", "/api/settings/schedulers").await;
        assert_eq!(
            body,
            json!(onnx_web_diffusion::schedulers::SCHEDULER_NAMES),
            "every scheduler, in onnx-web's order"
        );
        // Pipelines follow the models present: the fixture's folder has no UNet yet.
        let (_, body) = call_json(&f.state, "GET", "/api/settings/pipelines").await;
        assert_eq!(body, json!([]));
        let unet = f.root.join("models/diffusion-tiny/unet");
        std::fs::create_dir_all(&unet).unwrap();
        std::fs::write(unet.join("model.onnx"), b"").unwrap();
        let (_, body) = call_json(&f.state, "GET", "/api/settings/pipelines").await;
        assert_eq!(
            body,
            json!(["img2img", "inpaint", "lpw", "panorama", "txt2img"])
        );
        let (_, body) = call_json(&f.state, "GET", "/api/settings/models").await;
        assert_eq!(body["diffusion"], json!(["diffusion-tiny"]));
        assert_eq!(body["networks"][0]["name"], json!("shiny"));
        let (_, body) = call_json(&f.state, "GET", "/api/settings/params").await;
        assert_eq!(body["version"], json!("0.12.0"));
        let (_, body) = call_json(&f.state, "GET", "/api/settings/strings").await;
        assert_eq!(
            body,
            json!({"en": {"translation": {"model": {"diffusion-tiny": "Tiny", "lora.shiny": "Shiny"}}}})
        );
        let (_, body) = call_json(&f.state, "GET", "/api/settings/wildcards").await;
        assert_eq!(body, json!(["colors"]));
        let (_, body) = call_json(&f.state, "GET", "/api/settings/filters").await;
        assert_eq!(body["mask"], json!(MASK_FILTERS));
        let (_, body) = call_json(&f.state, "GET", "/api/settings/noises").await;
        assert_eq!(body, json!(NOISE_SOURCES));
        let (_, body) = call_json(&f.state, "GET", "/api").await;
        assert_eq!(body["name"], json!("onnx-web"));
        assert_eq!(
            body["routes"][15],
            json!({"methods": ["POST"], "path": "/api/txt2img"})
        );
    }

    #[tokio::test]
    async fn txt2img_queues_and_ready_reports() {
        let f = fixture("txt2img", None);
        let uri = "/api/txt2img?prompt=a+__colors__+cat+%3Clora%3Ashiny%3A1.0%3E&seed=42&steps=3&width=64&height=64&batch=2&scheduler=ddim";
        let (status, body) = call_json(&f.state, "POST", uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let outputs = body["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 2);
        let key = outputs[0].as_str().unwrap();
        assert!(
            key.starts_with("txt2img_42_") && key.ends_with("_0.png"),
            "{key}"
        );
        assert_eq!(
            body["params"]["prompt"],
            json!("a red cat <lora:shiny:1.0>")
        );
        assert_eq!(
            body["params"]["input_prompt"],
            json!("a __colors__ cat <lora:shiny:1.0>")
        );
        assert_eq!(body["params"]["model"], json!("diffusion-tiny"));
        assert_eq!(body["size"], json!({"height": 64, "width": 64}));
        assert!(body["upscale"].is_object() && body["highres"].is_object());

        let (status, ready) = call_json(&f.state, "GET", &format!("/api/ready?output={key}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            ready,
            json!({"cancelled": false, "failed": false, "pending": true, "progress": 0, "ready": false})
        );

        let snapshot = f.state.queue.snapshot();
        assert_eq!(snapshot.pending, vec![key.to_owned()]);
        let (status, admin) = call_json(&f.state, "GET", "/api/status?token=token").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(admin["pending"][0][0], json!(key));
        let (status, _) = call_json(&f.state, "GET", "/api/status?token=wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let (status, cancelled) =
            call_json(&f.state, "PUT", &format!("/api/cancel?output={key}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            cancelled,
            json!({"cancelled": true, "failed": false, "pending": false, "progress": 0, "ready": false})
        );
        let (_, ready) = call_json(&f.state, "GET", &format!("/api/ready?output={key}")).await;
        assert_eq!(ready["cancelled"], json!(true));
        let (_, again) = call_json(&f.state, "PUT", &format!("/api/cancel?output={key}")).await;
        assert_eq!(again["cancelled"], json!(false));
    }

    #[tokio::test]
    async fn job_metadata_has_hashes() {
        let f = fixture("metadata", None);
        let catalog = f.state.catalog();
        let ctx = f.state.parse_context(&catalog);
        let query = Query::from_pairs([("prompt", "<lora:shiny:0.5> x"), ("seed", "1")]);
        let (base, size, _) = crate::params::build_base_params(&query, &ctx, "txt2img").unwrap();
        let text = metadata_parameters(&f.state, &catalog, &base, size);
        assert!(text.contains("Lora hashes: \"shiny: BA7816BF"), "{text}");
        assert!(text.contains("Model: diffusion-tiny,"), "{text}");
    }

    #[tokio::test]
    async fn bad_requests_are_json() {
        let f = fixture("errors", None);
        let (status, body) = call_json(&f.state, "POST", "/api/txt2img?steps=abc").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"error": "steps: expected an integer, got \"abc\""})
        );
        // Unknown names fall back (`crate::names`); values that are not names are a 400.
        let (status, body) = call_json(&f.state, "POST", "/api/txt2img?model=..%2Ffoo").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("model: \"../foo\" is not a name"),
            "{body}"
        );
        let (status, _) = call_json(&f.state, "POST", "/api/txt2img?prompt=%FF").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = call_json(&f.state, "GET", "/api/ready").await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "output name is required"})
            )
        );
        let (status, _) = call_json(&f.state, "PUT", "/api/cancel?output=").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = call_json(&f.state, "POST", "/api/img2img").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"error": "source image is required"}));
        // txt2txt is implemented; without a prompt it is a 400 naming the field.
        let (status, body) = call_json(&f.state, "POST", "/api/txt2txt").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"].as_str().unwrap().starts_with("model"),
            "{body}"
        );
        let (status, _) = call_json(&f.state, "PUT", "/api/extras").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, headers, _) = call(&f.state, "GET", "/api/txt2img").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[header::ALLOW], "POST");
        let (status, _) = call_json(&f.state, "DELETE", "/api/ready?output=x").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn ready_for_unknown_keys() {
        let f = fixture("ready", None);
        let (_, body) = call_json(&f.state, "GET", "/api/ready?output=done.png").await;
        assert_eq!(
            body,
            json!({"cancelled": false, "failed": false, "pending": false, "progress": 0, "ready": true})
        );
        let (_, body) = call_json(&f.state, "GET", "/api/ready?output=missing.png").await;
        assert_eq!(body["failed"], json!(true));
        // Sanitized: `../done.png` becomes `..done.png`, which does not exist.
        let (_, body) = call_json(&f.state, "GET", "/api/ready?output=../done.png").await;
        assert_eq!(body["failed"], json!(true));
        let (_, body) = call_json(&f.state, "GET", "/api/ready?output=..").await;
        assert_eq!(body["failed"], json!(true));
        let (_, cancel) = call_json(&f.state, "PUT", "/api/cancel?output=unknown.png").await;
        assert_eq!(cancel["cancelled"], json!(false));
    }

    #[tokio::test]
    async fn static_files_and_safety() {
        let f = fixture("static", None);
        let (status, headers, body) = call(&f.state, "GET", "/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(body, b"<html></html>");
        let (status, headers, body) = call(&f.state, "GET", "/output/done.png").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "image/png");
        assert!(headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age"));
        assert_eq!(body, b"png");
        let (status, headers, _) = call(&f.state, "GET", "/output/done.png.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let (status, _, _) = call(&f.state, "HEAD", "/output/done.png").await;
        assert_eq!(status, StatusCode::OK);
        for bad in [
            "/output/..%2Fsecret.txt",
            "/output/%2E%2E/secret.txt",
            "/output/..%5Csecret.txt",
            "/output/done.png%00",
            "/..%2Fsecret.txt",
            "/output/missing.png",
            "/api/unknown",
            "/nothing.js",
        ] {
            let (status, body) = call_json(&f.state, "GET", bad).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
            assert_eq!(body, json!({"error": "not found"}), "{bad}");
        }
    }

    #[tokio::test]
    async fn cors_is_off_by_default_and_mirrors_star() {
        let f = fixture("cors-off", None);
        let request = Request::builder()
            .uri("/api/settings/platforms")
            .header(header::ORIGIN, "http://example.com")
            .body(Body::empty())
            .unwrap();
        let response = router(Arc::clone(&f.state)).oneshot(request).await.unwrap();
        assert!(response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        drop(f);

        let f = fixture("cors-on", Some("*"));
        let request = Request::builder()
            .method("OPTIONS")
            .uri("/api/txt2img")
            .header(header::ORIGIN, "http://example.com")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap();
        let response = router(Arc::clone(&f.state)).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://example.com"
        );
    }
}
