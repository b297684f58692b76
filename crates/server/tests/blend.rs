//! Blend end to end: two uploaded sources mixed through a mask, named `upscale_...` like
//! onnx-web's, then upscaled.

mod common;
mod upload;

use common::TestServer;
use image::{Rgb, RgbImage};
use upload::{png, post_files, rect_mask, result, submit};

#[test]
fn white_takes_the_second_source_and_black_the_first() {
    let server = TestServer::start();
    let black = RgbImage::from_pixel(64, 32, Rgb([0, 0, 0]));
    let white = RgbImage::from_pixel(64, 32, Rgb([255, 255, 255]));
    // Left half white.
    let mask = rect_mask(64, 32, 0, 0, 32, 32);
    let files = [
        ("source:0", png(&black)),
        ("source:1", png(&white)),
        ("mask", png(&mask)),
    ];
    let job = submit(&server, "/api/blend?seed=4", &files);
    let name = job["outputs"][0].as_str().unwrap();
    assert!(name.starts_with("upscale_4_"), "{name}");
    assert!(job["upscale"].is_object());
    assert!(job.get("highres").is_none() && job.get("border").is_none());
    let (images, _) = result(&server, &job);
    let out = &images[0];
    assert_eq!(out.dimensions(), (64, 32));
    assert_eq!(out.get_pixel(5, 5).0, [255, 255, 255]);
    assert_eq!(out.get_pixel(60, 20).0, [0, 0, 0]);

    // A mask of another size is resized to the second source; upscaling runs afterwards.
    let files = [
        ("source:0", png(&black)),
        ("source:1", png(&white)),
        ("mask", png(&rect_mask(16, 8, 0, 0, 8, 8))),
    ];
    let job = submit(
        &server,
        "/api/blend?seed=4&upscale=true&upscaling=upscaling-tiny-x2&outscale=2",
        &files,
    );
    let (images, _) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (128, 64));
}

#[test]
fn blend_needs_a_mask_and_both_sources() {
    let server = TestServer::start();
    let image = png(&RgbImage::new(8, 8));
    let (status, body) = post_files(
        &server,
        "/api/blend",
        &[("source:0", image.clone()), ("source:1", image.clone())],
    );
    assert_eq!(
        (status, body),
        (400, serde_json::json!({"error": "mask image is required"}))
    );
    let (status, body) = post_files(
        &server,
        "/api/blend",
        &[("source:0", image.clone()), ("mask", image)],
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"], "source:1: source image is required");
}
