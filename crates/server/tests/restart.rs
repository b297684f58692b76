//! Durable jobs: queue jobs on the real server, kill it hard (SIGKILL) while a job runs, start it
//! again on the same outputs folder, and check that every job finishes or is reported failed with
//! a reason: none lost, none run twice, finished ones still answer `ready`.

mod common;
mod upload;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A server process on a given outputs folder (the shared `TestServer` makes its own folder).
struct Server {
    child: Child,
    base: String,
    client: reqwest::blocking::Client,
}

impl Server {
    fn start(outputs: &Path, log: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_onnx-web"))
            .arg("--port")
            .arg("0")
            .arg("--models")
            .arg(common::models_dir())
            .arg("--outputs")
            .arg(outputs)
            .arg("--bundle")
            .arg(common::workspace_root().join("gui"))
            .env_remove("ONNX_WEB_MODEL_PATH")
            .env_remove("ONNX_WEB_OUTPUT_PATH")
            .env("RUST_LOG", "info,ort=warn")
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            )
            .spawn()
            .expect("starting onnx-web");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(address) = line.strip_prefix("onnx-web listening on ") {
                        break address.trim().to_owned();
                    }
                }
                _ => panic!(
                    "server exited before listening:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                ),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn txt2img(&self, query: &str) -> String {
        let response = self
            .client
            .post(format!("{}/api/txt2img?{query}", self.base))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let job: Value = response.json().unwrap();
        job["outputs"][0].as_str().unwrap().to_owned()
    }

    /// An img2img job: its upload must survive the restart too.
    fn img2img(&self, query: &str, width: u32, height: u32) -> String {
        let source = upload::png(&upload::picture(width, height));
        let part = reqwest::blocking::multipart::Part::bytes(source)
            .file_name("source.png")
            .mime_str("image/png")
            .unwrap();
        let response = self
            .client
            .post(format!("{}/api/img2img?{query}", self.base))
            .multipart(reqwest::blocking::multipart::Form::new().part("source", part))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let job: Value = response.json().unwrap();
        job["outputs"][0].as_str().unwrap().to_owned()
    }

    fn ready(&self, key: &str) -> Value {
        self.client
            .get(format!("{}/api/ready?output={key}", self.base))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    fn wait_until(&self, key: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = self.ready(key);
            if done(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "{key}: {status}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn png_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    names
}

#[test]
fn jobs_survive_kill_9_and_a_job_interrupted_twice_fails_with_a_reason() {
    let outputs = tempfile::tempdir().unwrap();
    let log = outputs.path().join("../restart-test.log");
    let server = Server::start(outputs.path(), &log);
    // One quick job that finishes before the kill.
    let done = server.txt2img("prompt=done&steps=2&width=64&height=64&seed=1");
    server.wait_until(&done, |s| s["ready"] == true);
    // Slow jobs: random seeds (-1) must come back the same after the restart.
    let slow = "prompt=slow+%F0%9F%90%88&steps=120&width=128&height=128&seed=-1";
    let mut keys: Vec<String> = (0..3).map(|_| server.txt2img(slow)).collect();
    keys.push(server.img2img(
        "prompt=slow+%F0%9F%90%88&steps=120&strength=1&sourceFilter=none&seed=-1",
        96,
        64,
    ));
    server.wait_until(&keys[0], |s| s["progress"].as_u64().unwrap_or(0) > 0);
    server.kill_hard();

    // Second run: the interrupted job runs again; kill once more while it does.
    let server = Server::start(outputs.path(), &log);
    assert_eq!(
        server.ready(&done)["ready"],
        true,
        "finished before the kill"
    );
    assert_eq!(server.ready(&done)["failed"], false);
    for key in &keys[1..] {
        let status = server.ready(key);
        assert_eq!(
            status["ready"], false,
            "{key} must be queued again: {status}"
        );
    }
    server.wait_until(&keys[0], |s| s["progress"].as_u64().unwrap_or(0) > 0);
    server.kill_hard();

    // Third run: the job interrupted twice is failed with a reason; the rest finish.
    let server = Server::start(outputs.path(), &log);
    let first = server.ready(&keys[0]);
    assert_eq!(first["ready"], true, "{first}");
    assert_eq!(first["failed"], true, "{first}");
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .contains("stopped 2 times"),
        "{first}"
    );
    for key in &keys[1..] {
        let status = server.wait_until(key, |s| s["ready"] == true);
        assert_eq!(status["failed"], false, "{key}: {status}");
    }
    // Each output exactly once, nothing else, and the resumed outputs carry their seed.
    let mut expected: Vec<String> = keys[1..].to_vec();
    expected.push(done.clone());
    expected.sort();
    assert_eq!(png_files(outputs.path()), expected);
    for key in &keys[1..] {
        let sidecar: Value = serde_json::from_slice(
            &std::fs::read(outputs.path().join(format!("{key}.json"))).unwrap(),
        )
        .unwrap();
        let seed = sidecar["params"]["seed"].as_u64().unwrap();
        assert!(seed <= 2_147_483_646);
        assert_eq!(sidecar["params"]["prompt"], "slow 🐈");
    }
    let resumed_img2img = image::open(outputs.path().join(&keys[3])).unwrap();
    assert_eq!(
        (resumed_img2img.width(), resumed_img2img.height()),
        (96, 64)
    );
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        log_text.matches("resuming").count(),
        2,
        "two restarts resumed jobs:\n{log_text}"
    );
    drop(server);
    let _ = std::fs::remove_file(&log);
}
