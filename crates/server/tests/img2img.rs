//! img2img end to end: uploads, strength, source filters (their result is an extra output),
//! loopback, and bad uploads refused with a 400 while the server keeps serving.

mod common;
mod upload;

use common::TestServer;
use upload::{picture, png, post_files, result, submit};

const BASE: &str = "prompt=a+red+cube&cfg=6&model=diffusion-tiny-demo&seed=11";

#[test]
fn img2img_keeps_the_size_and_counts_the_strength_steps() {
    let server = TestServer::start();
    let source = png(&picture(64, 48));
    // 8 steps at strength 0.5: int(8 * 0.5) = 4 UNet calls.
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=8&strength=0.5&sourceFilter=none"),
        &[("source", source.clone())],
    );
    assert_eq!(job["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(
        job["input_size"],
        serde_json::json!({"width": 64, "height": 48})
    );
    assert_eq!(job["size"], serde_json::json!({"width": 64, "height": 48}));
    assert_eq!(job["params"]["pipeline"], "img2img");
    assert!(job["outputs"][0]
        .as_str()
        .unwrap()
        .starts_with("img2img_11_"));
    assert!(job["upscale"].is_object() && job["highres"].is_object());
    let (images, last) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (64, 48));
    assert_eq!(last["progress"], 4);

    // A weaker strength runs fewer steps.
    let weak = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=8&strength=0.2&sourceFilter=none"),
        &[("source", source.clone())],
    );
    let (weak_images, weak_last) = result(&server, &weak);
    assert_eq!(weak_last["progress"], 1);
    assert_ne!(weak_images[0], images[0]);

    // Loopback: one more pass at the same strength.
    let looped = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=8&strength=0.5&sourceFilter=none&loopback=1"),
        &[("source", source)],
    );
    assert_eq!(looped["params"]["loopback"], 1);
    let (_, looped_last) = result(&server, &looped);
    assert_eq!(looped_last["progress"], 8);
}

#[test]
fn every_source_filter_runs_and_its_result_is_the_last_output() {
    let server = TestServer::start();
    let source = png(&picture(64, 48));
    // The model-based ones run the tiny stand-ins in models/filter/ (resized to the model's
    // input where it is fixed, and back to the source size).
    let filters = [
        "canny", "gaussian", "noise", "depth", "normal", "hed", "scribble", "segment", "mlsd",
        "openpose", "face",
    ];
    for filter in filters {
        let job = submit(
            &server,
            &format!("/api/img2img?{BASE}&steps=2&sourceFilter={filter}"),
            &[("source", source.clone())],
        );
        let outputs = job["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 2, "{filter}: batch + the filtered source");
        let (images, _) = result(&server, &job);
        assert_eq!(images[0].dimensions(), (64, 48), "{filter}");
        assert_eq!(images[1].dimensions(), (64, 48), "{filter}");
        let filtered = &images[1];
        let grey = filtered.pixels().all(|p| p[0] == p[1] && p[1] == p[2]);
        let binary = filtered
            .pixels()
            .all(|p| p.0 == [0, 0, 0] || p.0 == [255, 255, 255]);
        match filter {
            "canny" | "scribble" | "mlsd" => assert!(binary, "{filter} is black and white"),
            "depth" | "hed" => {
                assert!(grey, "{filter} is grey");
                assert!(
                    filtered
                        .pixels()
                        .any(|p| p[0] != filtered.get_pixel(0, 0)[0]),
                    "{filter} is not flat"
                );
            }
            "normal" => assert!(
                filtered.pixels().all(|p| p[2] >= 127),
                "normals point to the viewer"
            ),
            "segment" => {
                // ADE20k palette colours, several classes.
                let colours: std::collections::HashSet<_> =
                    filtered.pixels().map(|p| p.0).collect();
                assert!(colours.len() > 1, "{filter}: {colours:?}");
                assert!(!colours.contains(&[0, 0, 0]), "{filter}");
            }
            _ => {}
        }
        if filter == "mlsd" {
            let white = filtered.pixels().filter(|p| p.0 == [255, 255, 255]).count();
            assert!(
                white > 0 && white < 64 * 48 / 2,
                "{filter}: {white} line pixels"
            );
        }
        if filter == "depth" {
            // Normalized by the maximum, as transformers' depth-estimation pipeline.
            assert!(filtered.pixels().any(|p| p[0] >= 250), "{filter}");
        }
    }
    // Faces under 64 pixels are dropped (laion_face): a larger source shows the tiny face mesh.
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=1&sourceFilter=face"),
        &[("source", png(&picture(160, 128)))],
    );
    let (images, _) = result(&server, &job);
    assert_eq!(images[1].dimensions(), (160, 128));
    assert!(
        images[1].pixels().any(|p| p.0 == [10, 200, 10]),
        "the face oval is drawn"
    );
    // A missing filter is onnx-web's first, canny: two outputs.
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=1"),
        &[("source", source.clone())],
    );
    assert_eq!(job["outputs"].as_array().unwrap().len(), 2);
}

