//! Initial latents exactly as onnx-web 0.12 draws them (`diffusers/utils.py`, `chain/source_txt2img.py`).
//!
//! - [`latents_from_seed`]: `get_latents_from_seed`, i.e.
//!   `numpy.random.default_rng(seed).standard_normal((batch, 4, height // 8, width // 8))` in
//!   float64, cast to float32. The whole image is drawn at once; tiles take slices of it.
//! - [`tile_latents`]: `get_tile_latents`, the slice of a tile, with the parts outside the image
//!   taken from a fresh tile-sized draw with the same seed ([`expand_latents`]).
//! - [`reseed_region`] and [`reseed_seed`]: the `<reseed:TOP:LEFT:BOTTOM:RIGHT:SEED>` token.
//!
//! Latents are flat `Vec<f32>` in NCHW order with a `[batch, channels, height, width]` shape,
//! heights and widths in latent pixels (image pixels / 8).

use crate::noise::{NumpyGenerator, RandomState};

/// Channels of SD latents.
pub const LATENT_CHANNELS: usize = 4;
/// Image pixels per latent pixel.
pub const LATENT_FACTOR: usize = 8;

/// `[batch, LATENT_CHANNELS, height / 8, width / 8]` for an image size in pixels (floored, as
/// Python's `//`).
pub fn latent_shape(batch: usize, width: usize, height: usize) -> [usize; 4] {
    [
        batch,
        LATENT_CHANNELS,
        height / LATENT_FACTOR,
        width / LATENT_FACTOR,
    ]
}

/// onnx-web's `get_latents_from_seed(seed, Size(width, height), batch)`: N(0, 1) latents of
/// shape [`latent_shape`]`(batch, width, height)`, bit for bit what numpy gives.
pub fn latents_from_seed(seed: u64, batch: usize, width: usize, height: usize) -> Vec<f32> {
    let len: usize = latent_shape(batch, width, height).iter().product();
    let mut latents = vec![0f32; len];
    NumpyGenerator::default_rng(seed).fill_standard_normal_f64_as_f32(&mut latents);
    latents
}

/// The sub-array `[:, :, top..top + height, left..left + width]` of NCHW latents, clipped to
/// the array (numpy slicing). Returns the data and its shape.
pub fn slice_latents(
    latents: &[f32],
    shape: [usize; 4],
    left: usize,
    top: usize,
    width: usize,
    height: usize,
) -> (Vec<f32>, [usize; 4]) {
    let [batch, channels, full_h, full_w] = shape;
    assert_eq!(
        latents.len(),
        shape.iter().product::<usize>(),
        "latents do not match their shape"
    );
    let (y0, x0) = (top.min(full_h), left.min(full_w));
    let (y1, x1) = ((top + height).min(full_h), (left + width).min(full_w));
    let (h, w) = (y1 - y0, x1 - x0);
    let mut out = Vec::with_capacity(batch * channels * h * w);
    if h == 0 || w == 0 {
        return (out, [batch, channels, h, w]); // an image under 8 px a side has no latents
    }
    for plane in latents.chunks_exact(full_h * full_w) {
        for y in y0..y1 {
            out.extend_from_slice(&plane[y * full_w + x0..y * full_w + x1]);
        }
    }
    (out, [batch, channels, h, w])
}

/// Grows latents to `width x height` image pixels: a fresh draw of that size with `seed`
/// ([`latents_from_seed`]) with `latents` pasted into its top-left corner (onnx-web's
/// `extra_latents[:, :, 0:h, 0:w] = latents`). Latents already that big come back unchanged.
pub fn expand_latents(
    latents: &[f32],
    shape: [usize; 4],
    seed: u64,
    width: usize,
    height: usize,
) -> (Vec<f32>, [usize; 4]) {
    let [batch, channels, h, w] = shape;
    assert_eq!(
        latents.len(),
        shape.iter().product::<usize>(),
        "latents do not match their shape"
    );
    assert_eq!(
        channels, LATENT_CHANNELS,
        "SD latents have {LATENT_CHANNELS} channels"
    );
    let out_shape = latent_shape(batch, width, height);
    let [_, _, out_h, out_w] = out_shape;
    if h >= out_h && w >= out_w {
        return (latents.to_vec(), shape);
    }
    assert!(
        h <= out_h && w <= out_w,
        "cannot paste {h}x{w} latents into {out_h}x{out_w}"
    );
    let mut out = latents_from_seed(seed, batch, width, height);
    if h == 0 || w == 0 {
        return (out, out_shape); // nothing to paste
    }
    for (plane, out_plane) in latents
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(out_h * out_w))
    {
        for y in 0..h {
            out_plane[y * out_w..y * out_w + w].copy_from_slice(&plane[y * w..(y + 1) * w]);
        }
    }
    (out, out_shape)
}

