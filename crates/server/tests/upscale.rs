//! Upscaling and face correction end to end: Real-ESRGAN-style x2/x4 models (tiled), scale vs
//! outscale, the simple resamplers, the SD x4 upscaler, GFPGAN/CodeFormer stand-ins, the
//! correction order, and bounded memory for a large tiled upscale.

mod common;
mod upload;

use common::TestServer;
use upload::{peak_rss_mib, picture, png, post_files, result, submit};

fn upscale(
    server: &TestServer,
    query: &str,
    width: u32,
    height: u32,
) -> (Vec<image::RgbImage>, serde_json::Value, serde_json::Value) {
    let job = submit(
        server,
        &format!("/api/upscale?prompt=sharp&seed=3&{query}"),
        &[("source", png(&picture(width, height)))],
    );
    let (images, last) = result(server, &job);
    (images, last, job)
}

#[test]
fn esrgan_models_scale_by_their_factor_and_outscale() {
    let server = TestServer::start();
    let (images, _, job) = upscale(
        &server,
        "upscale=true&upscaling=upscaling-tiny-x4&scale=4&outscale=4",
        40,
        24,
    );
    assert_eq!(images[0].dimensions(), (160, 96));
    assert!(job["outputs"][0]
        .as_str()
        .unwrap()
        .starts_with("upscale_3_"));
    // onnx-web quirk: the response's sizes come from the query (default 512), not the image.
    assert_eq!(
        job["input_size"],
        serde_json::json!({"width": 512, "height": 512})
    );
    assert_eq!(
        job["size"],
        serde_json::json!({"width": 2048, "height": 2048})
    );
    assert!(job.get("border").is_none());

    // x4 model, outscale 2: Lanczos down to 2x.
    let (images, _, _) = upscale(
        &server,
        "upscale=true&upscaling=upscaling-tiny-x4&scale=4&outscale=2",
        40,
        24,
    );
    assert_eq!(images[0].dimensions(), (80, 48));
    let (images, _, _) = upscale(
        &server,
        "upscale=true&upscaling=upscaling-tiny-x2&scale=2&outscale=2",
        40,
        24,
    );
    assert_eq!(images[0].dimensions(), (80, 48));
    // Upscaling off: the image is returned as it is.
    let (images, _, _) = upscale(&server, "upscale=false&upscaling=upscaling-tiny-x4", 40, 24);
    assert_eq!(images[0], picture(40, 24));

    // Tiles (unet_tile 128) give the same size, and the tiny model's nearest-neighbour base
    // keeps the picture: tiles are stitched without seams or shifts.
    let (tiled, _, _) = upscale(
        &server,
        "upscale=true&upscaling=upscaling-tiny-x4&outscale=4&unet_tile=128",
        300,
        140,
    );
    assert_eq!(tiled[0].dimensions(), (1200, 560));
    let source = picture(300, 140);
    let mut worst = 0u8;
    for (x, y, px) in tiled[0].enumerate_pixels() {
        let want = source.get_pixel(x / 4, y / 4);
        for c in 0..3 {
            worst = worst.max(px.0[c].abs_diff(want.0[c]));
        }
    }
    assert!(
        worst < 64,
        "tiles do not line up with the source: max difference {worst}"
    );
}

#[test]
fn simple_resamplers() {
    let server = TestServer::start();
    for method in ["bilinear", "bicubic", "lanczos", "nearest"] {
        let (images, _, job) = upscale(
            &server,
            &format!("upscale=true&upscaling={method}&outscale=3"),
            20,
            10,
        );
        assert_eq!(images[0].dimensions(), (60, 30), "{method}");
        assert_eq!(job["upscale"]["upscale_model"], method);
    }
}

#[test]
fn stable_diffusion_upscaler() {
    let server = TestServer::start();
    // One 128-pixel tile, 3 steps: 3 UNet calls.
    let (images, last, _) = upscale(
        &server,
        "upscale=true&upscaling=upscaling-stable-diffusion-x4-tiny&scale=4&outscale=4&steps=3",
        64,
        40,
    );
    assert_eq!(images[0].dimensions(), (256, 160));
    assert_eq!(last["progress"], 3);
    // Larger than a tile: 128-pixel tiles with overlap, 2x outscale.
    let (images, last, _) = upscale(
        &server,
        "upscale=true&upscaling=upscaling-stable-diffusion-x4-tiny&outscale=2&steps=1",
        200,
        72,
    );
    assert_eq!(images[0].dimensions(), (400, 144));
    assert!(last["progress"].as_u64().unwrap() >= 2, "{last}");
}

