//! ControlNet end to end: `pipeline=controlnet&control=canny` on img2img runs the model's `cnet/`
//! UNet with the residuals of `models/control/canny.onnx` on the filtered source.

mod common;
mod upload;

use common::TestServer;
use upload::{differing_pixels, picture, png, result, submit};

const BASE: &str = "model=diffusion-tiny-demo&prompt=a+house&cfg=6&seed=9";

#[test]
fn controlnet_follows_the_control_image_and_scale() {
    let server = TestServer::start();
    let source = png(&picture(64, 64));
    let run = |query: &str, source: Vec<u8>| {
        let job = submit(
            &server,
            &format!("/api/img2img?{BASE}&{query}"),
            &[("source", source)],
        );
        result(&server, &job)
    };
    let (images, last) = run(
        "pipeline=controlnet&control=canny&sourceFilter=canny&steps=4&strength=1",
        source.clone(),
    );
    // The generated image, then the filtered source (the control image).
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].dimensions(), (64, 64));
    // ControlNet starts from noise: every step runs whatever the strength.
    assert_eq!(last["progress"], 4);

    // strength is the conditioning scale: at 0 the residuals vanish and the image changes.
    let (unscaled, _) = run(
        "pipeline=controlnet&control=canny&sourceFilter=canny&steps=4&strength=0",
        source.clone(),
    );
    assert!(differing_pixels(&unscaled[0], &images[0]) > 100);
    // Another control image, another result.
    let mut other = picture(64, 64);
    image::imageops::flip_horizontal_in_place(&mut other);
    let (flipped, _) = run(
        "pipeline=controlnet&control=canny&sourceFilter=canny&steps=4&strength=1",
        png(&other),
    );
    assert!(differing_pixels(&flipped[0], &images[0]) > 100);
}

#[test]
fn controlnet_without_a_control_network_is_plain_img2img() {
    let server = TestServer::start();
    let source = png(&picture(64, 64));
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&pipeline=controlnet&sourceFilter=none&steps=8&strength=0.5"),
        &[("source", source.clone())],
    );
    assert_eq!(job["params"]["control"], "");
    let (images, last) = result(&server, &job);
    // img2img: int(8 × 0.5) steps.
    assert_eq!(last["progress"], 4);
    let plain = submit(
        &server,
        &format!("/api/img2img?{BASE}&pipeline=img2img&sourceFilter=none&steps=8&strength=0.5"),
        &[("source", source)],
    );
    let (plain_images, _) = result(&server, &plain);
    assert_eq!(images[0], plain_images[0]);
}
