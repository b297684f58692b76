//! Property tests over every field of every image endpoint, through the real router in-process
//! (no inference: no workers run): whatever a field holds (missing, empty, wrong type, out of
//! range, NaN/inf, huge, long, unicode), the answer is a 200 job or a 400 JSON error naming a
//! field, never a panic or a 500. Uploaded files of random bytes are a 400 naming the file.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use onnx_web_server::config::ServerConfig;
use onnx_web_server::jobs::JobQueue;
use onnx_web_server::state::AppState;
use proptest::prelude::*;
use serde_json::Value;
use tower::ServiceExt;

/// Every query field the image endpoints read.
const FIELDS: &[&str] = &[
    "prompt",
    "negativePrompt",
    "model",
    "pipeline",
    "scheduler",
    "platform",
    "cfg",
    "steps",
    "eta",
    "batch",
    "loopback",
    "seed",
    "width",
    "height",
    "tiled_vae",
    "unet_overlap",
    "unet_tile",
    "vae_overlap",
    "vae_tile",
    "control",
    "upscale",
    "upscaling",
    "correction",
    "faces",
    "scale",
    "outscale",
    "denoise",
    "faceOutscale",
    "faceStrength",
    "upscaleOrder",
    "highres",
    "highresIterations",
    "highresMethod",
    "highresScale",
    "highresSteps",
    "highresStrength",
    "left",
    "right",
    "top",
    "bottom",
    "strength",
    "sourceFilter",
    "fillColor",
    "filter",
    "noise",
    "fullresInpaint",
    "fullresInpaintPadding",
];

/// Error prefixes that are not query fields: the uploaded files.
const FILES: &[&str] = &["source", "mask", "source:0", "source:1"];

struct Fixture {
    _root: tempfile::TempDir,
    state: Arc<AppState>,
    runtime: tokio::runtime::Runtime,
    png: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let models = root.path().join("models");
        for dir in ["diffusion-sample", "lora", "wildcard", "text-sample"] {
            std::fs::create_dir_all(models.join(dir)).unwrap();
        }
        for file in [
            "upscaling-sample.onnx",
            "correction-sample.onnx",
            "lora/shiny.safetensors",
            "text-sample/decoder_model.onnx",
            "text-sample/tokenizer.json",
        ] {
            std::fs::write(models.join(file), b"x").unwrap();
        }
        std::fs::write(models.join("wildcard/colors.txt"), "red\n").unwrap();
        let mut config = ServerConfig::with_paths(models, root.path().join("outputs"));
        config.params = root.path().to_owned();
        config.limits.max_queue = usize::MAX;
        config.validate().unwrap();
        let devices = vec!["cpu".to_owned()];
        let state =
            Arc::new(AppState::new(config, devices.clone(), JobQueue::new(devices)).unwrap());
        let mut png = Vec::new();
        image::RgbImage::from_pixel(64, 64, image::Rgb([200, 10, 10]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        Fixture {
            _root: root,
            state,
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
            png,
        }
    })
}

/// The files an endpoint needs, all valid.
fn files_for(endpoint: &str) -> Vec<&'static str> {
    match endpoint {
        "img2img" | "upscale" => vec!["source"],
        "inpaint" => vec!["source", "mask"],
        "blend" => vec!["source:0", "source:1", "mask"],
        _ => vec![],
    }
}

fn multipart(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(
            format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--B--\r\n");
    body
}

fn post(endpoint: &str, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    send(
        "POST",
        &format!("/api/{endpoint}?{query}"),
        "multipart/form-data; boundary=B",
        body,
    )
}

fn send(method: &str, uri: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let fixture = fixture();
    fixture.runtime.block_on(async {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let response = onnx_web_server::routes::router(Arc::clone(&fixture.state))
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
        (status, json)
    })
}

/// Values of every kind a client might send.
fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("-Infinity".to_owned()),
        Just("1e999".to_owned()),
        Just("true".to_owned()),
        Just("none".to_owned()),
        Just("99999999999999999999999999".to_owned()),
        Just("a".repeat(20_000)),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| x.to_string()),
        (-10i32..600).prop_map(|n| n.to_string()),
        (-2.0f64..40.0).prop_map(|x| format!("{x:.3}")),
        "[a-z_-]{1,12}",
        "\\PC{0,40}",
    ]
}

fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn check(endpoint: &str, fields: &[(usize, String)]) -> Result<(), TestCaseError> {
    let mut query = String::from("steps=3&width=64&height=64");
    for (index, value) in fields {
        query.push_str(&format!("&{}={}", FIELDS[*index], encode(value)));
    }
    let png = &fixture().png;
    let files: Vec<(&str, &[u8])> = files_for(endpoint)
        .into_iter()
        .map(|name| (name, png.as_slice()))
        .collect();
    let (status, body) = post(endpoint, &query, multipart(&files));
    match status {
        StatusCode::OK => prop_assert!(body["outputs"].is_array(), "{body}"),
        StatusCode::BAD_REQUEST => {
            let error = body["error"].as_str().unwrap_or_default();
            let named = FIELDS
                .iter()
                .chain(FILES)
                .chain(&["upscaling", "correction", "query string", "the query"])
                .any(|field| error.starts_with(&format!("{field}:")) || error.contains("query"));
            prop_assert!(
                named,
                "{endpoint}?{query}: the error names no field: {error}"
            );
        }
        other => prop_assert!(false, "{endpoint}?{query}: {other} {body}"),
    }
    Ok(())
}

