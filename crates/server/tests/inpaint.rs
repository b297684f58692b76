//! Inpaint and outpaint end to end: the inpainting UNet and a plain UNet, what onnx-web keeps of
//! the source (outside the full-resolution square, tiles with an empty mask), outpaint borders,
//! every mask filter and noise source, and bad requests.

mod common;
mod upload;

use common::TestServer;
use image::{GrayImage, RgbImage};
use upload::{differing_pixels, picture, png, post_files, rect_mask, result, submit};

fn inpaint(
    server: &TestServer,
    query: &str,
    source: &RgbImage,
    mask: &GrayImage,
) -> (Vec<RgbImage>, serde_json::Value, serde_json::Value) {
    let job = submit(
        server,
        &format!("/api/inpaint?prompt=a+window&seed=5&steps=3&{query}"),
        &[("source", png(source)), ("mask", png(mask))],
    );
    let (images, last) = result(server, &job);
    (images, last, job)
}

#[test]
fn pixels_outside_the_full_resolution_square_are_kept() {
    let server = TestServer::start();
    let source = picture(256, 192);
    // A 40 px square at (100, 80): the full-res square is 48 px around its centre (120, 100).
    let mask = rect_mask(256, 192, 100, 80, 140, 120);
    for model in ["diffusion-tiny-inpaint", "diffusion-tiny-demo"] {
        let (images, last, job) = inpaint(&server, &format!("model={model}"), &source, &mask);
        let out = &images[0];
        assert_eq!(out.dimensions(), (256, 192), "{model}");
        assert_eq!(
            job["border"],
            serde_json::json!({"left": 0, "right": 0, "top": 0, "bottom": 0})
        );
        assert_eq!(last["progress"], 3, "{model}");
        let mut changed_inside = 0;
        for (x, y, px) in out.enumerate_pixels() {
            let inside = (96..144).contains(&x) && (76..124).contains(&y);
            if inside {
                changed_inside += usize::from(px != source.get_pixel(x, y));
            } else {
                assert_eq!(
                    px,
                    source.get_pixel(x, y),
                    "{model}: ({x}, {y}) changed outside the square"
                );
            }
        }
        assert!(
            changed_inside > 1000,
            "{model}: the masked square was not inpainted"
        );
    }
}

#[test]
fn tiles_with_an_empty_mask_are_copied() {
    let server = TestServer::start();
    let source = picture(384, 128);
    // Only the left edge is masked. With 128 px spiral tiles (overlap 0.25) the tiles start at
    // x = -16, 80, 176, 272: everything right of the first tile (x >= 112) comes from tiles
    // with an empty mask.
    let mask = rect_mask(384, 128, 0, 0, 40, 128);
    let (images, _, _) = inpaint(
        &server,
        "model=diffusion-tiny-inpaint&fullresInpaint=false&unet_tile=128&vae_overlap=0.25",
        &source,
        &mask,
    );
    let out = &images[0];
    assert_eq!(out.dimensions(), (384, 128));
    for (x, y, px) in out.enumerate_pixels() {
        if x >= 112 {
            assert_eq!(px, source.get_pixel(x, y), "({x}, {y})");
        }
    }
    assert!(differing_pixels(out, &source) > 1000);

    // An all-black mask keeps the whole image.
    let (images, last, _) = inpaint(
        &server,
        "model=diffusion-tiny-inpaint",
        &source,
        &GrayImage::new(384, 128),
    );
    assert_eq!(images[0], source);
    assert_eq!(last["progress"], 0);
}

#[test]
fn outpainting_grows_the_canvas_by_exactly_the_borders() {
    let server = TestServer::start();
    let source = picture(64, 48);
    let mask = GrayImage::new(64, 48);
    for model in ["diffusion-tiny-inpaint", "diffusion-tiny-demo"] {
        let (images, _, job) = inpaint(
            &server,
            &format!("model={model}&left=16&right=24&top=8&bottom=32&noise=fill-mask&fillColor=%23ff0000"),
            &source,
            &mask,
        );
        assert_eq!(
            images[0].dimensions(),
            (64 + 16 + 24, 48 + 8 + 32),
            "{model}"
        );
        assert_eq!(
            job["input_size"],
            serde_json::json!({"width": 64, "height": 48})
        );
        assert_eq!(job["size"], serde_json::json!({"width": 104, "height": 88}));
        assert_eq!(
            job["border"],
            serde_json::json!({"left": 16, "right": 24, "top": 8, "bottom": 32})
        );
    }
    // The GUI's 512 × 512 mask on a wide source is fitted, as onnx-web does.
    let (images, _, _) = inpaint(
        &server,
        "model=diffusion-tiny-inpaint&left=8&right=8",
        &picture(128, 64),
        &rect_mask(512, 512, 0, 0, 256, 512),
    );
    assert_eq!(images[0].dimensions(), (144, 64));
}

#[test]
fn every_mask_filter_and_noise_source_runs() {
    let server = TestServer::start();
    let source = picture(48, 40);
    let mask = rect_mask(48, 40, 10, 10, 30, 30);
    for filter in ["none", "gaussian-multiply", "gaussian-screen"] {
        for noise in [
            "fill-edge",
            "fill-mask",
            "gaussian",
            "histogram",
            "normal",
            "uniform",
        ] {
            let (images, _, _) = inpaint(
                &server,
                &format!("model=diffusion-tiny-inpaint&steps=1&filter={filter}&noise={noise}&left=8&bottom=8"),
                &source,
                &mask,
            );
            assert_eq!(images[0].dimensions(), (56, 48), "{filter} / {noise}");
        }
    }
}

#[test]
fn inpaint_refuses_missing_and_bad_files() {
    let server = TestServer::start();
    let source = png(&picture(32, 32));
    let mask = png(&rect_mask(32, 32, 0, 0, 8, 8));
    let (status, body) = post_files(&server, "/api/inpaint", &[("mask", mask.clone())]);
    assert_eq!(
        (status, body),
        (
            400,
            serde_json::json!({"error": "source image is required"})
        )
    );
    let (status, body) = post_files(&server, "/api/inpaint", &[("source", source.clone())]);
    assert_eq!(
        (status, body),
        (400, serde_json::json!({"error": "mask image is required"}))
    );
    let (status, body) = post_files(
        &server,
        "/api/inpaint",
        &[
            ("source", source.clone()),
            ("mask", mask[..mask.len() / 2].to_vec()),
        ],
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().starts_with("mask: "),
        "{body}"
    );
    // A mask of the wrong size: a strip that cannot cover the square source once fitted.
    let (status, body) = post_files(
        &server,
        "/api/inpaint",
        &[
            ("source", source.clone()),
            ("mask", png(&rect_mask(32, 4, 0, 0, 8, 2))),
        ],
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cannot cover the 32x32 source"),
        "{body}"
    );
    // The GUI's mask: a larger square canvas, fitted to the source.
    let job = submit(
        &server,
        "/api/inpaint?prompt=x&steps=2&seed=1&model=diffusion-tiny-inpaint",
        &[
            ("source", source.clone()),
            ("mask", png(&rect_mask(512, 512, 0, 0, 128, 128))),
        ],
    );
    assert_eq!(result(&server, &job).0[0].dimensions(), (32, 32));
    let (status, body) = post_files(
        &server,
        "/api/inpaint?fillColor=sparkly",
        &[("source", source), ("mask", mask)],
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().starts_with("fillColor: "),
        "{body}"
    );
}
