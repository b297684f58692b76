//! Bad input and failing models on the real server: broken images (truncated, empty, zero-sized,
//! decompression bombs, wrong formats, mismatched masks) are a 400 naming the file; odd query
//! values are a 400 naming the field or are clamped; a broken model fails its job with a reason
//! and the server keeps serving.

mod common;
mod upload;

use std::os::unix::fs::symlink;

use common::TestServer;
use upload::{picture, png, post_files, rect_mask};

fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG header claiming `width × height` pixels, with (almost) no data: a decompression bomb
/// as far as a decoder that trusts the header is concerned.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    out.extend(chunk(b"IEND", b""));
    out
}

#[test]
fn broken_images_are_a_400_naming_the_file() {
    let server = TestServer::start();
    let good = png(&picture(64, 64));
    let broken: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("zero-sized", png_header(0, 0)),
        ("bomb", png_header(100_000, 100_000)),
        ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        ("text", b"hello, I am not an image".to_vec()),
    ];
    for (what, bytes) in &broken {
        for (path, bad_file, files) in [
            (
                "/api/img2img?sourceFilter=none",
                "source",
                vec![("source", bytes.clone())],
            ),
            ("/api/upscale", "source", vec![("source", bytes.clone())]),
            (
                "/api/inpaint",
                "mask",
                vec![("source", good.clone()), ("mask", bytes.clone())],
            ),
            (
                "/api/blend",
                "source:1",
                vec![
                    ("source:0", good.clone()),
                    ("source:1", bytes.clone()),
                    ("mask", good.clone()),
                ],
            ),
        ] {
            let (status, body) = post_files(&server, path, &files);
            assert_eq!(status, 400, "{what} on {path}: {body}");
            let error = body["error"].as_str().unwrap();
            assert!(error.starts_with(bad_file), "{what} on {path}: {error}");
        }
    }
    // A mask that cannot cover the source.
    let (status, body) = post_files(
        &server,
        "/api/inpaint",
        &[
            ("source", good.clone()),
            ("mask", png(&rect_mask(64, 8, 0, 0, 8, 8))),
        ],
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("mask"),
        "{body}"
    );
    // The server still serves.
    let job = server.txt2img("prompt=still+here&steps=2&width=64&height=64");
    assert_eq!(server.images(&job).len(), 1);
}

#[test]
fn odd_query_values_are_a_400_naming_the_field_or_clamped() {
    let server = TestServer::start();
    for (query, field) in [
        ("cfg=NaN", "cfg"),
        ("cfg=inf", "cfg"),
        ("eta=-Infinity", "eta"),
        ("steps=abc", "steps"),
        ("steps=1e999", "steps"),
        ("seed=1.5", "seed"),
        ("scheduler=%F0%9F%90%88", "scheduler"),
        ("model=%E2%80%AEevil", "model"),
    ] {
        let response = server.post(&format!("/api/txt2img?{query}"));
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(error.starts_with(field), "{query}: {error}");
    }
    // Out of range numbers clamp as onnx-web does; very long unicode prompts are taken.
    let prompt = "%F0%9F%90%88".repeat(3000);
    let job = server.txt2img(&format!(
        "prompt={prompt}&steps=-7&cfg=1000&width=64&height=64"
    ));
    assert_eq!(
        job["params"]["steps"], 1,
        "steps clamp to params.json's min"
    );
    assert_eq!(
        job["params"]["cfg"], 30.0,
        "cfg clamps to params.json's max"
    );
    assert_eq!(server.images(&job).len(), 1);
}

#[test]
fn a_broken_model_fails_its_job_with_a_reason_and_the_server_keeps_serving() {
    let models = tempfile::tempdir().unwrap();
    let real = common::models_dir();
    symlink(
        real.join("diffusion-tiny-demo"),
        models.path().join("diffusion-tiny-demo"),
    )
    .unwrap();
    // A model whose UNet is not an ONNX file.
    let broken = models.path().join("diffusion-broken");
    std::fs::create_dir_all(broken.join("unet")).unwrap();
    for part in [
        "model_index.json",
        "scheduler",
        "text_encoder",
        "tokenizer",
        "vae_decoder",
        "vae_encoder",
    ] {
        symlink(
            real.join("diffusion-tiny-demo").join(part),
            broken.join(part),
        )
        .unwrap();
    }
    std::fs::write(broken.join("unet/model.onnx"), b"this is not a protobuf").unwrap();
    let server = TestServer::start_in(models.path(), &[], &[]);
    let job = server.txt2img("model=diffusion-broken&prompt=a&steps=2&width=64&height=64");
    let key = job["outputs"][0].as_str().unwrap();
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["failed"], true, "{last}");
    assert!(
        last["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{last}"
    );
    // The same worker runs the next job on a good model.
    let job = server.txt2img("model=diffusion-tiny-demo&prompt=a&steps=2&width=64&height=64");
    assert_eq!(server.images(&job).len(), 1);
}