/// The query fields of `POST /api/txt2txt`.
const TEXT_FIELDS: &[&str] = &[
    "prompt",
    "model",
    "max_tokens",
    "temperature",
    "top_k",
    "seed",
];

fn check_txt2txt(fields: &[(usize, String)]) -> Result<(), TestCaseError> {
    let mut query = String::from("prompt=hello");
    for (index, value) in fields {
        query.push_str(&format!("&{}={}", TEXT_FIELDS[*index], encode(value)));
    }
    let (status, body) = send(
        "POST",
        &format!("/api/txt2txt?{query}"),
        "text/plain",
        vec![],
    );
    match status {
        StatusCode::OK => prop_assert!(body["outputs"].is_array(), "{body}"),
        StatusCode::BAD_REQUEST => {
            let error = body["error"].as_str().unwrap_or_default();
            prop_assert!(
                TEXT_FIELDS
                    .iter()
                    .any(|f| error.starts_with(&format!("{f}:"))),
                "txt2txt?{query}: the error names no field: {error}"
            );
        }
        other => prop_assert!(false, "txt2txt?{query}: {other} {body}"),
    }
    Ok(())
}

/// A chain of one stage of any type whose params are any of the image fields and the stage's
/// own names, with any values (as JSON strings or numbers).
fn check_chain(kind: &str, params: &[(usize, String)]) -> Result<(), TestCaseError> {
    const OWN: &[&str] = &[
        "strength",
        "tiles",
        "bucket",
        "source_keys",
        "source_urls",
        "alpha",
        "noise_source",
        "method",
        "order",
        "range",
        "prompt_index",
        "outscale",
        "endpoint_url",
    ];
    let mut map = serde_json::Map::new();
    for (index, value) in params {
        let key = FIELDS
            .iter()
            .chain(OWN)
            .nth(*index % (FIELDS.len() + OWN.len()))
            .unwrap();
        let value = value
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or_else(|| Value::String(value.clone()));
        map.insert((*key).to_owned(), value);
    }
    let chain = serde_json::json!({
        "defaults": {"width": 64, "height": 64, "steps": 3},
        "stages": [{"name": "only", "type": kind, "params": map}],
    });
    let body = serde_json::to_vec(&chain).unwrap();
    let (status, response) = send("POST", "/api/chain", "application/json", body);
    match status {
        StatusCode::OK => prop_assert!(response["outputs"].is_array(), "{response}"),
        StatusCode::BAD_REQUEST => {
            let error = response["error"].as_str().unwrap_or_default();
            prop_assert!(
                error.contains("\"only\"") || error.starts_with("defaults"),
                "{chain}: the error names no stage: {error}"
            );
        }
        other => prop_assert!(false, "{chain}: {other} {response}"),
    }
    Ok(())
}

fn fields() -> impl Strategy<Value = Vec<(usize, String)>> {
    prop::collection::vec((0..FIELDS.len(), field_value()), 1..5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn txt2img_fields(fields in fields()) { check("txt2img", &fields)?; }

    #[test]
    fn img2img_fields(fields in fields()) { check("img2img", &fields)?; }

    #[test]
    fn inpaint_fields(fields in fields()) { check("inpaint", &fields)?; }

    #[test]
    fn upscale_fields(fields in fields()) { check("upscale", &fields)?; }

    #[test]
    fn blend_fields(fields in fields()) { check("blend", &fields)?; }

    #[test]
    fn txt2txt_fields(fields in prop::collection::vec((0..TEXT_FIELDS.len(), field_value()), 1..4)) {
        check_txt2txt(&fields)?;
    }

    #[test]
    fn chain_stage_params(
        kind in prop::sample::select(onnx_web_chain::stages::NAMES.clone()),
        params in prop::collection::vec((0..64usize, field_value()), 0..4),
    ) {
        check_chain(kind, &params)?;
    }

    #[test]
    fn ready_and_cancel_take_any_output_name(name in field_value()) {
        let uri = format!("/api/ready?output={}", encode(&name));
        let (status, body) = send("GET", &uri, "text/plain", vec![]);
        prop_assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{uri}: {status} {body}"
        );
        if status != StatusCode::OK {
            prop_assert!(body["error"].as_str().is_some_and(|e| e.starts_with("output")), "{body}");
        }
        let uri = format!("/api/cancel?output={}", encode(&name));
        let (status, body) = send("PUT", &uri, "text/plain", vec![]);
        prop_assert!(status.as_u16() < 500, "{uri}: {status} {body}");
    }

    #[test]
    fn random_file_bytes_are_a_400_naming_the_file(
        bytes in prop::collection::vec(any::<u8>(), 0..2000),
        endpoint in prop::sample::select(vec!["img2img", "inpaint", "upscale", "blend"]),
    ) {
        let names = files_for(endpoint);
        let png = &fixture().png;
        // The first file is garbage, the others valid.
        let files: Vec<(&str, &[u8])> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, if i == 0 { bytes.as_slice() } else { png.as_slice() }))
            .collect();
        let (status, body) = post(endpoint, "steps=3", multipart(&files));
        prop_assert_eq!(status, StatusCode::BAD_REQUEST, "{}", body);
        let error = body["error"].as_str().unwrap_or_default();
        prop_assert!(error.starts_with(names[0]), "{}", error);
    }
}
