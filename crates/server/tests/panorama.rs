//! Panorama txt2img ends with onnx-web's `blend-denoise` stage (OpenCV fastNlMeans, strength 3):
//! with one view the panorama path draws the same image as plain txt2img, then denoises it.

mod common;
mod upload;

use common::TestServer;
use image::RgbImage;
use upload::result;

const BASE: &str = "prompt=a+long+landscape&seed=13&cfg=6&model=diffusion-tiny-demo";

/// High-frequency energy: the sum of absolute differences between neighbouring pixels.
fn roughness(image: &RgbImage) -> u64 {
    let (width, height) = image.dimensions();
    let mut sum = 0u64;
    for y in 0..height {
        for x in 0..width {
            let p = image.get_pixel(x, y).0;
            for (dx, dy) in [(1, 0), (0, 1)] {
                if x + dx < width && y + dy < height {
                    let q = image.get_pixel(x + dx, y + dy).0;
                    sum += (0..3).map(|c| u64::from(p[c].abs_diff(q[c]))).sum::<u64>();
                }
            }
        }
    }
    sum
}

#[test]
fn panorama_txt2img_is_denoised() {
    let server = TestServer::start();
    let query = format!("{BASE}&steps=3&width=64&height=64");
    let (plain, _) = result(&server, &server.txt2img(&query));
    let (panorama, _) = result(
        &server,
        &server.txt2img(&format!("{query}&pipeline=panorama")),
    );
    assert_eq!(panorama[0].dimensions(), (64, 64));
    assert_ne!(
        plain[0], panorama[0],
        "the panorama result was not denoised"
    );
    // Exactly the plain result through fastNlMeans(h = hColor = 3).
    assert_eq!(
        panorama[0],
        onnx_web_imageops::fast_nl_means_colored(&plain[0], 3.0, 3.0)
    );
    let (before, after) = (roughness(&plain[0]), roughness(&panorama[0]));
    eprintln!("roughness: txt2img {before}, panorama {after}");
    assert!(after < before, "roughness {before} -> {after}");

    // Plain txt2img larger than one tile (views, but not the panorama pipeline) is not denoised.
    let wide = format!("{BASE}&steps=1&width=256&height=128&unet_tile=128");
    let (views, _) = result(&server, &server.txt2img(&wide));
    let (panorama, _) = result(
        &server,
        &server.txt2img(&format!("{wide}&pipeline=panorama")),
    );
    assert_eq!(panorama[0].dimensions(), (256, 128));
    assert_eq!(
        panorama[0],
        onnx_web_imageops::fast_nl_means_colored(&views[0], 3.0, 3.0)
    );
}
