//! instruct-pix2pix end to end: `pipeline=pix2pix` on img2img with the 8-channel tiny model,
//! `strength` as the image guidance scale.

mod common;
mod upload;

use common::TestServer;
use upload::{differing_pixels, picture, png, result, submit};

const BASE: &str = "model=diffusion-tiny-pix2pix&pipeline=pix2pix&prompt=make+it+red&cfg=6&seed=5&sourceFilter=none";

#[test]
fn pix2pix_edits_the_source_with_both_guidance_scales() {
    let server = TestServer::start();
    let source = png(&picture(64, 48));
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=4&strength=1"),
        &[("source", source.clone())],
    );
    assert_eq!(job["params"]["pipeline"], "pix2pix");
    let (images, last) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (64, 48));
    // Every step runs (strength is not a denoising strength here), one UNet call each.
    assert_eq!(last["progress"], 4);

    // Below 1 the image guidance is off (one UNet row), and the result changes.
    let weak = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=4&strength=0.5"),
        &[("source", source)],
    );
    let (weak_images, _) = result(&server, &weak);
    assert!(differing_pixels(&weak_images[0], &images[0]) > 100);

    // The source matters: another picture, another result.
    let other = submit(
        &server,
        &format!("/api/img2img?{BASE}&steps=4&strength=1"),
        &[("source", png(&picture(64, 48).map_or_inverted()))],
    );
    let (other_images, _) = result(&server, &other);
    assert!(differing_pixels(&other_images[0], &images[0]) > 100);
}

#[test]
fn pix2pix_with_a_plain_model_fails_the_job() {
    let server = TestServer::start();
    let job = submit(
        &server,
        "/api/img2img?model=diffusion-tiny-demo&pipeline=pix2pix&steps=2&sourceFilter=none&seed=1",
        &[("source", png(&picture(64, 64)))],
    );
    let key = job["outputs"][0].as_str().unwrap();
    assert_eq!(server.wait(key).pop().unwrap()["failed"], true);
    assert!(server.log().contains("instruct-pix2pix"));
}

trait Inverted {
    fn map_or_inverted(self) -> Self;
}

impl Inverted for image::RgbImage {
    fn map_or_inverted(mut self) -> Self {
        image::imageops::invert(&mut self);
        self
    }
}
