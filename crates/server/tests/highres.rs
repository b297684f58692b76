//! Highres end to end: txt2img, img2img, inpaint and upscale followed by highres iterations with
//! each method; progress counts every UNet call.

mod common;
mod upload;

use common::TestServer;
use upload::{picture, png, rect_mask, result, submit};

const BASE: &str = "prompt=a+castle&seed=9&steps=4&cfg=6&model=diffusion-tiny-demo";

#[test]
fn txt2img_highres_scales_and_refines() {
    let server = TestServer::start();
    // 4 steps, then one highres pass at strength 0.5: int(4 * 0.5) = 2 more.
    let job = server.txt2img(&format!(
        "{BASE}&width=64&height=64&highres=true&highresScale=2&highresStrength=0.5&highresMethod=bilinear"
    ));
    assert_eq!(
        job["size"],
        serde_json::json!({"width": 128, "height": 128})
    );
    let (images, last) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (128, 128));
    assert_eq!(last["progress"], 6);

    let job = server.txt2img(&format!(
        "{BASE}&width=64&height=64&highres=true&highresScale=2&highresIterations=2&highresStrength=0.5&highresMethod=lanczos"
    ));
    assert_eq!(
        job["size"],
        serde_json::json!({"width": 256, "height": 256})
    );
    let (images, last) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (256, 256));
    assert_eq!(last["progress"], 8);

    let job = server.txt2img(&format!(
        "{BASE}&width=64&height=64&highres=true&highresScale=2&highresStrength=0.5&highresMethod=upscale&upscaling=upscaling-tiny-x2"
    ));
    let (images, _) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (128, 128));

    // Disabled highres only echoes its factors (onnx-web quirk): the image keeps its size.
    let job = server.txt2img(&format!(
        "{BASE}&width=64&height=64&highres=false&highresScale=2"
    ));
    assert_eq!(
        job["size"],
        serde_json::json!({"width": 128, "height": 128})
    );
    let (images, _) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (64, 64));
}

#[test]
fn highres_after_img2img_inpaint_and_upscale() {
    let server = TestServer::start();
    let highres = "highres=true&highresScale=2&highresStrength=0.5";
    let job = submit(
        &server,
        &format!("/api/img2img?{BASE}&sourceFilter=none&strength=0.5&{highres}"),
        &[("source", png(&picture(48, 40)))],
    );
    let (images, last) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (96, 80));
    assert_eq!(last["progress"], 4);

    let job = submit(
        &server,
        &format!("/api/inpaint?{BASE}&model=diffusion-tiny-inpaint&{highres}"),
        &[
            ("source", png(&picture(64, 64))),
            ("mask", png(&rect_mask(64, 64, 8, 8, 24, 24))),
        ],
    );
    let (images, _) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (128, 128));

    let job = submit(
        &server,
        &format!(
            "/api/upscale?{BASE}&upscale=true&upscaling=upscaling-tiny-x2&outscale=2&{highres}"
        ),
        &[("source", png(&picture(40, 24)))],
    );
    let (images, last) = result(&server, &job);
    // Highres ×2, then the x2 model.
    assert_eq!(images[0].dimensions(), (160, 96));
    assert_eq!(last["progress"], 2);
}
