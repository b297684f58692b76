//! The model cache (its own process: other tests would evict entries) against the real ONNX Runtime library and the generated tiny models.

mod common;

use common::{engine, models};

use std::sync::Arc;

#[test]
fn caches_sessions_and_evicts_the_least_recently_used() {
    let engine = engine();
    let root = models();
    let path = |part: &str| root.join(format!("diffusion-tiny-int64/{part}/model.onnx"));
    let first = engine.load(&path("vae_encoder"), "cpu").unwrap();
    let again = engine.load(&path("vae_encoder"), "cpu").unwrap();
    assert!(Arc::ptr_eq(&first, &again), "a cached model is reused");
    // The limit is 3: three other models push the first one out.
    for part in ["vae_decoder", "text_encoder", "unet"] {
        engine.load(&path(part), "cpu").unwrap();
    }
    assert!(engine.cache().len() <= 3);
    let reloaded = engine.load(&path("vae_encoder"), "cpu").unwrap();
    assert!(
        !Arc::ptr_eq(&first, &reloaded),
        "an evicted model is loaded again"
    );
}
