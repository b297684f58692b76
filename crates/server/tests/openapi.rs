//! `GET /openapi.json` and `GET /api/docs` against the real server: the document passes PyPI's
//! `openapi-spec-validator` (installed into `.venv` by `scripts/setup.sh`), describes every route,
//! takes its field defaults and limits from `params.json`, and its response schemas match real
//! responses.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{workspace_root, TestServer};
use serde_json::Value;

/// The venv's python (`ONNX_WEB_TEST_PYTHON` overrides it).
fn python() -> PathBuf {
    std::env::var_os("ONNX_WEB_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"))
}

fn openapi(server: &TestServer) -> Value {
    let response = server.get("/openapi.json");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().unwrap()
}

#[test]
fn openapi_document_is_valid() {
    let server = TestServer::start();
    let text = server.get("/openapi.json").text().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let output = Command::new(python())
        .args(["-m", "openapi_spec_validator", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run scripts/setup.sh (it installs openapi-spec-validator)",
                python().display()
            )
        });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "openapi-spec-validator:\n{report}");
    assert!(report.contains("OK"), "{report}");
}

#[test]
fn openapi_describes_every_route() {
    let server = TestServer::start();
    let doc = openapi(&server);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let api = server.get_json("/api");
    let routes = api["routes"].as_array().unwrap();
    for path in ["/openapi.json", "/api/docs"] {
        assert!(
            routes.iter().any(|r| r["path"] == path),
            "{path} missing from /api"
        );
    }
    for route in routes {
        let path = route["path"].as_str().unwrap();
        let openapi_path = path
            .split('/')
            .map(|part| match part.strip_prefix(':') {
                Some(name) => format!("{{{name}}}"),
                None => part.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        let item = &doc["paths"][&openapi_path];
        assert!(item.is_object(), "{openapi_path} missing from the document");
        for method in route["methods"].as_array().unwrap() {
            let method = method.as_str().unwrap().to_ascii_lowercase();
            let op = &item[&method];
            assert!(op.is_object(), "{method} {openapi_path} missing");
            assert!(
                op["responses"]["200"].is_object(),
                "{method} {openapi_path}"
            );
        }
    }
    // And nothing that the server does not route.
    let documented = doc["paths"].as_object().unwrap().len();
    let mut listed: Vec<&str> = routes.iter().map(|r| r["path"].as_str().unwrap()).collect();
    listed.dedup();
    assert_eq!(documented, listed.len());
}

#[test]
fn openapi_fields_come_from_params_json() {
    let server = TestServer::start();
    let doc = openapi(&server);
    let params = server.get_json("/api/settings/params");
    let find = |path: &str, method: &str, name: &str| -> Value {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no {name}"))
            .clone()
    };
    let steps = find("/api/txt2img", "post", "steps");
    assert_eq!(steps["in"], "query");
    assert_eq!(steps["schema"]["type"], "integer");
    for (ours, theirs) in [
        ("default", "default"),
        ("minimum", "min"),
        ("maximum", "max"),
    ] {
        assert_eq!(
            steps["schema"][ours], params["steps"][theirs],
            "steps {ours}"
        );
    }
    assert_eq!(steps["schema"]["x-step"], params["steps"]["step"]);
    let cfg = find("/api/img2img", "post", "cfg");
    assert_eq!(cfg["schema"]["type"], "number");
    assert_eq!(cfg["schema"]["maximum"], params["cfg"]["max"]);
    let strength = find("/api/img2img", "post", "strength");
    assert_eq!(strength["schema"]["default"], params["strength"]["default"]);
    let left = find("/api/inpaint", "post", "left");
    assert_eq!(left["schema"]["maximum"], params["left"]["max"]);
    // Lists are this server's: the models it has, and the served default model.
    let model = find("/api/txt2img", "post", "model");
    assert_eq!(model["schema"]["default"], params["model"]["default"]);
    let models = server.get_json("/api/settings/models");
    assert_eq!(model["schema"]["enum"], models["diffusion"]);
    // Uploads.
    let form = &doc["paths"]["/api/inpaint"]["post"]["requestBody"]["content"]
        ["multipart/form-data"]["schema"];
    assert_eq!(form["required"], serde_json::json!(["source", "mask"]));
    let blend = &doc["paths"]["/api/blend"]["post"]["requestBody"]["content"]
        ["multipart/form-data"]["schema"]["properties"];
    assert!(blend["source:0"].is_object() && blend["source:1"].is_object());
    assert!(
        doc["paths"]["/api/txt2img"]["post"]["responses"]["400"]["content"]["application/json"]
            ["schema"]["$ref"]
            .as_str()
            .unwrap()
            .ends_with("/Error")
    );
}

/// The response schemas name exactly the keys the server sends.
#[test]
fn openapi_schemas_match_responses() {
    let server = TestServer::start();
    let doc = openapi(&server);
    let schemas = &doc["components"]["schemas"];
    let keys = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let properties = |name: &str| keys(&schemas[name]["properties"]);
    let job = server.txt2img("prompt=a+cube&steps=1&width=64&height=64&model=diffusion-tiny-demo");
    assert_eq!(
        keys(&job),
        properties("ImageResponse")
            .into_iter()
            .filter(|k| k != "border")
            .collect::<Vec<_>>()
    );
    assert_eq!(keys(&job["params"]), properties("ImageParams"));
    assert_eq!(keys(&job["upscale"]), properties("UpscaleParams"));
    assert_eq!(keys(&job["highres"]), properties("HighresParams"));
    assert_eq!(keys(&job["size"]), properties("Size"));
    let key = job["outputs"][0].as_str().unwrap();
    let ready = server.ready(key);
    let mut expected = properties("ReadyResponse");
    expected.retain(|k| k != "reason");
    assert_eq!(keys(&ready), expected);
    let models = server.get_json("/api/settings/models");
    assert_eq!(keys(&models), properties("ModelsResponse"));
    let error = server.post("/api/txt2img?steps=abc");
    assert_eq!(error.status(), 400);
    assert_eq!(keys(&error.json::<Value>().unwrap()), properties("Error"));
    server.wait(key);
}

#[test]
fn api_docs_page_renders_the_document() {
    let server = TestServer::start();
    let response = server.get("/api/docs");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().unwrap();
    assert!(
        page.contains("/openapi.json"),
        "the page loads the document"
    );
    // Offline: no external scripts, styles or fonts.
    for external in ["http://", "https://", "//cdn", "<script src", "<link"] {
        assert!(!page.contains(external), "{external} in the page");
    }
}