#[test]
fn face_correction_and_its_order() {
    let server = TestServer::start();
    for model in ["correction-tiny-face", "correction-tiny-codeformer"] {
        let (images, _, _) = upscale(
            &server,
            &format!("faces=true&correction={model}&faceStrength=0.7"),
            64,
            64,
        );
        assert_eq!(images[0].dimensions(), (64, 64), "{model}");
        assert_ne!(images[0], picture(64, 64), "{model} changed nothing");
        let (images, _, _) = upscale(
            &server,
            &format!("faces=true&correction={model}&faceOutscale=2"),
            40,
            30,
        );
        assert_eq!(images[0].dimensions(), (80, 60), "{model}");
    }
    // Strength 0 with GFPGAN (no fidelity input) keeps the image.
    let (images, _, _) = upscale(
        &server,
        "faces=true&correction=correction-tiny-face&faceStrength=0",
        48,
        48,
    );
    assert_eq!(images[0], picture(48, 48));
    // Larger than the face model: corrected in 512-pixel tiles at full resolution.
    let (images, _, _) = upscale(
        &server,
        "faces=true&correction=correction-tiny-face",
        600,
        80,
    );
    assert_eq!(images[0].dimensions(), (600, 80));

    // The size the response predicts is what comes out, for every order.
    for (order, factor) in [
        ("correction-first", 2 * 2),
        ("correction-last", 2 * 2),
        ("correction-both", 2 * 2 * 2),
    ] {
        let query = format!(
            "upscale=true&upscaling=upscaling-tiny-x2&scale=2&outscale=2&faces=true&correction=correction-tiny-face\
             &faceOutscale=2&upscaleOrder={order}&width=96&height=64"
        );
        let (images, _, job) = upscale(&server, &query, 96, 64);
        assert_eq!(
            images[0].dimensions(),
            (96 * factor, 64 * factor),
            "{order}"
        );
        assert_eq!(
            job["size"],
            serde_json::json!({"width": 96 * factor, "height": 64 * factor}),
            "{order}"
        );
    }
    // An unknown order is the default one, with a warning (onnx-web skips the correction).
    let (images, _, job) = upscale(
        &server,
        "faces=true&correction=correction-tiny-face&faceOutscale=2&upscaleOrder=sideways",
        8,
        8,
    );
    assert_eq!(images[0].dimensions(), (16, 16));
    assert_eq!(job["upscale"]["upscale_order"], "correction-first");
    assert_eq!(
        job["warnings"],
        serde_json::json!(["upscaleOrder: \"sideways\" is not an upscale order here; \
                            ran the default order \"correction-first\" instead"])
    );
}

#[test]
fn a_large_tiled_x4_upscale_has_bounded_memory() {
    let server = TestServer::start();
    let before = peak_rss_mib(&server);
    // 1024 × 512 → 4096 × 2048 (25 MB as RGB), in 256-pixel tiles.
    let (images, _, _) = upscale(
        &server,
        "upscale=true&upscaling=upscaling-tiny-x4&outscale=4&unet_tile=256",
        1024,
        512,
    );
    assert_eq!(images[0].dimensions(), (4096, 2048));
    let peak = peak_rss_mib(&server);
    eprintln!("peak RSS {peak} MiB, at start {before} MiB");
    // Measured: about +150 MiB tiled; one 1024 × 512 tile (unet_tile=2048) takes +490 MiB.
    assert!(
        peak < before + 300,
        "peak RSS {peak} MiB (at start {before} MiB)"
    );
}

#[test]
fn upscale_needs_a_source_and_refuses_huge_results() {
    let server = TestServer::start();
    let (status, body) = post_files(&server, "/api/upscale?upscale=true", &[]);
    assert_eq!(
        (status, body),
        (
            400,
            serde_json::json!({"error": "source image is required"})
        )
    );
    // 4096² × 4 × 4 (correction-both squares faceOutscale) is far past the output limit.
    let (status, body) = post_files(
        &server,
        "/api/upscale?upscale=true&upscaling=upscaling-tiny-x4&outscale=4&faces=true&faceOutscale=4&upscaleOrder=correction-both",
        &[("source", png(&picture(2048, 2048)))],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
}

#[test]
fn a_running_tiled_upscale_can_be_cancelled() {
    let server = TestServer::start();
    let job = submit(
        &server,
        "/api/upscale?prompt=x&seed=1&upscale=true&upscaling=upscaling-stable-diffusion-x4-tiny&steps=200",
        &[("source", png(&picture(384, 256)))],
    );
    let key = job["outputs"][0].as_str().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.ready(key)["progress"].as_u64().unwrap() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(server.cancel(key)["cancelled"], true);
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["cancelled"], true, "{last}");
    assert_eq!(last["failed"], true, "{last}");
    // Stopped long before the 200 steps of every tile.
    assert!(last["progress"].as_u64().unwrap() < 200, "{last}");
}