/// onnx-web's `get_tile_latents(full, seed, Size(tile, tile), (left, top, tile))`: the latents
/// of a `tile x tile` pixel tile at image position (`left`, `top`), which may be negative for
/// spiral tiles. The slice starts at `max(0, left // 8)`, `max(0, top // 8)` (floor division);
/// when it is cut short by the image edge, the tile comes from a fresh `tile x tile` draw with
/// the same seed, with the slice pasted into its top-left corner. Returns
/// `[batch, 4, tile / 8, tile / 8]` latents.
pub fn tile_latents(
    full: &[f32],
    shape: [usize; 4],
    seed: u64,
    left: i64,
    top: i64,
    tile: usize,
) -> (Vec<f32>, [usize; 4]) {
    tile_latents_sized(full, shape, seed, left, top, tile, tile, tile)
}

/// [`tile_latents`] with the size onnx-web passes to `get_tile_latents` (`latent_size`, the
/// stage size capped at the tile: `size.min(tile, tile)`) given explicitly as `width x height`
/// pixels. A cut-short slice is pasted into a fresh draw of that size, which is then the result,
/// as in onnx-web; a full slice is `[batch, 4, tile / 8, tile / 8]`.
#[allow(clippy::too_many_arguments)]
pub fn tile_latents_sized(
    full: &[f32],
    shape: [usize; 4],
    seed: u64,
    left: i64,
    top: i64,
    tile: usize,
    width: usize,
    height: usize,
) -> (Vec<f32>, [usize; 4]) {
    let t = tile / LATENT_FACTOR;
    let x = left.div_euclid(LATENT_FACTOR as i64).max(0) as usize;
    let y = top.div_euclid(LATENT_FACTOR as i64).max(0) as usize;
    let (part, part_shape) = slice_latents(full, shape, x, y, t, t);
    if part_shape[2] < t || part_shape[3] < t {
        expand_latents(&part, part_shape, seed, width, height)
    } else {
        (part, part_shape)
    }
}

/// The `<reseed:TOP:LEFT:BOTTOM:RIGHT:SEED>` token (`source_txt2img.py`): replaces
/// `latents[:, :, top//8:bottom//8, left//8:right//8]` with
/// `get_latents_from_seed(seed, Size(right - left, bottom - top), batch)`.
///
/// numpy refuses the assignment when the two shapes differ (coordinates not on the 8-pixel
/// grid, or a region reaching outside the image); so does this, returning `false` and leaving
/// the latents unchanged. Coordinates are image pixels.
pub fn reseed_region(
    latents: &mut [f32],
    shape: [usize; 4],
    region: [usize; 4],
    seed: u64,
) -> bool {
    let [batch, channels, full_h, full_w] = shape;
    let [top, left, bottom, right] = region;
    if bottom < top || right < left {
        return false;
    }
    let (y0, x0) = (
        (top / LATENT_FACTOR).min(full_h),
        (left / LATENT_FACTOR).min(full_w),
    );
    let (y1, x1) = (
        (bottom / LATENT_FACTOR).min(full_h).max(y0),
        (right / LATENT_FACTOR).min(full_w).max(x0),
    );
    let fresh_shape = latent_shape(batch, right - left, bottom - top);
    if channels != LATENT_CHANNELS || fresh_shape[2] != y1 - y0 || fresh_shape[3] != x1 - x0 {
        return false;
    }
    let fresh = latents_from_seed(seed, batch, right - left, bottom - top);
    let (h, w) = (y1 - y0, x1 - x0);
    if h == 0 || w == 0 {
        return true;
    }
    for (plane, fresh_plane) in latents
        .chunks_exact_mut(full_h * full_w)
        .zip(fresh.chunks_exact(h * w))
    {
        for y in 0..h {
            let row = (y0 + y) * full_w + x0;
            plane[row..row + w].copy_from_slice(&fresh_plane[y * w..(y + 1) * w]);
        }
    }
    true
}

