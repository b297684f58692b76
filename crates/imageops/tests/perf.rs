//! Rough timings of the heavier operations at 1024×1024 (`cargo test --release -p
//! onnx-web-imageops --test perf -- --ignored --nocapture`).

use std::time::Instant;

use onnx_web_imageops::*;

#[test]
#[ignore = "timing only"]
fn timings() {
    let img = RgbImage::from_fn(1024, 1024, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 256) as u8])
    });
    let mask = GrayImage::from_fn(1024, 1024, |x, y| {
        Luma([if (300..700).contains(&x) && (200..800).contains(&y) {
            255
        } else {
            0
        }])
    });
    let time = |name: &str, f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        println!("{name:<28} {:>8.1} ms", start.elapsed().as_secs_f64() * 1e3);
    };
    time("gaussian_blur r5", &mut || drop(gaussian_blur(&img, 5.0)));
    time("mask gaussian-screen", &mut || {
        drop(MaskFilter::GaussianScreen.apply(&mask, 1024, 1024, (0, 0)))
    });
    for name in NoiseSource::NAMES {
        let n = NoiseSource::from_name(name).unwrap();
        time(name, &mut || {
            drop(n.generate(&img, 1024, 1024, (0, 0), Rgb([0, 0, 0]), 1))
        });
    }
    time("expand_image histogram", &mut || {
        drop(expand_image(
            &img,
            &mask,
            Border::all(64),
            Rgb([0, 0, 0]),
            NoiseSource::Histogram,
            MaskFilter::None,
            1,
        ))
    });
    time("composite", &mut || {
        drop(composite(&img, &img, &mask).unwrap())
    });
    time("resize lanczos ×2", &mut || {
        drop(scale_by(&img, 2.0, ResizeMethod::Lanczos))
    });
    time("canny", &mut || drop(canny(&img, 100.0, 200.0)));
    time("spiral 512/0.5 blend", &mut || {
        let mut b = TileBlender::new(1024, 1024, 512, 0.5, 1);
        for (i, (l, t)) in tile_spiral(1024, 1024, 512, 0.5).into_iter().enumerate() {
            let tile = extract_tile(
                &img,
                l,
                t,
                512,
                NoiseSource::Histogram,
                Rgb([0, 0, 0]),
                i as u64,
            );
            b.add(l, t, &tile);
        }
        drop(b.finish());
    });
}
