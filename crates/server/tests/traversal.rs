//! Path traversal against the real server: `/output/`, the bundle (`/<path>`), model, network,
//! upscaler and wildcard names, and ready/cancel keys. Raw HTTP is used where a client library
//! would normalise `..` away. Nothing outside the configured folders is ever served or read.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::TestServer;
use serde_json::Value;

const SECRET: &str = "TOP-SECRET-d41d8cd9";

/// A GET with the path sent exactly as written; returns the status and body.
fn raw_get(server: &TestServer, path: &str) -> (u16, String) {
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// A models folder with the tiny model, a wildcard inside and wildcards linked out of it; a GUI
/// folder with a link out; a secret file beside them.
struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::write(r.join("secret.txt"), SECRET).unwrap();
        std::fs::create_dir_all(r.join("models/wildcard")).unwrap();
        symlink(
            common::models_dir().join("diffusion-tiny-demo"),
            r.join("models/diffusion-tiny-demo"),
        )
        .unwrap();
        std::fs::write(r.join("models/wildcard/colors.txt"), "blue\n").unwrap();
        symlink(r.join("secret.txt"), r.join("models/wildcard/stolen.txt")).unwrap();
        symlink(r.join("models/wildcard"), r.join("models/wildcard/loop")).unwrap();
        std::fs::create_dir_all(r.join("gui")).unwrap();
        std::fs::write(r.join("gui/index.html"), "<html></html>").unwrap();
        symlink(r.join("secret.txt"), r.join("gui/leak.js")).unwrap();
        Self { root }
    }

    fn path(&self) -> &Path {
        self.root.path()
    }
}

fn assert_refused(server: &TestServer, path: &str) {
    let (status, answer) = raw_get(server, path);
    assert!(
        status == 404 || status == 400,
        "{path}: answered {status}\n{answer}"
    );
    assert!(!answer.contains(SECRET), "{path} leaked the secret");
    assert!(
        answer.contains("\"error\""),
        "{path}: not a JSON error\n{answer}"
    );
}

#[test]
fn files_outside_the_output_and_bundle_folders_are_never_served() {
    let fixture = Fixture::new();
    let gui = fixture.path().join("gui");
    let server = TestServer::start_in(
        &fixture.path().join("models"),
        &["--bundle", gui.to_str().unwrap()],
        &[],
    );
    // A real output to aim next to, and a link out of the outputs folder.
    let job = server.txt2img("prompt=a&steps=2&width=64&height=64");
    let key = job["outputs"][0].as_str().unwrap().to_owned();
    server.wait(&key);
    symlink(
        fixture.path().join("secret.txt"),
        server.outputs.path().join("link.png"),
    )
    .unwrap();
    std::fs::write(server.outputs.path().join("../secret-beside.txt"), SECRET).unwrap();
    let (status, _) = raw_get(&server, &format!("/output/{key}"));
    assert_eq!(status, 200, "the real output is served");
    for prefix in ["/output/", "/"] {
        for attack in [
            "../secret.txt",
            "../../secret.txt",
            "..%2fsecret.txt",
            "..%2Fsecret-beside.txt",
            "%2e%2e/secret-beside.txt",
            "%2e%2e%2f%2e%2e%2fsecret.txt",
            "..%5csecret.txt",
            "..\\secret.txt",
            "%2Fetc%2Fpasswd",
            "/etc/passwd",
            "//etc/passwd",
            "secret.txt%00.png",
            "link.png",
            "leak.js",
            ".onnx-web-jobs.sqlite3",
            "C:/Windows/win.ini",
        ] {
            assert_refused(&server, &format!("{prefix}{attack}"));
        }
    }
    // The outputs' job database is a hidden file: never served.
    assert!(server
        .outputs
        .path()
        .join(".onnx-web-jobs.sqlite3")
        .is_file());
    // ready/cancel keys are sanitised to a bare name.
    for key in ["../secret.txt", "..%2F..%2Fsecret.txt", "%2Fetc%2Fpasswd"] {
        let status = server.ready(key);
        assert_eq!(status["failed"], true, "{key}: {status}");
        assert_eq!(server.cancel(key)["cancelled"], false);
    }
}

#[test]
fn model_network_and_wildcard_names_never_leave_their_folders() {
    let fixture = Fixture::new();
    let server = TestServer::start_in(&fixture.path().join("models"), &[], &[]);
    // Wildcards linked out of the folder, or to a folder (a cycle), are not listed.
    let wildcards: Vec<String> =
        serde_json::from_value(server.get_json("/api/settings/wildcards")).unwrap();
    assert!(wildcards.contains(&"colors".to_owned()), "{wildcards:?}");
    assert!(
        wildcards
            .iter()
            .all(|w| !w.contains("stolen") && !w.contains("loop")),
        "{wildcards:?}"
    );
    // Model names are checked against the listed ones, never joined into a path.
    for name in [
        "../diffusion-tiny-demo",
        "/etc",
        "diffusion-tiny-demo/../..",
        "..%2F..%2Fsecret",
        "diffusion-tiny-demo%00",
    ] {
        for field in ["model", "upscaling", "correction"] {
            let response = server.post(&format!(
                "/api/txt2img?steps=2&width=64&height=64&{field}={name}"
            ));
            let status = response.status().as_u16();
            let body: Value = response.json().unwrap();
            if field == "model" {
                assert_eq!(status, 400, "{field}={name}: {body}");
                let error = body["error"].as_str().unwrap();
                assert!(
                    error.starts_with("model") || error.contains("NUL"),
                    "{body}"
                );
            } else {
                // Unknown upscalers and correction models fall back as in onnx-web: no path.
                assert!(status == 200 || status == 400, "{field}={name}: {body}");
                assert!(!body.to_string().contains(SECRET));
            }
        }
    }
    // Network names in the prompt are looked up among the listed networks: a name that tries
    // to leave the folder is an unknown network, which fails the job naming it (as a missing
    // LoRA file fails onnx-web's job); the secret is never read.
    for token in [
        "%3Clora:..%2F..%2Fsecret:1%3E",
        "%3Cinversion:%2Fetc%2Fpasswd:1%3E",
    ] {
        let job = server.txt2img(&format!("steps=2&width=64&height=64&prompt={token}+a+cube"));
        let key = job["outputs"][0].as_str().unwrap();
        let last = server.wait(key).pop().unwrap();
        assert_eq!(last["failed"], true, "{last}");
        let reason = last["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("no lora") || reason.contains("no inversion"),
            "{last}"
        );
        assert!(!last.to_string().contains(SECRET), "{last}");
    }
    // Wildcard names: unknown ones (out of the folder) expand to nothing, the inside one works.
    let job = server
        .txt2img("steps=2&width=64&height=64&prompt=__stolen__+__..%2F..%2Fsecret__+__colors__");
    let key = job["outputs"][0].as_str().unwrap();
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["failed"], false, "{last}");
    let prompt = job["params"]["prompt"].as_str().unwrap();
    assert!(!prompt.contains(SECRET), "{prompt}");
    assert!(
        prompt.contains("blue"),
        "the inside wildcard expands: {prompt}"
    );
    let sidecar = String::from_utf8(server.output_bytes(&format!("{key}.json"))).unwrap();
    assert!(!sidecar.contains(SECRET));
}
