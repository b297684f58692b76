//! Server-side request forgery through chain stages (issue 23): a fake S3 endpoint on 127.0.0.2,
//! the only address the server is told to trust (`--allow-url-address 127.0.0.2`), answers every
//! request with a redirect to a canary on 127.0.0.1; whatever the stage (`source-s3`,
//! `source-url`), the canary must never see a connection. Names that resolve to loopback are
//! refused too, and fetches from the trusted address itself (plain HTTP and moto S3) still work,
//! so the test cannot pass by refusing everything. All traffic stays on 127.0.0.0/8.

mod common;
mod moto;
mod upload;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use moto::Moto;
use serde_json::{json, Value};
use upload::{picture, png};

/// A listener on 127.0.0.1 that counts every connection it accepts (and would serve a PNG, so a
/// followed redirect would succeed and show up as a `ready` job).
struct Canary {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Canary {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let body = png(&picture(8, 8));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                if let Ok(stream) = stream {
                    let _ = answer(stream, &ok_png(&body));
                }
            }
        });
        Self { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn ok_png(body: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

fn redirect(location: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Reads a request's head; returns its request line.
fn read_head(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn answer(mut stream: TcpStream, response: &[u8]) -> std::io::Result<()> {
    read_head(&mut stream);
    stream.write_all(response)
}

/// The fake S3 endpoint on 127.0.0.2: `/ok.png` is a real PNG, `/to-name` redirects to the
/// canary by the name `localhost`, everything else redirects to the canary's address.
struct Fake {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn start(canary: u16, image: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.2:0").expect("127.0.0.2 is loopback on Linux");
        let addr: SocketAddr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let line = read_head(&mut stream);
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                seen.lock().unwrap().push(line);
                let response = match path.as_str() {
                    "/ok.png" => ok_png(&image),
                    "/to-name" => redirect(&format!("http://localhost:{canary}/x.png")),
                    _ => redirect(&format!("http://127.0.0.1:{canary}/x.png")),
                };
                let _ = stream.write_all(&response);
            }
        });
        Self {
            base: format!("http://{addr}"),
            requests,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn post_chain(server: &TestServer, chain: &Value) -> Value {
    let (status, body) = server.post_json("/api/chain", chain);
    assert_eq!(status, 200, "{body}");
    body
}

/// Runs a chain and returns its final `/api/ready` status.
fn run(server: &TestServer, stages: Vec<Value>) -> (Value, Value) {
    let mut stages = stages;
    stages.push(json!({"name": "save", "type": "persist-disk", "params": {}}));
    let job = post_chain(server, &json!({ "stages": stages }));
    let key = job["outputs"][0].as_str().unwrap().to_owned();
    (job, server.wait(&key).pop().unwrap())
}

/// Runs a chain that must fail; returns the failure's reason.
fn refused(server: &TestServer, stage: Value) -> String {
    let (_, status) = run(server, vec![stage]);
    assert_eq!(status["failed"], true, "{status}\n{}", server.log());
    status["reason"].as_str().unwrap_or_default().to_owned()
}

fn source_url(url: &str) -> Value {
    json!({"name": "fetch", "type": "source-url", "params": {"source_urls": [url]}})
}

fn source_s3(endpoint: &str, key: &str) -> Value {
    json!({"name": "load", "type": "source-s3", "params": {
        "bucket": "ssrf-bucket", "source_keys": [key], "endpoint_url": endpoint}})
}

#[test]
fn redirects_and_loopback_names_never_reach_the_canary() {
    let canary = Canary::start();
    let image = picture(24, 16);
    let fake = Fake::start(canary.port, png(&image));
    let server = TestServer::start_with(&["--allow-url-address", "127.0.0.2"], &[]);
    let c = canary.port;

    // (a) source-s3 on the trusted fake endpoint, which redirects to the canary: the S3 client
    // follows no redirect, and says so.
    let reason = refused(&server, source_s3(&fake.base, "x.png"));
    assert!(reason.contains("redirect"), "{reason}");
    assert!(reason.contains("302"), "{reason}");
    assert!(
        fake.requests()
            .iter()
            .any(|line| line.starts_with("GET /ssrf-bucket/x.png")),
        "the S3 stage never asked the fake endpoint: {:?}",
        fake.requests()
    );
    assert_eq!(canary.hits(), 0, "source-s3 followed the redirect");

    // ... and an endpoint named `localhost` is refused at connect time.
    let reason = refused(
        &server,
        source_s3(&format!("http://localhost:{c}"), "x.png"),
    );
    assert!(reason.contains("localhost"), "{reason}");
    assert_eq!(canary.hits(), 0, "source-s3 connected to a loopback name");

    // (b) source-url of the fake endpoint: its redirect hop is checked, by address and by name.
    let asked = fake.requests().len();
    let reason = refused(&server, source_url(&format!("{}/x.png", fake.base)));
    assert!(
        reason.contains(&format!("redirected to http://127.0.0.1:{c}/x.png")),
        "{reason}"
    );
    let reason = refused(&server, source_url(&format!("{}/to-name", fake.base)));
    assert!(
        reason.contains(&format!("redirected to http://localhost:{c}/x.png")),
        "{reason}"
    );
    assert_eq!(fake.requests().len(), asked + 2, "{:?}", fake.requests());
    assert_eq!(canary.hits(), 0, "source-url followed a redirect");

    // (c) a name that resolves to loopback, and the canary's address itself.
    let reason = refused(&server, source_url(&format!("http://localhost:{c}/")));
    assert!(reason.contains("localhost"), "{reason}");
    assert!(reason.contains("--allow-url-address"), "{reason}");
    refused(&server, source_url(&format!("http://127.0.0.1:{c}/")));
    let reason = refused(
        &server,
        source_url(&format!("http://[::ffff:127.0.0.1]:{c}/")),
    );
    assert!(reason.contains("that is 127.0.0.1"), "{reason}");
    assert_eq!(canary.hits(), 0, "source-url reached loopback");

    // (d) the trusted address itself still serves: the image arrives whole.
    let (job, status) = run(&server, vec![source_url(&format!("{}/ok.png", fake.base))]);
    assert_eq!(status["failed"], false, "{status}\n{}", server.log());
    let bytes = server.output_bytes(job["outputs"][0].as_str().unwrap());
    let fetched = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(fetched.dimensions(), (24, 16));
    assert_eq!(fetched, image);

    assert_eq!(canary.hits(), 0);
}

#[test]
fn a_port_in_the_allow_entry_limits_it_to_that_port() {
    let canary = Canary::start();
    let image = picture(8, 8);
    let allowed = Fake::start(canary.port, png(&image));
    let other = Fake::start(canary.port, png(&image));
    let entry = allowed.base.trim_start_matches("http://").to_owned();
    let server = TestServer::start_with(&["--allow-url-address", &entry], &[]);

    let (_, status) = run(
        &server,
        vec![source_url(&format!("{}/ok.png", allowed.base))],
    );
    assert_eq!(status["failed"], false, "{status}\n{}", server.log());
    let reason = refused(&server, source_url(&format!("{}/ok.png", other.base)));
    assert!(reason.contains("127.0.0.2"), "{reason}");
    assert!(other.requests().is_empty(), "{:?}", other.requests());
    assert_eq!(canary.hits(), 0);
}

#[test]
fn a_bad_allow_entry_stops_the_server_at_start_up() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_onnx-web"))
        .args(["--port", "0", "--models", "/nonexistent-models"])
        .args(["--allow-url-address", "127.0.0.2,minio:9000"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--allow-url-address") && stderr.contains("minio:9000"),
        "{stderr}"
    );
}

#[test]
fn s3_stages_reach_a_trusted_endpoint_given_by_the_stage() {
    let canary = Canary::start();
    let image = picture(20, 12);
    let fake = Fake::start(canary.port, png(&image));
    let moto = Moto::start("127.0.0.2");
    moto.create_bucket("ssrf-bucket");
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let server = TestServer::start_with(&["--allow-url-address", "127.0.0.2"], &env);

    // persist-s3 uploads to the stage's endpoint_url ...
    let (job, status) = run(
        &server,
        vec![
            source_url(&format!("{}/ok.png", fake.base)),
            json!({"name": "upload", "type": "persist-s3", "params": {
                "bucket": "ssrf-bucket", "endpoint_url": moto.endpoint}}),
        ],
    );
    assert_eq!(status["failed"], false, "{status}\n{}", server.log());
    let key = job["outputs"][0].as_str().unwrap().to_owned();

    // ... and source-s3 reads it back from there.
    let (job, status) = run(&server, vec![source_s3(&moto.endpoint, &key)]);
    assert_eq!(status["failed"], false, "{status}\n{}", server.log());
    let bytes = server.output_bytes(job["outputs"][0].as_str().unwrap());
    assert_eq!(image::load_from_memory(&bytes).unwrap().to_rgb8(), image);
    assert_eq!(canary.hits(), 0);
}
