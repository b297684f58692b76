//! A real `onnx-web` server process on a free port, with the generated tiny models.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The generated models; `scripts/setup.sh` makes them.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("ONNX_WEB_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("models"));
    assert!(
        dir.join("diffusion-tiny-demo/unet/model.onnx").is_file(),
        "tiny models missing in {}: run scripts/setup.sh first",
        dir.display()
    );
    dir
}

pub struct TestServer {
    child: Child,
    pub base: String,
    pub outputs: tempfile::TempDir,
    pub client: reqwest::blocking::Client,
    stderr_log: PathBuf,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(&[], &[])
    }

    /// Starts the binary with extra arguments and environment variables, and waits until it
    /// prints the address it listens on.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_in(&models_dir(), args, env)
    }

    /// Like [`TestServer::start_with`], serving another models folder.
    pub fn start_in(models: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_on(models, tempfile::tempdir().unwrap(), args, env)
    }

    /// Like [`TestServer::start_in`], on a given outputs folder (e.g. the one a stopped server
    /// used: see [`TestServer::kill`]). The log is appended to across restarts.
    pub fn start_on(
        models: &Path,
        outputs: tempfile::TempDir,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let stderr_log = outputs.path().join("../").join(format!(
            "onnx-web-test-{}.log",
            outputs.path().file_name().unwrap().to_string_lossy()
        ));
        let mut command = Command::new(env!("CARGO_BIN_EXE_onnx-web"));
        if !args.contains(&"--bundle") {
            command.arg("--bundle").arg(workspace_root().join("gui"));
        }
        command
            .arg("--port")
            .arg("0")
            .arg("--models")
            .arg(models)
            .arg("--outputs")
            .arg(outputs.path())
            .args(args)
            .env_remove("ONNX_WEB_MODEL_PATH")
            .env_remove("ONNX_WEB_OUTPUT_PATH")
            .env("RUST_LOG", "info,ort=warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&stderr_log)
                    .unwrap(),
            );
        let mut child = command.spawn().expect("starting onnx-web");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(address) = line.strip_prefix("onnx-web listening on ") {
                        break address.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!(
                        "server exited before listening:\n{}",
                        std::fs::read_to_string(&stderr_log).unwrap_or_default()
                    );
                }
            }
            assert!(Instant::now() < deadline, "server did not start in time");
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base,
            outputs,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            stderr_log,
        }
    }

    /// Kills the server hard (SIGKILL) and hands back its outputs folder, for a restart.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.outputs, tempfile::tempdir().unwrap())
    }

    /// Sends SIGTERM and waits (up to `limit`) for the process to exit; its exit status, its
    /// log, and the outputs folder for a restart.
    pub fn terminate(
        mut self,
        limit: Duration,
    ) -> (Option<std::process::ExitStatus>, String, tempfile::TempDir) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let outputs = std::mem::replace(&mut self.outputs, tempfile::tempdir().unwrap());
        (status, self.log(), outputs)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client.get(self.url(path)).send().unwrap()
    }

    pub fn get_json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().unwrap()
    }

    pub fn post(&self, path: &str) -> reqwest::blocking::Response {
        self.client.post(self.url(path)).send().unwrap()
    }

    /// POSTs a JSON body; returns the status and the JSON answer.
    pub fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self.client.post(self.url(path)).json(body).send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap())
    }

    /// POSTs a txt2img request and returns the job description.
    pub fn txt2img(&self, query: &str) -> Value {
        let response = self.post(&format!("/api/txt2img?{query}"));
        let status = response.status();
        let body = response.text().unwrap();
        assert_eq!(status, 200, "txt2img?{query}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub fn ready(&self, key: &str) -> Value {
        self.get_json(&format!("/api/ready?output={key}"))
    }

    pub fn cancel(&self, key: &str) -> Value {
        let response = self
            .client
            .put(self.url(&format!("/api/cancel?output={key}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().unwrap()
    }

    /// Polls `ready` until the job is done, and returns every status seen.
    pub fn wait(&self, key: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut seen = Vec::new();
        loop {
            let status = self.ready(key);
            seen.push(status.clone());
            if status["ready"] == true {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "job {key} did not finish: {status}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a job, asserts it succeeded, and returns its images decoded.
    pub fn images(&self, job: &Value) -> Vec<image::RgbImage> {
        let outputs = job["outputs"].as_array().expect("outputs");
        let key = outputs[0].as_str().unwrap();
        let last = self.wait(key).pop().unwrap();
        assert_eq!(last["failed"], false, "job failed: {last}\n{}", self.log());
        outputs
            .iter()
            .map(|name| {
                let bytes = self.output_bytes(name.as_str().unwrap());
                image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
                    .expect("a PNG")
                    .to_rgb8()
            })
            .collect()
    }

    pub fn output_bytes(&self, name: &str) -> Vec<u8> {
        let response = self.get(&format!("/output/{name}"));
        assert_eq!(response.status(), 200, "GET /output/{name}");
        response.bytes().unwrap().to_vec()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_log);
    }
}
