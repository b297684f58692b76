//! float16 models end to end: `diffusion-tiny-fp16` (`diffusion-tiny-demo` converted by
//! `tools/convert_fp16.py`, made by `scripts/setup.sh`) through txt2img and highres (which runs the
//! float16 VAE encoder), compared with the float32 model's picture.

mod common;

use common::{models_dir, TestServer};

/// Per-channel mean and standard deviation of an image, in [0, 255].
fn channel_stats(image: &image::RgbImage) -> [(f64, f64); 3] {
    let count = f64::from(image.width() * image.height());
    let mut stats = [(0.0, 0.0); 3];
    for (channel, stat) in stats.iter_mut().enumerate() {
        let values = image.pixels().map(|p| f64::from(p[channel]));
        let mean = values.clone().sum::<f64>() / count;
        let variance = values.map(|v| (v - mean).powi(2)).sum::<f64>() / count;
        *stat = (mean, variance.sqrt());
    }
    stats
}

fn mean_abs_difference(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let total: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs())
        .sum();
    total / a.as_raw().len() as f64
}

#[test]
fn fp16_model_makes_the_fp32_picture_within_rounding() {
    assert!(
        models_dir()
            .join("diffusion-tiny-fp16/unet/model.onnx")
            .is_file(),
        "diffusion-tiny-fp16 missing: run scripts/setup.sh"
    );
    let server = TestServer::start();
    let query = "prompt=a+red+cube&steps=4&cfg=6&width=96&height=64&seed=42&scheduler=ddim";
    let half = server.txt2img(&format!("{query}&model=diffusion-tiny-fp16"));
    let full = server.txt2img(&format!("{query}&model=diffusion-tiny-demo"));
    let half = server.images(&half).remove(0);
    let full = server.images(&full).remove(0);
    assert_eq!(half.dimensions(), (96, 64));
    assert_eq!(full.dimensions(), (96, 64));

    let difference = mean_abs_difference(&half, &full);
    eprintln!("fp16 vs fp32: mean absolute difference {difference:.3} per value");
    for (channel, (h, f)) in channel_stats(&half)
        .iter()
        .zip(channel_stats(&full))
        .enumerate()
    {
        assert!(
            (h.0 - f.0).abs() < 6.0 && (h.1 - f.1).abs() < 6.0,
            "channel {channel}: fp16 mean/std {h:?}, fp32 {f:?}"
        );
    }
    assert!(
        difference < 6.0,
        "fp16 and fp32 pictures differ by {difference} per value on average"
    );
    assert!(
        half.pixels().any(|p| p.0 != [0, 0, 0]),
        "the fp16 picture is black (NaN or overflow)"
    );

    // Highres refines with img2img: the float16 VAE encoder too.
    let job = server.txt2img(&format!(
        "{query}&model=diffusion-tiny-fp16&highres=true&highresScale=2&highresStrength=0.5&highresMethod=bilinear"
    ));
    let images = server.images(&job);
    assert_eq!(images[0].dimensions(), (192, 128));
}
