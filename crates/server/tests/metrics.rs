//! `GET /metrics` on the real server: admin only, the Prometheus text format (read with the
//! reference parser, `prometheus_client.parser` from the project venv: `scripts/setup.sh`
//! installs it), and counters that follow a real txt2img job. Also: every listed model has a
//! readable label in `/api/settings/strings`.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use common::{workspace_root, TestServer};
use serde::Deserialize;

const STEPS: u32 = 3;

/// Parses Prometheus text with `prometheus_client`'s parser (which refuses what is not the
/// format) and prints the families as JSON; non-finite values as strings.
const PARSER: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    samples = [
        {"name": s.name, "labels": s.labels,
         "value": s.value if math.isfinite(s.value) else str(s.value)}
        for s in family.samples
    ]
    families.append({"name": family.name, "type": family.type, "samples": samples})
json.dump(families, sys.stdout)
"#;

#[derive(Debug, Deserialize)]
struct Family {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    samples: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: serde_json::Value,
}

struct Scrape {
    families: Vec<Family>,
}

/// The venv Python with `prometheus_client` (`ONNX_WEB_TEST_PYTHON` overrides it).
fn python() -> std::path::PathBuf {
    std::env::var_os("ONNX_WEB_TEST_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"))
}

fn parse(text: &str) -> Scrape {
    let mut child = Command::new(python())
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's Python: run scripts/setup.sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "prometheus_client could not parse the scrape (or is missing: run scripts/setup.sh): {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    Scrape {
        families: serde_json::from_slice(&output.stdout).unwrap(),
    }
}

/// Scrapes `/metrics` with the admin token and parses it.
fn scrape(server: &TestServer) -> Scrape {
    let response = server.get("/metrics?token=t");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse(&response.text().unwrap())
}

impl Scrape {
    /// The family's type (`counter`, `gauge`, `histogram`, ...); the parser names counters
    /// without `_total`.
    fn kind(&self, family: &str) -> Option<&str> {
        self.families
            .iter()
            .find(|f| f.name == family)
            .map(|f| f.kind.as_str())
    }

    fn samples<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.families
            .iter()
            .flat_map(|family| &family.samples)
            .filter(move |sample| {
                sample.name == name
                    && labels.iter().all(|(label, value)| {
                        sample.labels.get(*label).map(String::as_str) == Some(*value)
                    })
            })
    }

    /// A sample's value, summed over the samples with these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(name, labels)
            .map(|sample| sample.value.as_f64().expect("a finite value"))
            .sum()
    }

    /// Observations of a histogram with these labels.
    fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(&format!("{name}_count"), labels)
    }
}

