//! Faults an attacker or an unlucky operator found (issue 23), each against the real server:
//! malformed request heads answered with JSON, tiny uploads refused before they reach the
//! latents, `Retry-After` on 429, the admin token in a header, the `Host` check on loopback and
//! what `/config.json` echoes, the chain response's size, and the loud warning for a lost job
//! database.

mod common;
mod upload;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{models_dir, TestServer};
use serde_json::Value;

/// Sends raw bytes and returns the status and the body of the answer.
fn raw_request(server: &TestServer, request: &[u8]) -> (u16, String) {
    let address = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn error_of(body: &str) -> String {
    let json: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {body:?}"));
    json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message: {json}"))
        .to_owned()
}

#[test]
fn malformed_request_heads_get_json_errors() {
    let server = TestServer::start();
    // A ~1 MB query: past the request head limit.
    let long_query = format!(
        "GET /api/settings/models?prompt={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let (status, body) = raw_request(&server, long_query.as_bytes());
    assert_eq!(status, 431, "{body}");
    assert!(error_of(&body).contains("limit"), "{body}");

    // A 100 KB cancel name.
    let long_name = format!(
        "PUT /api/cancel?output={} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
        "x".repeat(100_000)
    );
    let (status, body) = raw_request(&server, long_name.as_bytes());
    assert!(status == 414 || status == 431, "{status}: {body}");
    error_of(&body);

    // A NUL in the path.
    let (status, body) = raw_request(
        &server,
        b"GET /api/re\0ady HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body).contains("not valid HTTP"), "{body}");

    // Errors made below the handlers (axum's own rejections) are JSON too.
    let response = server
        .client
        .post(server.url("/api/img2img"))
        .header("content-type", "multipart/form-data")
        .body("x")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    error_of(&response.text().unwrap());

    // The server still serves.
    assert_eq!(server.get("/api/settings/platforms").status(), 200);
}

#[test]
fn sources_under_eight_pixels_are_refused_naming_the_field() {
    let server = TestServer::start();
    let tiny = upload::png(&image::RgbImage::from_pixel(
        7,
        7,
        image::Rgb([200, 100, 50]),
    ));
    for (endpoint, files) in [
        ("inpaint", vec![("source", &tiny), ("mask", &tiny)]),
        ("img2img", vec![("source", &tiny)]),
    ] {
        let mut form = reqwest::blocking::multipart::Form::new();
        for (name, bytes) in files {
            form = form.part(
                name,
                reqwest::blocking::multipart::Part::bytes(bytes.clone())
                    .file_name(format!("{name}.png"))
                    .mime_str("image/png")
                    .unwrap(),
            );
        }
        let response = server
            .client
            .post(server.url(&format!(
                "/api/{endpoint}?model=diffusion-tiny-inpaint&steps=2&seed=1"
            )))
            .multipart(form)
            .send()
            .unwrap();
        assert_eq!(response.status(), 400, "{endpoint}");
        let message = error_of(&response.text().unwrap());
        assert!(
            message.starts_with("source:") && message.contains("7x7"),
            "{endpoint}: {message}"
        );
    }
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[test]
fn refusals_for_a_full_queue_say_when_to_retry() {
    let server = TestServer::start_with(&["--max-queue", "0"], &[]);
    let response = server.post("/api/txt2img?prompt=x&steps=1");
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0);
    error_of(&response.text().unwrap());
}

#[test]
fn the_admin_token_may_come_in_a_header() {
    let server = TestServer::start_with(&["--admin-token", "s3cret"], &[]);
    let status = |token: Option<&str>| {
        let mut request = server.client.get(server.url("/api/status"));
        if let Some(token) = token {
            request = request.header("X-Admin-Token", token);
        }
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(status(Some("s3cret")), 200);
    assert_eq!(status(Some("wrong")), 401);
    assert_eq!(status(None), 401);
    assert_eq!(server.get("/api/status?token=s3cret").status(), 200);
}

#[test]
fn on_loopback_only_known_host_names_are_served() {
    let server = TestServer::start_with(&["--allowed-hosts", "sd.lan"], &[]);
    let get = |host: &str| {
        server
            .client
            .get(server.url("/api/settings/platforms"))
            .header("Host", host)
            .send()
            .unwrap()
    };
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("sd.lan:{port}"),
    ] {
        assert_eq!(get(&host).status(), 200, "{host}");
    }
    // A page on attacker.example whose name now resolves to 127.0.0.1 (DNS rebinding).
    let refused = get(&format!("attacker.example:{port}"));
    assert_eq!(refused.status(), 400);
    assert!(error_of(&refused.text().unwrap()).contains("Host"));
}

#[test]
fn config_json_never_echoes_an_unchecked_host() {
    // Bound to every address: requests are not refused, but the GUI's API root is only taken
    // from a Host this server accepts; otherwise it is the address the connection reached.
    let server = TestServer::start_with(&["--host", "0.0.0.0", "--api-token", "t"], &[]);
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let base = format!("http://127.0.0.1:{port}");
    let root = |host: &str| {
        let config: Value = server
            .client
            .get(format!("{base}/config.json"))
            .header("Host", host)
            .send()
            .unwrap()
            .json()
            .unwrap();
        config["api"]["root"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        root("evil.example:666"),
        format!("http://127.0.0.1:{port}/")
    );
    assert_eq!(
        root(&format!("localhost:{port}")),
        format!("http://localhost:{port}/")
    );
    assert_eq!(root("192.0.2.7:5000"), "http://192.0.2.7:5000/");
}

#[test]
fn the_chain_response_names_the_size_it_makes() {
    let server = TestServer::start();
    let chain = serde_json::json!({
        "stages": [
            {"name": "start", "type": "source-txt2img",
             "params": {"prompt": "a cube", "width": 64, "height": 64, "steps": 2}},
            {"name": "up", "type": "upscale-simple",
             "params": {"method": "bilinear", "scale": 2}},
            {"name": "save", "type": "persist-disk", "params": {}},
        ],
        "defaults": {"seed": 1, "model": "diffusion-tiny-demo"}
    });
    let (status, job) = server.post_json("/api/chain", &chain);
    assert_eq!(status, 200, "{job}");
    assert_eq!(
        job["size"],
        serde_json::json!({"width": 128, "height": 128})
    );
    let images = server.images(&job);
    assert_eq!(images[0].dimensions(), (128, 128));
    let name = job["outputs"][0].as_str().unwrap();
    let sidecar: Value =
        serde_json::from_slice(&server.output_bytes(&format!("{name}.json"))).unwrap();
    assert_eq!(
        sidecar["size"],
        serde_json::json!({"width": 128, "height": 128})
    );
}

#[test]
fn a_lost_job_database_is_reported_loudly() {
    let server = TestServer::start();
    let job = server.txt2img("prompt=x&steps=1&width=64&height=64&seed=2");
    server.images(&job);
    let outputs = server.kill();
    let database = outputs.path().join(".onnx-web-jobs.sqlite3");
    std::fs::remove_file(&database).unwrap();
    let _ = std::fs::remove_file(outputs.path().join(".onnx-web-jobs.sqlite3-wal"));
    let _ = std::fs::remove_file(outputs.path().join(".onnx-web-jobs.sqlite3-shm"));
    let server = TestServer::start_on(&models_dir(), outputs, &[], &[]);
    let log = server.log();
    assert_eq!(
        log.matches("IS MISSING OR EMPTY").count(),
        1,
        "the warning, once:\n{log}"
    );
    // A fresh outputs folder has nothing to warn about.
    assert!(!TestServer::start().log().contains("MISSING OR EMPTY"));
}