/// The seeds of `<reseed:...:-1>` tokens: onnx-web draws them, in token order, from one
/// `RandomState(job_seed)` with `random_integers(2**32 - 1)`. Returns that generator; call
/// `reseed_rng.random_integers(u32::MAX)` once per `-1` token.
pub fn reseed_seed(job_seed: u32) -> RandomState {
    RandomState::new(job_seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(shape: [usize; 4]) -> Vec<f32> {
        (0..shape.iter().product::<usize>())
            .map(|i| i as f32)
            .collect()
    }

    #[test]
    fn images_under_one_latent_pixel_do_not_panic() {
        let shape = latent_shape(1, 7, 5);
        assert_eq!(shape, [1, 4, 0, 0]);
        let (sliced, sliced_shape) = slice_latents(&[], shape, 0, 0, 4, 4);
        assert!(sliced.is_empty() && sliced_shape == [1, 4, 0, 0]);
        let (grown, grown_shape) = expand_latents(&[], shape, 3, 16, 16);
        assert_eq!(grown_shape, [1, 4, 2, 2]);
        assert_eq!(grown, latents_from_seed(3, 1, 16, 16));
    }

    #[test]
    fn shape_floors_like_python() {
        assert_eq!(latent_shape(2, 72, 44), [2, 4, 5, 9]);
        assert_eq!(latents_from_seed(1, 2, 72, 44).len(), 2 * 4 * 5 * 9);
    }

    #[test]
    fn slice_clips_to_the_array() {
        let shape = [1, 4, 3, 5];
        let full = ramp(shape);
        let (part, part_shape) = slice_latents(&full, shape, 3, 1, 4, 4);
        assert_eq!(part_shape, [1, 4, 2, 2]);
        assert_eq!(&part[..4], &[8.0, 9.0, 13.0, 14.0]);
        assert_eq!(&part[4..8], &[23.0, 24.0, 28.0, 29.0]);
    }

    #[test]
    fn inside_tiles_are_plain_slices() {
        let shape = latent_shape(1, 256, 256);
        let full = latents_from_seed(3, 1, 256, 256);
        let (tile, tile_shape) = tile_latents(&full, shape, 3, 64, 128, 128);
        assert_eq!(tile_shape, [1, 4, 16, 16]);
        assert_eq!(tile, slice_latents(&full, shape, 8, 16, 16, 16).0);
    }

    #[test]
    fn edge_tiles_are_padded_with_a_tile_sized_draw() {
        let shape = latent_shape(1, 256, 256);
        let full = ramp(shape);
        let (tile, tile_shape) = tile_latents(&full, shape, 5, 192, 0, 128);
        assert_eq!(tile_shape, [1, 4, 16, 16]);
        let fresh = latents_from_seed(5, 1, 128, 128);
        // Columns 0..8 come from the image, 8..16 from the fresh draw.
        assert_eq!(tile[0], full[24]);
        assert_eq!(tile[7], full[31]);
        assert_eq!(tile[8], fresh[8]);
        assert_eq!(tile[16 * 16 + 16], full[32 * 32 + 32 + 24]);
    }

    #[test]
    fn negative_positions_start_at_zero() {
        let shape = latent_shape(1, 64, 64);
        let full = ramp(shape);
        let (tile, _) = tile_latents(&full, shape, 1, -4, -12, 64);
        assert_eq!(tile, full);
    }

    #[test]
    fn reseed_replaces_only_the_region() {
        let shape = latent_shape(1, 64, 64);
        let mut latents = ramp(shape);
        assert!(reseed_region(&mut latents, shape, [8, 16, 40, 48], 9));
        let fresh = latents_from_seed(9, 1, 32, 32);
        assert_eq!(latents[8 + 2], fresh[0]);
        assert_eq!(latents[4 * 8 + 5], fresh[3 * 4 + 3]);
        assert_eq!(latents[0], 0.0);
        assert_eq!(latents[6], 6.0);
        // Off the 8-pixel grid the shapes differ: numpy raises, we refuse.
        let before = latents.clone();
        assert!(!reseed_region(&mut latents, shape, [4, 0, 16, 16], 9));
        assert_eq!(latents, before);
    }
}
