//! Settings endpoints, bad input and path safety, against the real server.

mod common;

use common::TestServer;
use serde_json::{json, Value};

#[test]
fn settings_endpoints_answer_with_onnx_web_shapes() {
    let server = TestServer::start();

    let api = server.get_json("/api");
    assert_eq!(api["name"], "onnx-web");
    let paths: Vec<&str> = api["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    for path in [
        "/api/txt2img",
        "/api/ready",
        "/api/cancel",
        "/api/settings/models",
        "/output/:filename",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }

    let models = server.get_json("/api/settings/models");
    let diffusion = models["diffusion"].as_array().unwrap();
    assert!(
        diffusion.contains(&json!("diffusion-tiny-demo")),
        "{models}"
    );
    assert!(
        diffusion.contains(&json!("diffusion-tiny-int64")),
        "{models}"
    );
    assert!(models["upscaling"]
        .as_array()
        .unwrap()
        .contains(&json!("upscaling-tiny-x4")));
    assert!(models["correction"]
        .as_array()
        .unwrap()
        .contains(&json!("correction-tiny-face")));
    let networks = models["networks"].as_array().unwrap();
    assert!(
        networks.contains(&json!({"name": "tiny-inversion", "tokens": [], "type": "inversion"}))
            || networks
                .iter()
                .any(|n| n["name"] == "tiny-inversion" && n["type"] == "inversion"),
        "{models}"
    );
    assert!(
        networks
            .iter()
            .any(|n| n["name"] == "tiny-lora" && n["type"] == "lora"),
        "{models}"
    );

    let params = server.get_json("/api/settings/params");
    assert_eq!(params["version"], "0.12.0");
    for key in [
        "batch",
        "cfg",
        "steps",
        "width",
        "height",
        "seed",
        "scheduler",
        "model",
        "unet_tile",
        "highresMethod",
    ] {
        assert!(
            params[key].get("default").is_some(),
            "params.{key} has no default: {params}"
        );
    }
    assert_eq!(
        params["steps"],
        json!({"default": 25, "min": 1, "max": 300, "step": 1})
    );

    assert_eq!(
        server.get_json("/api/settings/platforms"),
        json!(["any", "cpu"])
    );
    let schedulers = server.get_json("/api/settings/schedulers");
    for name in ["ddim", "euler", "euler-a", "pndm"] {
        assert!(
            schedulers.as_array().unwrap().contains(&json!(name)),
            "{schedulers}"
        );
    }
    assert_eq!(
        server.get_json("/api/settings/masks"),
        json!(["none", "gaussian-multiply", "gaussian-screen"])
    );
    assert_eq!(
        server.get_json("/api/settings/noises"),
        json!([
            "fill-edge",
            "fill-mask",
            "gaussian",
            "histogram",
            "normal",
            "uniform"
        ])
    );
    let filters = server.get_json("/api/settings/filters");
    assert_eq!(
        filters["mask"],
        json!(["none", "gaussian-multiply", "gaussian-screen"])
    );
    assert!(filters["source"]
        .as_array()
        .unwrap()
        .contains(&json!("none")));
    assert!(server
        .get_json("/api/settings/pipelines")
        .as_array()
        .unwrap()
        .contains(&json!("txt2img")));
    assert_eq!(
        server.get_json("/api/settings/wildcards"),
        json!(["colors"])
    );
    let strings = server.get_json("/api/settings/strings");
    assert_eq!(
        strings["en"]["translation"]["model"]["diffusion-tiny-demo"],
        "Tiny demo (random weights)"
    );
}

fn assert_bad_request(server: &TestServer, method: reqwest::Method, path: &str, field: &str) {
    let response = server
        .client
        .request(method, server.url(path))
        .send()
        .unwrap();
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    assert_eq!(status, 400, "{path}: {body}");
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no error in {body}"));
    assert!(
        error.contains(field),
        "{path}: error {error:?} does not name {field}"
    );
}

