//! `GET /api/settings/pipelines` lists exactly the pipelines whose models are present.

mod common;

use common::TestServer;
use serde_json::json;

#[test]
fn every_pipeline_with_the_tiny_models() {
    let server = TestServer::start();
    assert_eq!(
        server.get_json("/api/settings/pipelines"),
        json!([
            "controlnet",
            "img2img",
            "img2img-sdxl",
            "inpaint",
            "lpw",
            "panorama",
            "panorama-sdxl",
            "pix2pix",
            "txt2img-sdxl",
            "txt2img",
            "upscale"
        ])
    );
}

#[test]
fn only_the_pipelines_of_the_models_present() {
    let models = tempfile::tempdir().unwrap();
    let link = |name: &str| {
        std::os::unix::fs::symlink(common::models_dir().join(name), models.path().join(name))
            .unwrap()
    };
    link("diffusion-tiny-sdxl");
    let server = TestServer::start_in(models.path(), &[], &[]);
    assert_eq!(
        server.get_json("/api/settings/pipelines"),
        json!(["img2img-sdxl", "panorama-sdxl", "txt2img-sdxl"])
    );
    drop(server);
    // An SD model with a cnet/ UNet, but no ControlNet in control/: no controlnet.
    link("diffusion-tiny-demo");
    link("upscaling-stable-diffusion-x4-tiny");
    let server = TestServer::start_in(models.path(), &[], &[]);
    assert_eq!(
        server.get_json("/api/settings/pipelines"),
        json!([
            "img2img",
            "img2img-sdxl",
            "inpaint",
            "lpw",
            "panorama",
            "panorama-sdxl",
            "txt2img-sdxl",
            "txt2img",
            "upscale"
        ])
    );
    drop(server);
    link("control");
    link("diffusion-tiny-pix2pix");
    let server = TestServer::start_in(models.path(), &[], &[]);
    assert_eq!(
        server
            .get_json("/api/settings/pipelines")
            .as_array()
            .unwrap()
            .len(),
        11
    );
}
