//! Helpers of the upload tests: images made here, multipart requests, the server's memory peak.

#![allow(dead_code)] // each test file uses its own subset

use std::io::Cursor;

use image::{GrayImage, Luma, Rgb, RgbImage};
use reqwest::blocking::multipart::{Form, Part};
use serde_json::Value;

use crate::common::TestServer;

/// A smooth, colourful test picture.
pub fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            ((x + y) * 7 % 256) as u8,
        ])
    })
}

/// A black mask with a white rectangle `[x0, x1) × [y0, y1)`.
pub fn rect_mask(width: u32, height: u32, x0: u32, y0: u32, x1: u32, y1: u32) -> GrayImage {
    GrayImage::from_fn(width, height, |x, y| {
        if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
            Luma([255])
        } else {
            Luma([0])
        }
    })
}

pub fn png<P>(image: &image::ImageBuffer<P, Vec<u8>>) -> Vec<u8>
where
    P: image::PixelWithColorType + image::Pixel<Subpixel = u8>,
{
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// POSTs `files` as multipart form data to `path` (with its query); returns status and body.
pub fn post_files(server: &TestServer, path: &str, files: &[(&str, Vec<u8>)]) -> (u16, Value) {
    let mut form = Form::new();
    for (name, bytes) in files {
        form = form.part(
            name.to_string(),
            Part::bytes(bytes.clone())
                .file_name(name.to_string())
                .mime_str("image/png")
                .unwrap(),
        );
    }
    let response = server
        .client
        .post(server.url(path))
        .multipart(form)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"));
    (status, body)
}

/// POSTs and expects the job description.
pub fn submit(server: &TestServer, path: &str, files: &[(&str, Vec<u8>)]) -> Value {
    let (status, body) = post_files(server, path, files);
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The job's first output after it finished successfully, and the last `ready` answer.
pub fn result(server: &TestServer, job: &Value) -> (Vec<RgbImage>, Value) {
    let key = job["outputs"][0].as_str().unwrap();
    let last = server.wait(key).pop().unwrap();
    assert_eq!(
        last["failed"],
        false,
        "job failed: {last}\n{}",
        server.log()
    );
    let images = job["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| {
            let bytes = server.output_bytes(name.as_str().unwrap());
            image::load_from_memory(&bytes).unwrap().to_rgb8()
        })
        .collect();
    (images, last)
}

/// The server process's peak resident memory, in MiB (`VmHWM`).
pub fn peak_rss_mib(server: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

/// Count of pixels that differ between two images of the same size.
pub fn differing_pixels(a: &RgbImage, b: &RgbImage) -> usize {
    assert_eq!(a.dimensions(), b.dimensions());
    a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count()
}