#[test]
fn bad_input_gets_a_400_json_error_naming_the_field() {
    let server = TestServer::start();
    let post = reqwest::Method::POST;
    let cases = [
        ("/api/txt2img?prompt=x&model=..%2F..%2Fetc", "model"),
        ("/api/txt2img?prompt=x&scheduler=warp%2Fdrive", "scheduler"),
        (
            "/api/txt2img?prompt=x&platform=%E2%80%AEquantum",
            "platform",
        ),
        ("/api/txt2img?prompt=x&steps=abc", "steps"),
        ("/api/txt2img?prompt=x&steps=5.5", "steps"),
        ("/api/txt2img?prompt=x&cfg=nan", "cfg"),
        ("/api/txt2img?prompt=x&cfg=inf", "cfg"),
        ("/api/txt2img?prompt=x&width=wide", "width"),
        ("/api/txt2img?prompt=x&seed=-5", "seed"),
        ("/api/txt2img?prompt=x&seed=99999999999", "seed"),
        ("/api/txt2img?prompt=x&batch=", "batch"),
        ("/api/txt2img?prompt=x&pipeline=tele%0Aport", "pipeline"),
    ];
    for (path, field) in cases {
        assert_bad_request(&server, post.clone(), path, field);
    }
    assert_bad_request(&server, reqwest::Method::GET, "/api/ready", "output");
    assert_bad_request(&server, reqwest::Method::PUT, "/api/cancel", "output");
    // The server is still up and nothing was queued.
    assert_eq!(
        server.get_json("/api/settings/platforms"),
        json!(["any", "cpu"])
    );
    // Only the (hidden) job database is there.
    let outputs = std::fs::read_dir(server.outputs.path())
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(outputs, 0);
}

#[test]
fn unknown_names_fall_back_with_a_warning_naming_the_field() {
    let server = TestServer::start();
    for (field, value, used) in [
        ("model", "no-such-model", "diffusion-tiny-demo"),
        ("scheduler", "warp-drive", "euler-a"),
        ("scheduler", "DPM%2B%2B+2M", "dpm-multi"),
        ("pipeline", "teleport", "txt2img"),
        ("platform", "quantum", ""),
    ] {
        let job = server.txt2img(&format!(
            "prompt=x&steps=1&width=64&height=64&seed=1&{field}={value}"
        ));
        let warnings = job["warnings"].as_array().expect("warnings");
        assert_eq!(warnings.len(), 1, "{field}={value}: {job}");
        let warning = warnings[0].as_str().unwrap();
        assert!(warning.starts_with(&format!("{field}: ")), "{warning}");
        if !used.is_empty() {
            assert_eq!(job["params"][field], used, "{job}");
            assert!(warning.contains(&format!("{used:?}")), "{warning}");
        }
        assert_eq!(server.images(&job).len(), 1);
    }
    // Listed names: no `warnings` key, as in onnx-web's response.
    let job = server.txt2img("prompt=x&steps=1&width=64&height=64&seed=1&scheduler=ddim");
    assert!(job.get("warnings").is_none(), "{job}");
    assert!(server.log().contains("is not a scheduler here"));
}

#[test]
fn out_of_range_numbers_are_clamped_as_onnx_web_clamps_them() {
    let server = TestServer::start();
    let job = server.txt2img("prompt=x&steps=1000&cfg=-3&batch=9&eta=7&width=64&height=64&seed=1&model=diffusion-tiny-demo");
    let params = &job["params"];
    assert_eq!(params["steps"], 300);
    assert_eq!(params["cfg"], 0.0);
    assert_eq!(params["batch"], 5);
    assert_eq!(params["eta"], 1.0);
    assert_eq!(job["outputs"].as_array().unwrap().len(), 5);
    server.cancel(job["outputs"][0].as_str().unwrap());
}

#[test]
fn ready_for_an_unknown_job_reports_failed_and_cancel_of_it_is_refused() {
    let server = TestServer::start();
    assert_eq!(
        server.ready("txt2img_1_abc_1_0.png"),
        json!({"cancelled": false, "failed": true, "pending": false, "progress": 0, "ready": true})
    );
    assert_eq!(server.cancel("txt2img_1_abc_1_0.png")["cancelled"], false);
}

