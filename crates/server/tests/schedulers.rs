//! Every scheduler through the real txt2img and img2img endpoints on the tiny models.

mod common;
mod upload;

use common::TestServer;
use serde_json::Value;
use upload::{picture, png, result, submit};

#[test]
fn every_scheduler_runs_through_txt2img_and_img2img() {
    let server = TestServer::start();
    let schedulers: Vec<String> = server
        .get_json("/api/settings/schedulers")
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(schedulers.len(), 16, "{schedulers:?}");
    let source = png(&picture(64, 64));
    for scheduler in &schedulers {
        let query = format!(
            "prompt=a+cube&cfg=6&steps=6&seed=5&model=diffusion-tiny-demo&scheduler={scheduler}"
        );
        let txt2img = server.txt2img(&format!("{query}&width=64&height=64"));
        assert_eq!(txt2img["params"]["scheduler"], scheduler.as_str());
        let images = server.images(&txt2img);
        assert_eq!(images[0].dimensions(), (64, 64), "{scheduler}");

        let img2img: Value = submit(
            &server,
            &format!("/api/img2img?{query}&strength=0.5&sourceFilter=none"),
            &[("source", source.clone())],
        );
        let (images, last) = result(&server, &img2img);
        assert_eq!(images[0].dimensions(), (64, 64), "{scheduler}");
        assert_eq!(last["failed"], false, "{scheduler}: {last}");
        assert!(
            last["progress"].as_u64().unwrap() >= 1,
            "{scheduler}: {last}"
        );
    }
}
