//! Limits and exposure on the real server: queue length overall and per client (429), body size
//! (413), pixels per upload and per job (400), request timeout (408), the API token (401), all
//! JSON errors.

mod common;
mod upload;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::Value;
use upload::{picture, png, post_files};

const SLOW: &str = "prompt=slow&steps=150&width=128&height=128&seed=3";

fn post(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server.post(path);
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn cancel_all(server: &TestServer, keys: &[String]) {
    for key in keys {
        server.cancel(key);
    }
}

#[test]
fn the_queue_refuses_past_its_limits_with_429_and_admits_again_later() {
    let server = TestServer::start_with(&["--max-queue", "3", "--max-queue-per-client", "2"], &[]);
    let first = server.txt2img(SLOW)["outputs"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let second = server.txt2img(SLOW)["outputs"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = post(&server, &format!("/api/txt2img?{SLOW}"));
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("one client"),
        "{body}"
    );
    // Cancelling frees the slots.
    cancel_all(&server, &[first.clone(), second.clone()]);
    for key in [&first, &second] {
        server.wait(key);
    }
    let third = server.txt2img(SLOW)["outputs"][0]
        .as_str()
        .unwrap()
        .to_owned();
    cancel_all(&server, &[third]);
}

#[test]
fn the_overall_queue_limit_applies_to_every_client_together() {
    let server = TestServer::start_with(&["--max-queue", "1"], &[]);
    let first = server.txt2img(SLOW)["outputs"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = post(&server, &format!("/api/txt2img?{SLOW}"));
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("queue is full"),
        "{body}"
    );
    // Reading is never limited.
    assert_eq!(server.ready(&first)["ready"], false);
    cancel_all(&server, &[first]);
}

#[test]
fn bodies_uploads_and_results_past_their_limits_are_refused() {
    let server = TestServer::start_with(
        &[
            "--max-body-bytes",
            "20000",
            "--max-upload-pixels",
            "4096",
            "--max-job-pixels",
            "16384",
        ],
        &[],
    );
    // 413: a body larger than the limit (noise does not compress).
    let noise: Vec<u8> = (0..40_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let (status, body) = post_files(
        &server,
        "/api/upscale?model=diffusion-tiny-demo",
        &[("source", noise)],
    );
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("20000 bytes"),
        "{body}"
    );
    // 400: an upload of more pixels than allowed, naming the file.
    let (status, body) = post_files(
        &server,
        "/api/img2img?model=diffusion-tiny-demo",
        &[("source", png(&picture(128, 64)))],
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("source:"),
        "{body}"
    );
    // 400: a result larger than the job limit.
    let (status, body) = post(&server, "/api/txt2img?prompt=a&width=256&height=128");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("limit of 16384"),
        "{body}"
    );
    // Under every limit it works.
    let job = server.txt2img("prompt=a&steps=2&width=64&height=64");
    assert_eq!(server.images(&job).len(), 1);
}

#[test]
fn a_request_slower_than_the_timeout_gets_408() {
    let server = TestServer::start_with(&["--request-timeout-secs", "1"], &[]);
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    // Announce a body and never send it.
    write!(
        stream,
        "POST /api/img2img HTTP/1.1\r\nHost: {address}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000\r\n\r\n--x\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("}") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\""), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn with_an_api_token_changing_requests_need_it_and_reads_do_not() {
    let server = TestServer::start_with(&["--api-token", "s3cret"], &[]);
    let (status, body) = post(&server, "/api/txt2img?prompt=a&steps=2&width=64&height=64");
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("x-api-token"));
    let wrong = server
        .client
        .put(server.url("/api/cancel?output=x.png"))
        .header("X-Api-Token", "s3cre")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let job: Value = server
        .client
        .post(server.url("/api/txt2img?prompt=a&steps=2&width=64&height=64"))
        .header("Authorization", "Bearer s3cret")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let key = job["outputs"][0].as_str().unwrap();
    // GET routes stay open: ready, settings, outputs.
    server.wait(key);
    assert_eq!(server.output_bytes(key)[..4], [0x89, b'P', b'N', b'G']);
    server.get_json("/api/settings/models");
    // Admin routes still need the admin token, API token or not.
    assert_eq!(server.get("/api/status").status(), 401);
}
