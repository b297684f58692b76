//! SDXL end to end on the tiny optimum-layout export: txt2img, img2img and panorama select the
//! SDXL pipeline by the model folder (text_encoder_2) and by the `-sdxl` pipeline names.

mod common;
mod upload;

use common::TestServer;
use upload::{differing_pixels, picture, png, result, submit};

const XL: &str = "model=diffusion-tiny-sdxl&prompt=a+red+cube&cfg=5&seed=21";

fn failed(server: &TestServer, job: &serde_json::Value) -> bool {
    let key = job["outputs"][0].as_str().unwrap();
    server.wait(key).pop().unwrap()["failed"] == true
}

#[test]
fn sdxl_txt2img_runs_both_encoders_and_the_added_conditions() {
    let server = TestServer::start();
    let job = server.txt2img(&format!(
        "{XL}&pipeline=txt2img-sdxl&steps=3&width=64&height=64"
    ));
    assert_eq!(job["params"]["pipeline"], "txt2img-sdxl");
    let key = job["outputs"][0].as_str().unwrap();
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["failed"], false, "{}", server.log());
    assert_eq!(last["progress"], 3);
    let image = &server.images(&job)[0];
    assert_eq!(image.dimensions(), (64, 64));

    // The plain txt2img pipeline name with an SDXL model runs SDXL too: same image.
    let plain = server.txt2img(&format!("{XL}&pipeline=txt2img&steps=3&width=64&height=64"));
    assert_eq!(&server.images(&plain)[0], image);

    // A negative prompt replaces the zero negative embeddings; another seed other latents.
    let negative = server.txt2img(&format!(
        "{XL}&pipeline=txt2img-sdxl&steps=3&width=64&height=64&negativePrompt=blue"
    ));
    assert!(differing_pixels(&server.images(&negative)[0], image) > 100);
    let other = server.txt2img(
        "model=diffusion-tiny-sdxl&prompt=a+red+cube&cfg=5&seed=22&pipeline=txt2img-sdxl&steps=3&width=64&height=64",
    );
    assert!(differing_pixels(&server.images(&other)[0], image) > 100);

    // Not a multiple of 64: generated larger and cropped.
    let odd = server.txt2img(&format!(
        "{XL}&pipeline=txt2img-sdxl&steps=2&width=72&height=80"
    ));
    assert_eq!(server.images(&odd)[0].dimensions(), (72, 80));
}

#[test]
fn sdxl_pipeline_with_an_sd_model_fails_the_job_and_the_server_keeps_serving() {
    let server = TestServer::start();
    let job = server.txt2img(
        "model=diffusion-tiny-demo&pipeline=txt2img-sdxl&steps=2&width=64&height=64&seed=1",
    );
    assert!(failed(&server, &job));
    assert!(server.log().contains("needs an SDXL model"));
    let job = server.txt2img("model=diffusion-tiny-demo&steps=2&width=64&height=64&seed=1");
    assert_eq!(server.images(&job).len(), 1);
}

#[test]
fn sdxl_img2img_and_panorama() {
    let server = TestServer::start();
    let source = png(&picture(64, 48));
    let job = submit(
        &server,
        &format!("/api/img2img?{XL}&pipeline=img2img-sdxl&steps=8&strength=0.5&sourceFilter=none"),
        &[("source", source.clone())],
    );
    let (images, last) = result(&server, &job);
    assert_eq!(images[0].dimensions(), (64, 48));
    // int(8 × 0.5) UNet calls.
    assert_eq!(last["progress"], 4);
    let weak = submit(
        &server,
        &format!("/api/img2img?{XL}&pipeline=img2img-sdxl&steps=8&strength=0.25&sourceFilter=none"),
        &[("source", source)],
    );
    let (weak_images, weak_last) = result(&server, &weak);
    assert_eq!(weak_last["progress"], 2);
    assert_ne!(weak_images[0], images[0]);

    // panorama-sdxl: 256 × 128 in 128 px views with half overlap: 3 views × 2 steps.
    let job = server.txt2img(&format!(
        "{XL}&pipeline=panorama-sdxl&steps=2&width=256&height=128&unet_tile=128&unet_overlap=0.5"
    ));
    let key = job["outputs"][0].as_str().unwrap();
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["failed"], false, "{}", server.log());
    assert_eq!(last["progress"], 6);
    assert_eq!(server.images(&job)[0].dimensions(), (256, 128));
}

#[test]
fn panorama_sdxl_takes_region_prompts() {
    let server = TestServer::start();
    let run = |prompt: &str| {
        let query = format!(
            "model=diffusion-tiny-sdxl&cfg=5&seed=21&scheduler=ddim&pipeline=panorama-sdxl&steps=3&width=128&height=64&prompt={prompt}"
        );
        server.images(&server.txt2img(&query)).remove(0)
    };
    let plain = run("a+red+cube");
    // The whole image with the base prompt at weight 1: (v + v) / 2, the same picture.
    assert_eq!(
        plain,
        run("a+red+cube+%3Cregion:0:0:64:128:1:0:a+red+cube%3E")
    );
    // Its own prompt (and pooled embeddings) changes the picture.
    let guided = run("a+red+cube+%3Cregion:0:0:64:64:1:0:a+blue+sphere%3E");
    assert!(differing_pixels(&plain, &guided) > 100);
}
