//! onnx-web's own GUI bundle (npm `@apextoaster/onnx-web` 0.12.0, installed by scripts/setup.sh)
//! against the real server, in Debian's headless Chromium driven by playwright-core
//! (`tests/gui/gui.mjs`; scripts/test.sh installs both). One screenshot per step is kept in
//! `target/tmp/gui-artifacts/`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{workspace_root, TestServer};
use serde_json::Value;

const TOKEN: &str = "gui-test-admin-token";

fn gui_test_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gui")
}

#[test]
fn onnx_web_gui_runs_every_tab_against_the_server() {
    let bundle = workspace_root().join("gui/bundle/main.js");
    assert!(
        bundle.is_file(),
        "{} missing: run scripts/setup.sh (it installs the GUI bundle)",
        bundle.display()
    );
    assert!(
        gui_test_dir().join("node_modules/playwright-core").is_dir(),
        "playwright-core missing: run scripts/test.sh (npm ci in crates/server/tests/gui)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium missing: run scripts/test.sh (apt-get install chromium)"
    );

    let server = TestServer::start_with(&[], &[("ONNX_WEB_ADMIN_TOKEN", TOKEN)]);
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gui-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    let output = Command::new("node")
        .arg(gui_test_dir().join("gui.mjs"))
        .env("GUI_URL", &server.base)
        .env("GUI_TOKEN", TOKEN)
        .env("GUI_ARTIFACTS", &artifacts)
        .output()
        .expect("running node (install Node.js: apt-get install nodejs npm)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\nscreenshots in {}", artifacts.display());
    assert!(
        output.status.success(),
        "GUI test failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        output.status,
        server.log()
    );

    // What the browser showed is what the server wrote.
    let results: Value = stdout
        .lines()
        .find_map(|line| line.strip_prefix("gui results: "))
        .map(|json| serde_json::from_str(json).unwrap())
        .expect("the GUI test prints its results");
    for kind in ["txt2img", "img2img", "inpaint"] {
        let key = results[kind][0].as_str().unwrap();
        assert!(key.starts_with(&format!("{kind}_")), "{kind}: {key}");
        let image = image::load_from_memory(&server.output_bytes(key)).unwrap();
        // The GUI sends its params' default size (512) for every tab.
        assert_eq!((image.width(), image.height()), (512, 512), "{key}");
        let ready = server.ready(key);
        assert_eq!(ready["ready"], true, "{kind}: {ready}");
        assert_eq!(ready["failed"], false, "{kind}: {ready}");
    }
    // Upscale tab: the x2 model with scale and outscale 2.
    let key = results["upscale"][0].as_str().unwrap();
    let image = image::load_from_memory(&server.output_bytes(key)).unwrap();
    assert_eq!((image.width(), image.height()), (1024, 1024), "{key}");
    let key = results["blend"][0].as_str().unwrap();
    let image = image::load_from_memory(&server.output_bytes(key)).unwrap();
    assert_eq!((image.width(), image.height()), (512, 512), "{key}");
    let cancelled = results["cancelled"].as_str().unwrap();
    assert_eq!(server.ready(cancelled)["cancelled"], true);
    assert!(!server.outputs.path().join(cancelled).exists());
    for step in [
        "load", "txt2img", "img2img", "inpaint", "upscale", "blend", "cancel", "models", "restart",
    ] {
        let found = std::fs::read_dir(&artifacts).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(&format!("-{step}.png"))
        });
        assert!(found, "no screenshot of step {step}");
    }
}
