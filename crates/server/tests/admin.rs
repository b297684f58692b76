//! What the GUI needs besides the image endpoints: `config.json`, the bundle files, and the admin
//! routes (`/api/extras`, `/api/restart`, `/api/status`) behind the admin token.

mod common;

use common::{models_dir, TestServer};
use reqwest::header;
use serde_json::{json, Value};

const TOKEN: &str = "admin-test-token";

fn server_with_extras() -> (TestServer, tempfile::TempDir) {
    let extras_dir = tempfile::tempdir().unwrap();
    let extras = extras_dir.path().join("extras.json");
    std::fs::copy(models_dir().join("extras.json"), &extras).unwrap();
    let server = TestServer::start_with(
        &["--extra-models", extras.to_str().unwrap()],
        &[("ONNX_WEB_ADMIN_TOKEN", TOKEN)],
    );
    (server, extras_dir)
}

#[test]
fn config_json_names_the_api_root_and_the_server_params() {
    let server = TestServer::start();
    let response = server.get("/config.json");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let config: Value = response.json().unwrap();
    assert_eq!(config["api"]["root"], format!("{}/", server.base));
    assert_eq!(config["params"], server.get_json("/api/settings/params"));

    // The host the browser used, not the bind address: the GUI works through any name.
    let port = server.base.rsplit(':').next().unwrap();
    let config: Value = server
        .client
        .get(server.url("/config.json"))
        .header(header::HOST, format!("localhost:{port}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["api"]["root"], format!("http://localhost:{port}/"));

    // A Host header that is not a name this server answers to never reaches the page's
    // configuration: on loopback the request is refused (DNS rebinding).
    let refused = server
        .client
        .get(server.url("/config.json"))
        .header(header::HOST, "evil.example\"/><script>")
        .send()
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().unwrap();
    assert!(body["error"].as_str().unwrap().starts_with("Host:"));

    let proxied = TestServer::start_with(&["--api-root", "https://sd.example.net/"], &[]);
    let config = proxied.get_json("/config.json");
    assert_eq!(config["api"]["root"], "https://sd.example.net/");
}

#[test]
fn the_gui_page_and_bundle_are_served_with_types_and_caching() {
    let server = TestServer::start();
    let index = server.get("/");
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
    assert!(index.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = index.text().unwrap();
    assert!(page.contains(r#"<div id="app">"#) && page.contains("bundle/main.js"));

    let bundle = server.get("/bundle/main.js");
    assert_eq!(bundle.status(), 200);
    assert!(bundle.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(
        bundle.headers()[header::CACHE_CONTROL],
        "public, max-age=3600"
    );
    let etag = bundle.headers()[header::ETAG].clone();
    assert!(bundle.bytes().unwrap().len() > 1_000_000, "the real bundle");
    let revalidated = server
        .client
        .get(server.url("/bundle/main.js"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .unwrap();
    assert_eq!(revalidated.status(), 304);

    let icon = server.get("/favicon.svg");
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()[header::CONTENT_TYPE], "image/svg+xml");

    // Nothing outside the bundle folder, nor its hidden stamp file.
    for path in [
        "/bundle/.version",
        "/../Cargo.toml",
        "/bundle/..%2f..%2fCargo.toml",
        "/%2e%2e/Cargo.toml",
    ] {
        let response = server.get(path);
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.json::<Value>().unwrap()["error"].is_string());
    }
}

#[test]
fn admin_routes_need_the_admin_token() {
    let (server, _extras) = server_with_extras();
    for (method, path) in [
        ("GET", "/api/extras"),
        ("PUT", "/api/extras"),
        ("POST", "/api/restart"),
        ("GET", "/api/status"),
    ] {
        for query in [
            "",
            "?token=",
            "?token=wrong",
            "?token=admin-test-token-and-more",
        ] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = server
                .client
                .request(method.clone(), server.url(&format!("{path}{query}")))
                .body("{}")
                .send()
                .unwrap();
            assert_eq!(response.status(), 401, "{method} {path}{query}");
            let body: Value = response.json().unwrap();
            assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
        }
    }
}

#[test]
fn extras_are_read_validated_written_and_reloaded() {
    let (server, extras_dir) = server_with_extras();
    let extras = server.get_json(&format!("/api/extras?token={TOKEN}"));
    // Every list the GUI's Models tab maps over is there, even when the file lacks it.
    for list in [
        "diffusion",
        "correction",
        "upscaling",
        "networks",
        "sources",
    ] {
        assert!(extras[list].is_array(), "{list}: {extras}");
    }
    assert_eq!(extras["diffusion"][0]["name"], "diffusion-tiny-demo");

    let put = |body: String| {
        server
            .client
            .put(server.url(&format!("/api/extras?token={TOKEN}")))
            .body(body)
            .send()
            .unwrap()
    };
    // Not JSON or YAML, or not an extras document: 400, and the file is left alone.
    let before = std::fs::read(extras_dir.path().join("extras.json")).unwrap();
    for bad in ["{not json", "[1, 2]", r#"{"diffusion": "not a list"}"#] {
        let response = put(bad.to_owned());
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().unwrap();
        assert!(
            body["error"].as_str().unwrap().starts_with("extras"),
            "{body}"
        );
    }
    assert_eq!(
        std::fs::read(extras_dir.path().join("extras.json")).unwrap(),
        before
    );

    // What the GUI sends: the whole extras object as JSON, with no content type.
    let mut updated = extras.clone();
    updated["diffusion"].as_array_mut().unwrap().push(json!({
        "name": "diffusion-tiny-int64",
        "source": "generated",
        "label": "Tiny int64 timestep",
    }));
    let response = put(updated.to_string());
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().unwrap(), updated);
    let written: Value =
        serde_json::from_slice(&std::fs::read(extras_dir.path().join("extras.json")).unwrap())
            .unwrap();
    assert_eq!(written, updated);
    // Reloaded: the new label is in the strings the GUI translates model names with.
    let strings = server.get_json("/api/settings/strings");
    assert_eq!(
        strings["en"]["translation"]["model"]["diffusion-tiny-int64"],
        "Tiny int64 timestep"
    );
    assert_eq!(
        server.get_json(&format!("/api/extras?token={TOKEN}")),
        updated
    );

    // YAML is accepted too.
    let response = put("diffusion: []\ncorrection: []\n".to_owned());
    assert_eq!(response.status(), 200, "{:?}", response.text());
}

#[test]
fn restart_unloads_models_and_the_server_keeps_serving() {
    let (server, _extras) = server_with_extras();
    let job = server.txt2img("prompt=a&steps=2&width=64&height=64&seed=5");
    let first = server.images(&job);
    let response = server.post(&format!("/api/restart?token={TOKEN}"));
    assert_eq!(response.status(), 200);
    let status: Value = response.json().unwrap();
    for list in ["cancelled", "finished", "pending", "running", "total"] {
        assert!(status[list].is_array(), "{list}: {status}");
    }
    assert!(server.log().contains("restart: models unloaded"));
    // Models load again for the next job, which gives the same picture for the same seed.
    let job = server.txt2img("prompt=a&steps=2&width=64&height=64&seed=5");
    assert_eq!(server.images(&job), first);
}
