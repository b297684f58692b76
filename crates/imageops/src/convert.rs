//! VAE tensors ⇄ RGB images, with diffusers' exact float32 arithmetic.

use image::RgbImage;

/// One decoded VAE value (nominally in [-1, 1]) to a pixel byte, as diffusers does it in
/// float32: `np.clip(x / 2 + 0.5, 0, 1)`, then `(v * 255).round().astype("uint8")`. numpy
/// rounds halves to even (127.5 → 128, 126.5 → 126). NaN becomes 0.
#[inline]
pub fn pixel_from_decoded(x: f32) -> u8 {
    let v = (x / 2.0 + 0.5).clamp(0.0, 1.0) * 255.0;
    // `as` saturates and maps NaN to 0; the clamp already keeps v in [0, 255].
    v.round_ties_even() as u8
}

/// Converts a VAE decoder output (f32, NCHW, `batch × 3 × height × width`, contiguous, values in
/// [-1, 1]) into one RGB image per batch item.
///
/// # Panics
/// If `data.len() != batch * 3 * height * width` or a side does not fit in `u32`.
pub fn decoded_to_images(data: &[f32], batch: usize, height: usize, width: usize) -> Vec<RgbImage> {
    let plane = height * width;
    assert_eq!(
        data.len(),
        batch * 3 * plane,
        "decoded_to_images: expected {batch}×3×{height}×{width} values, got {}",
        data.len()
    );
    let (w, h) = (
        u32::try_from(width).expect("image width fits in u32"),
        u32::try_from(height).expect("image height fits in u32"),
    );
    (0..batch)
        .map(|n| {
            let item = &data[n * 3 * plane..(n + 1) * 3 * plane];
            let (r, rest) = item.split_at(plane);
            let (g, b) = rest.split_at(plane);
            let mut pixels = vec![0u8; plane * 3];
            for (((out, &r), &g), &b) in pixels.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
                out[0] = pixel_from_decoded(r);
                out[1] = pixel_from_decoded(g);
                out[2] = pixel_from_decoded(b);
            }
            RgbImage::from_raw(w, h, pixels).expect("buffer size matches the image size")
        })
        .collect()
}

/// The inverse, for img2img/inpaint inputs: writes the image as `3 × height × width` f32 (CHW,
/// one batch item) into `out`, scaled to [-1, 1] as diffusers' `preprocess` does in float32:
/// `2 * (x / 255) - 1`.
///
/// # Panics
/// If `out.len() != 3 * height * width`.
pub fn image_to_tensor(img: &RgbImage, out: &mut [f32]) {
    let plane = img.width() as usize * img.height() as usize;
    assert_eq!(
        out.len(),
        3 * plane,
        "image_to_tensor: a {}×{} image needs {} values, the buffer has {}",
        img.width(),
        img.height(),
        3 * plane,
        out.len()
    );
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let scale = |x: u8| 2.0 * (f32::from(x) / 255.0) - 1.0;
    for (((px, r), g), b) in img.as_raw().chunks_exact(3).zip(r).zip(g).zip(b) {
        *r = scale(px[0]);
        *g = scale(px[1]);
        *b = scale(px[2]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_map_like_numpy() {
        // -1 → 0, 1 → 255, 0 → 0.5·255 = 127.5 → 128 (half to even), out of range clamps.
        let cases: [(f32, u8); 10] = [
            (-1.0, 0),
            (1.0, 255),
            (0.0, 128),
            (-3.0, 0),
            (7.5, 255),
            (f32::NAN, 0),
            // 126.5 / 255 * 2 - 1 in f32 → (x/2 + 0.5)·255 = 126.5 exactly → 126 (even).
            ((126.5f32 / 255.0 - 0.5) * 2.0, 126),
            ((128.5f32 / 255.0 - 0.5) * 2.0, 128),
            (0.5, 191), // 0.75·255 = 191.25
            (-0.5, 64), // 0.25·255 = 63.75
        ];
        for (x, want) in cases {
            assert_eq!(pixel_from_decoded(x), want, "x = {x}");
        }
        // The half-way inputs really are exact halves in f32, so the test checks ties.
        let half = ((126.5f32 / 255.0 - 0.5) * 2.0 / 2.0 + 0.5) * 255.0;
        assert_eq!(half, 126.5);
        let half = ((128.5f32 / 255.0 - 0.5) * 2.0 / 2.0 + 0.5) * 255.0;
        assert_eq!(half, 128.5);
    }

    /// A non-symmetric pattern: R encodes x, G encodes y, B encodes the batch item.
    fn pattern(batch: usize, height: usize, width: usize) -> Vec<f32> {
        let mut data = vec![0.0f32; batch * 3 * height * width];
        for n in 0..batch {
            for y in 0..height {
                for x in 0..width {
                    let at = |c: usize| ((n * 3 + c) * height + y) * width + x;
                    // Value v maps to the byte v exactly: v/255·2 − 1.
                    let enc = |v: usize| (v as f32 / 255.0) * 2.0 - 1.0;
                    data[at(0)] = enc(x * 10);
                    data[at(1)] = enc(y * 20 + 1);
                    data[at(2)] = enc(200 + n);
                }
            }
        }
        data
    }

    #[test]
    fn layout_is_nchw_to_rgb_rows() {
        let (batch, height, width) = (2, 3, 5);
        let images = decoded_to_images(&pattern(batch, height, width), batch, height, width);
        assert_eq!(images.len(), 2);
        for (n, img) in images.iter().enumerate() {
            assert_eq!(img.dimensions(), (5, 3));
            for y in 0..height as u32 {
                for x in 0..width as u32 {
                    let px = img.get_pixel(x, y).0;
                    assert_eq!(
                        px,
                        [(x * 10) as u8, (y * 20 + 1) as u8, (200 + n) as u8],
                        "item {n} at ({x}, {y})"
                    );
                }
            }
        }
    }

    #[test]
    fn round_trip_through_tensor() {
        let (height, width) = (3, 5);
        let images = decoded_to_images(&pattern(1, height, width), 1, height, width);
        let mut tensor = vec![0.0f32; 3 * height * width];
        image_to_tensor(&images[0], &mut tensor);
        assert_eq!(decoded_to_images(&tensor, 1, height, width), images);
        // Every byte survives byte → tensor → byte.
        let all: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 2]).collect();
        let img = RgbImage::from_raw(16, 16, all).unwrap();
        let mut tensor = vec![0.0f32; 3 * 256];
        image_to_tensor(&img, &mut tensor);
        assert_eq!(tensor[0], -1.0);
        assert_eq!(tensor[255], 1.0);
        assert!(tensor.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert_eq!(decoded_to_images(&tensor, 1, 16, 16)[0], img);
    }

    #[test]
    fn empty_batch_and_zero_size() {
        assert!(decoded_to_images(&[], 0, 8, 8).is_empty());
        let images = decoded_to_images(&[], 2, 0, 4);
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].dimensions(), (4, 0));
    }

    #[test]
    #[should_panic(expected = "expected 1×3×2×2 values")]
    fn wrong_length_panics_with_the_shape() {
        decoded_to_images(&[0.0; 11], 1, 2, 2);
    }
}
