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

#[test]
fn a_byte_budget_evicts_the_least_recently_used_but_keeps_the_newest() {
    let engine = engine();
    let root = models();
    let load = |part: &str| {
        let path = root.join(format!("diffusion-tiny-demo/{part}/model.onnx"));
        (path.clone(), engine.load(&path, "cpu").unwrap())
    };
    let (encoder_path, encoder) = load("vae_encoder");
    let (decoder_path, decoder) = load("vae_decoder");
    let (text_path, text) = load("text_encoder");
    let key = |p: &std::path::Path| (p.to_path_buf(), "cpu".to_owned());
    // Budget for about two VAE halves: the text encoder (6.5 MB) alone exceeds it.
    let cache = onnx_web_engine::ModelCache::new(10, 1_200_000);
    cache.insert(key(&encoder_path), encoder, 421_586);
    cache.insert(key(&decoder_path), decoder, 678_663);
    assert_eq!(cache.len(), 2);
    assert!(cache.get(&key(&encoder_path)).is_some()); // now the most recently used
    cache.insert(key(&text_path), text, 6_529_079);
    assert_eq!(
        cache.len(),
        1,
        "everything older goes; the newest stays even over budget"
    );
    assert!(cache.get(&key(&text_path)).is_some());
    assert!(cache.get(&key(&encoder_path)).is_none());
}
