//! Shared by the engine's test files: the generated models and one engine per process.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use onnx_web_engine::{Engine, EngineOptions};

pub fn models() -> PathBuf {
    let dir = std::env::var_os("ONNX_WEB_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    assert!(
        dir.join("diffusion-tiny-demo").is_dir(),
        "tiny models missing in {}: run scripts/setup.sh first",
        dir.display()
    );
    dir
}

/// ONNX Runtime allows one environment per process, so the tests share one engine.
pub fn engine() -> &'static Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(EngineOptions {
            cache_limit: 3,
            ..EngineOptions::default()
        })
        .expect("ONNX Runtime loads (scripts/setup.sh fetches it)")
    })
}