#[test]
fn metrics_need_the_admin_token_and_follow_a_txt2img_job() {
    let server = TestServer::start_with(&["--admin-token", "t"], &[]);
    assert_eq!(server.get("/metrics").status(), 401);
    assert_eq!(server.get("/metrics?token=wrong").status(), 401);
    let by_header = server
        .client
        .get(server.url("/metrics"))
        .header("X-Admin-Token", "t")
        .send()
        .unwrap();
    assert_eq!(by_header.status(), 200);

    let job = server.txt2img(&format!(
        "prompt=a+cube&steps={STEPS}&width=64&height=64&seed=3&model=diffusion-tiny-demo"
    ));
    let images = server.images(&job);
    assert_eq!(images.len(), 1);
    let key = job["outputs"][0].as_str().unwrap();
    let steps = server.ready(key)["progress"].as_f64().unwrap();
    assert!(steps >= f64::from(STEPS), "{steps}");

    let first = scrape(&server);
    for (family, kind) in [
        ("onnx_web_http_requests", "counter"),
        ("onnx_web_http_request_duration_seconds", "histogram"),
        ("onnx_web_queue_length", "gauge"),
        ("onnx_web_jobs", "gauge"),
        ("onnx_web_jobs_finished", "counter"),
        ("onnx_web_job_duration_seconds", "histogram"),
        ("onnx_web_step_duration_seconds", "histogram"),
        ("onnx_web_model_cache_loads", "counter"),
        ("onnx_web_model_cache_models", "gauge"),
    ] {
        assert_eq!(first.kind(family), Some(kind), "{family}");
    }
    let job_labels = [("pipeline", "txt2img"), ("model", "diffusion-tiny-demo")];
    let succeeded = [
        ("pipeline", "txt2img"),
        ("model", "diffusion-tiny-demo"),
        ("outcome", "succeeded"),
    ];
    assert!(first.value("onnx_web_jobs_finished_total", &succeeded) >= 1.0);
    assert!(first.histogram_count("onnx_web_job_duration_seconds", &job_labels) >= 1.0);
    let step_count = first.histogram_count("onnx_web_step_duration_seconds", &job_labels);
    assert!(step_count >= steps, "{step_count} steps timed, {steps} run");
    assert!(
        first.value(
            "onnx_web_http_requests_total",
            &[
                ("route", "/api/txt2img"),
                ("method", "POST"),
                ("status", "200")
            ]
        ) >= 1.0
    );
    assert!(
        first.value(
            "onnx_web_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ) >= 2.0
    );
    assert!(
        first.histogram_count(
            "onnx_web_http_request_duration_seconds",
            &[("route", "/api/txt2img")]
        ) >= 1.0
    );
    // Route templates, never raw paths: the output file name is no label.
    assert!(
        first.value(
            "onnx_web_http_requests_total",
            &[("route", "/output/{*path}"), ("status", "200")]
        ) >= 1.0
    );
    assert!(!first
        .families
        .iter()
        .flat_map(|family| &family.samples)
        .any(|sample| sample.labels.values().any(|v| v.contains(key))));
    assert!(first.value("onnx_web_model_cache_loads_total", &[]) >= 1.0);
    assert_eq!(first.value("onnx_web_queue_length", &[]), 0.0);
    assert_eq!(first.value("onnx_web_jobs", &[("state", "running")]), 0.0);
    assert!(first.value("onnx_web_jobs", &[("state", "succeeded")]) >= 1.0);

    // The same model again: its sessions come from the cache.
    server.images(&server.txt2img(&format!(
        "prompt=a+ball&steps={STEPS}&width=64&height=64&seed=4&model=diffusion-tiny-demo"
    )));
    let again = scrape(&server);
    assert!(again.value("onnx_web_jobs_finished_total", &succeeded) >= 2.0);
    assert!(again.value("onnx_web_model_cache_hits_total", &[]) >= 1.0);
}

#[test]
fn every_model_has_a_readable_label() {
    let server = TestServer::start();
    let models = server.get_json("/api/settings/models");
    let strings = server.get_json("/api/settings/strings");
    let labels = &strings["en"]["translation"]["model"];
    let mut keys: Vec<String> = Vec::new();
    for list in ["diffusion", "correction", "upscaling"] {
        for name in models[list].as_array().unwrap() {
            keys.push(name.as_str().unwrap().to_owned());
        }
    }
    for network in models["networks"].as_array().unwrap() {
        keys.push(format!(
            "{}.{}",
            network["type"].as_str().unwrap(),
            network["name"].as_str().unwrap()
        ));
        let label = network["label"].as_str().unwrap();
        assert_ne!(label, network["name"].as_str().unwrap(), "{network}");
    }
    assert!(keys.len() > 5, "{keys:?}");
    for key in &keys {
        let label = labels[key.as_str()]
            .as_str()
            .unwrap_or_else(|| panic!("no label for {key}: {labels}"));
        assert!(!label.is_empty() && label != key, "{key}: {label}");
        for prefix in ["diffusion-", "correction-", "upscaling-"] {
            assert!(!label.starts_with(prefix), "{key}: {label}");
        }
    }
    // The extras file's label wins; a model it does not name gets one from its folder name.
    assert_eq!(labels["diffusion-tiny-demo"], "Tiny demo (random weights)");
    assert_eq!(labels["diffusion-tiny-fp16"], "Tiny Fp16");
    assert_eq!(labels["upscaling-tiny-x4"], "Tiny X4");
    assert_eq!(labels["lora.tiny-lora"], "Tiny Lora");
}