#[test]
fn a_filter_without_its_model_is_refused() {
    // The demo model, but no filter/ folder.
    let models = tempfile::tempdir().unwrap();
    let demo = common::models_dir().join("diffusion-tiny-demo");
    std::os::unix::fs::symlink(&demo, models.path().join("diffusion-tiny-demo")).unwrap();
    let server = TestServer::start_in(models.path(), &[], &[]);
    let source = png(&picture(32, 32));
    for (filter, file) in [
        ("depth", "filter/depth.onnx"),
        ("hed", "filter/hed.onnx"),
        ("segment", "filter/segment.onnx"),
        ("openpose", "filter/openpose.onnx"),
        ("face", "filter/face.onnx"),
        ("normal", "filter/dpt-hybrid-midas.onnx"),
    ] {
        let (status, body) = post_files(
            &server,
            &format!("/api/img2img?{BASE}&steps=1&sourceFilter={filter}"),
            &[("source", source.clone())],
        );
        assert_eq!(status, 400, "{filter}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.starts_with("sourceFilter: "), "{body}");
        assert!(error.contains(file), "{filter} names {file}: {body}");
    }
    // The model-free filters still run.
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=1&sourceFilter=gaussian"),
        &[("source", source)],
    );
    assert_eq!(job["outputs"].as_array().unwrap().len(), 2);
}

#[test]
fn odd_sizes_and_batches_work() {
    let server = TestServer::start();
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=2&sourceFilter=none&batch=2"),
        &[("source", png(&picture(70, 36)))],
    );
    let (images, _) = result(&server, &job);
    assert_eq!(images.len(), 2);
    assert!(images.iter().all(|i| i.dimensions() == (70, 36)));
    assert_ne!(images[0], images[1]);
}

#[test]
fn bad_uploads_are_refused_and_the_server_stays_up() {
    let server = TestServer::start();
    let good = png(&picture(32, 32));
    let (status, body) = post_files(&server, &format!("/api/img2img?{BASE}"), &[]);
    assert_eq!(
        (status, body),
        (
            400,
            serde_json::json!({"error": "source image is required"})
        )
    );
    // Not multipart at all.
    let response = server.post(&format!("/api/img2img?{BASE}"));
    assert_eq!(response.status(), 400);

    // A PNG header that claims 100000 × 100000 pixels.
    let mut huge = good.clone();
    huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let mut zero = good.clone();
    zero[16..20].copy_from_slice(&0u32.to_be_bytes());
    let truncated = good[..good.len() / 2].to_vec();
    let garbage = b"this is not an image".to_vec();
    for (what, bytes) in [
        ("huge", huge),
        ("zero-size", zero),
        ("truncated", truncated),
        ("garbage", garbage),
    ] {
        let (status, body) = post_files(
            &server,
            &format!("/api/img2img?{BASE}"),
            &[("source", bytes)],
        );
        assert_eq!(status, 400, "{what}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with("source: "),
            "{what}: {body}"
        );
    }
    // Still serving, and still running jobs.
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=1&sourceFilter=none"),
        &[("source", good)],
    );
    let (images, _) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (32, 32));
}