#[test]
fn paths_never_leave_the_output_and_bundle_folders() {
    let server = TestServer::start();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "secret").unwrap();
    // A symlink inside the outputs folder that points outside it.
    std::os::unix::fs::symlink(secret.path(), server.outputs.path().join("link.png")).unwrap();
    std::fs::write(server.outputs.path().join("real.png"), b"not really a png").unwrap();
    assert_eq!(server.get("/output/real.png").status(), 200);

    let escapes = [
        "/output/link.png",
        "/output/../Cargo.toml",
        "/output/%2e%2e/Cargo.toml",
        "/output/..%2FCargo.toml",
        "/output/..%5CCargo.toml",
        "/output/%2Fetc%2Fpasswd",
        "/output//etc/passwd",
        "/output/real.png%00.json",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/..%2F..%2Fetc%2Fpasswd",
        "/%2Fetc%2Fpasswd",
    ];
    for path in escapes {
        // Send the path exactly as written: no client-side normalisation of `..`.
        let response = raw_get(&server.base, path);
        assert!(
            response.starts_with("HTTP/1.1 404") || response.starts_with("HTTP/1.1 400"),
            "{path}: {}",
            response.lines().next().unwrap_or("")
        );
        assert!(
            !response.contains("secret")
                && !response.contains("[workspace]")
                && !response.contains("root:"),
            "{path} leaked a file"
        );
    }
    // The bundle folder itself is served.
    assert_eq!(server.get("/").status(), 200);
}

/// A GET with the path sent byte for byte.
fn raw_get(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn a_missing_onnx_runtime_library_is_a_clear_start_up_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_onnx-web"))
        .args(["--port", "0", "--ort-lib", "/nonexistent/libonnxruntime.so"])
        .arg("--models")
        .arg(common::models_dir())
        .arg("--outputs")
        .arg(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ONNX Runtime was not found"), "{stderr}");
    assert!(stderr.contains("pip install onnxruntime"), "{stderr}");
}

#[test]
fn an_onnx_runtime_older_than_1_23_is_refused_cleanly() {
    let library = common::workspace_root().join("third_party/onnxruntime-1.22/libonnxruntime.so");
    assert!(
        library.is_file(),
        "{} missing: scripts/test.sh fetches it",
        library.display()
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_onnx-web"))
        .args(["--port", "0", "--ort-lib"])
        .arg(&library)
        .arg("--models")
        .arg(common::models_dir())
        .arg("--outputs")
        .arg(std::env::temp_dir())
        .output()
        .unwrap();
    // An exit code, not a signal: ONNX Runtime 1.22 crashes inside session creation with this ort.
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1.22.1") && stderr.contains("1.23"),
        "{stderr}"
    );
}

#[test]
fn a_broken_model_fails_its_job_and_the_server_keeps_serving() {
    // A models folder with the demo model and a copy whose UNet file is garbage.
    let models = tempfile::tempdir().unwrap();
    let demo = common::models_dir().join("diffusion-tiny-demo");
    std::os::unix::fs::symlink(&demo, models.path().join("diffusion-tiny-demo")).unwrap();
    let broken = models.path().join("diffusion-broken");
    std::fs::create_dir_all(broken.join("unet")).unwrap();
    for part in [
        "tokenizer",
        "scheduler",
        "text_encoder",
        "vae_decoder",
        "vae_encoder",
    ] {
        std::os::unix::fs::symlink(demo.join(part), broken.join(part)).unwrap();
    }
    std::fs::write(broken.join("unet/model.onnx"), b"not an onnx model").unwrap();

    let server = TestServer::start_in(models.path(), &[], &[]);
    let job = server.txt2img("prompt=x&steps=2&width=64&height=64&seed=1&model=diffusion-broken");
    let key = job["outputs"][0].as_str().unwrap();
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["failed"], true, "{last}");
    assert_eq!(last["cancelled"], false);
    assert_eq!(server.get(&format!("/output/{key}")).status(), 404);
    assert!(
        server.log().contains("job failed"),
        "the error is logged:\n{}",
        server.log()
    );

    let good =
        server.txt2img("prompt=x&steps=2&width=64&height=64&seed=1&model=diffusion-tiny-demo");
    assert_eq!(server.images(&good)[0].dimensions(), (64, 64));
}
