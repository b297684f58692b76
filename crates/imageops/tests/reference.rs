//! Bit-exact checks against Pillow, OpenCV and onnx-web 0.12's own code: `data/reference.txt`
//! was written by `data/gen_reference.py` from the same input formulas as below.

use std::collections::HashMap;

use onnx_web_imageops::*;

fn reference() -> HashMap<String, Vec<u8>> {
    include_str!("data/reference.txt")
        .lines()
        .map(|line| {
            let (key, values) = line.split_once(": ").expect("key: values");
            let values = values.split(' ').map(|v| v.parse().unwrap()).collect();
            (key.to_string(), values)
        })
        .collect()
}

fn pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = |c: u32| {
            if (x / 5 + y / 7) % 3 != 0 {
                ((x * 7 + y * 13 + c * 50) % 256) as u8
            } else {
                ((x * y + c * 90) % 256) as u8
            }
        };
        Rgb([v(0), v(1), v(2)])
    })
}

fn grey_pattern(w: u32, h: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        Luma([if (x / 6 + y) % 2 == 1 {
            ((x * 37 + y * 91) % 256) as u8
        } else {
            0
        }])
    })
}

fn square_mask(w: u32, h: u32, (l, t, r, b): (u32, u32, u32, u32)) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        Luma([if (l..r).contains(&x) && (t..b).contains(&y) {
            255
        } else {
            0
        }])
    })
}

#[track_caller]
fn check(refs: &HashMap<String, Vec<u8>>, key: &str, got: &[u8]) {
    let want = refs
        .get(key)
        .unwrap_or_else(|| panic!("no reference {key:?}"));
    assert_eq!(want.len(), got.len(), "{key}: length");
    let diffs = want.iter().zip(got).filter(|(a, b)| a != b).count();
    assert_eq!(diffs, 0, "{key}: {diffs} of {} values differ", want.len());
}

#[test]
fn blur_and_luma_match_pillow() {
    let refs = reference();
    let src = pattern(40, 30);
    check(&refs, "luma", rgb_to_luma(&src).as_raw());
    let grey = grey_pattern(24, 5);
    for r in [1, 3, 5] {
        check(
            &refs,
            &format!("blur L {r}"),
            gaussian_blur(&grey, r as f32).as_raw(),
        );
    }
    check(
        &refs,
        "blur RGB 5",
        gaussian_blur(&pattern(7, 4), 5.0).as_raw(),
    );
}

#[test]
fn resize_matches_pillow() {
    let refs = reference();
    let src = pattern(40, 30);
    let grey = grey_pattern(24, 5);
    for name in ["bilinear", "bicubic", "lanczos", "nearest"] {
        let method = ResizeMethod::from_name(name).unwrap();
        for (w, h) in [(17, 9), (29, 23), (53, 12)] {
            let key = format!("resize RGB {name} {w} {h}");
            check(&refs, &key, resize(&src, w, h, method).as_raw());
        }
        let key = format!("resize L {name} 9 13");
        check(&refs, &key, resize(&grey, 9, 13, method).as_raw());
    }
    check(
        &refs,
        "contain 30 30",
        contain(&src, 30, 30, ResizeMethod::Bicubic).as_raw(),
    );
}

#[test]
fn mask_filters_and_expand_image_match_onnx_web() {
    let refs = reference();
    let mask = square_mask(24, 20, (6, 5, 15, 14));
    for name in MaskFilter::NAMES {
        let filter = MaskFilter::from_name(name).unwrap();
        check(
            &refs,
            &format!("mask {name}"),
            filter.apply(&mask, 30, 26, (2, 3)).as_raw(),
        );
    }
    let source = pattern(20, 16);
    let mask = square_mask(20, 16, (4, 3, 12, 10));
    let border = Border {
        left: 3,
        right: 5,
        top: 2,
        bottom: 4,
    };
    let fill = parse_rgb("#102030").unwrap();
    for name in MaskFilter::NAMES {
        let filter = MaskFilter::from_name(name).unwrap();
        let out = expand_image(
            &source,
            &mask,
            border,
            fill,
            NoiseSource::FillEdge,
            filter,
            0,
        );
        check(&refs, &format!("expand {name} source"), out.source.as_raw());
        check(&refs, &format!("expand {name} mask"), out.mask.as_raw());
        check(&refs, &format!("expand {name} noise"), out.noise.as_raw());
    }
}

#[test]
fn compositing_matches_pillow() {
    let refs = reference();
    let a = pattern(11, 7);
    let b = image::imageops::rotate180(&a);
    let m = grey_pattern(11, 7);
    check(&refs, "composite", composite(&a, &b, &m).unwrap().as_raw());
    check(
        &refs,
        "blend 0.3",
        blend_linear(&a, &b, 0.3).unwrap().as_raw(),
    );
    check(&refs, "multiply", multiply(&a, &b).unwrap().as_raw());
    check(&refs, "screen", screen(&a, &b).unwrap().as_raw());
    let raw = (0..11 * 7 * 4u32)
        .map(|i| ((i * 29 + (i / 4) * 7) % 256) as u8)
        .collect();
    let rgba = RgbaImage::from_raw(11, 7, raw).unwrap();
    check(&refs, "rgba mask", rgba_mask_to_luma(&rgba).as_raw());
}

#[test]
fn canny_matches_opencv() {
    let refs = reference();
    check(
        &refs,
        "canny",
        canny(&pattern(40, 30), 100.0, 200.0).as_raw(),
    );
}

#[test]
fn tile_blending_matches_onnx_web_within_rounding() {
    let refs = reference();
    let (w, h, t) = (24u32, 16u32, 8u32);
    for (overlap, scale) in [(0.5, 1u32), (0.25, 2)] {
        let mut coords = tile_grid(w, h, t, overlap);
        coords.extend([(-2, -2), (18, 10)]);
        let mut blender = TileBlender::new(w, h, t, overlap, scale);
        for (i, (l, top)) in coords.into_iter().enumerate() {
            let mut tile = pattern(t * scale, t * scale);
            for _ in 0..i % 4 {
                // PIL's rotate(90) turns counter-clockwise.
                tile = image::imageops::rotate270(&tile);
            }
            blender.add(l, top, &tile);
        }
        let got = blender.finish();
        let want = &refs[&format!("tiles {overlap} {scale}")];
        assert_eq!(want.len(), got.as_raw().len());
        // onnx-web truncates the weighted mean; we round it: at most 1 apart, and only where
        // the mean is not an integer.
        let mut differ = 0;
        for (&a, &b) in want.iter().zip(got.as_raw()) {
            assert!(a.abs_diff(b) <= 1, "{overlap}: {a} vs {b}");
            differ += usize::from(a != b);
        }
        assert!(differ < want.len() / 2, "{overlap}: {differ} differ");
    }
}
