//! Stage tiling (`api/onnx_web/chain/tile.py`, spec §6.2): tile layouts (grid, spiral), tiles
//! that reach outside the image (margins filled by a noise source), and blending processed
//! tiles back into one image with linear ramps.

use image::{GrayImage, Rgb, RgbImage};

use crate::blend::{crop, paste};
use crate::noise::NoiseSource;

/// A tile layout, by onnx-web's name (`tileOrder`). onnx-web also lists `kernel`, which raises
/// `NotImplementedError` when used; it has no variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileOrder {
    /// Row-major grid from the top-left corner ([`tile_grid`]).
    Grid,
    /// Clockwise spiral from the top-left corner of a centred layout ([`tile_spiral`]); the
    /// default of every stage.
    Spiral,
}

impl TileOrder {
    /// The layout for `grid` or `spiral`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "grid" => Self::Grid,
            "spiral" => Self::Spiral,
            _ => return None,
        })
    }

    /// The layout's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Grid => "grid",
            Self::Spiral => "spiral",
        }
    }

    /// The tiles' top-left corners for a `width × height` image.
    pub fn tiles(self, width: u32, height: u32, tile: u32, overlap: f64) -> Vec<(i32, i32)> {
        match self {
            Self::Grid => tile_grid(width, height, tile, overlap),
            Self::Spiral => tile_spiral(width, height, tile, overlap),
        }
    }
}

/// The step between tiles, `int(tile × (1 − overlap))`, at least 1.
pub fn tile_step(tile: u32, overlap: f64) -> u32 {
    let step = (f64::from(tile) * (1.0 - overlap)).trunc();
    if step.is_nan() {
        return 1;
    }
    step.clamp(1.0, f64::from(u32::MAX)) as u32
}

/// onnx-web's `generate_tile_grid`: with `step = int(tile × (1 − overlap))`,
/// `ceil(width / step) × ceil(height / step)` tiles at `(x·step, y·step)`, row-major.
/// (A step of 0, which onnx-web divides by, is taken as 1.)
pub fn tile_grid(width: u32, height: u32, tile: u32, overlap: f64) -> Vec<(i32, i32)> {
    let step = tile_step(tile, overlap);
    let nx = width.div_ceil(step);
    let ny = height.div_ceil(step);
    let mut tiles = Vec::with_capacity(nx as usize * ny as usize);
    for y in 0..ny {
        for x in 0..nx {
            tiles.push(((x * step) as i32, (y * step) as i32));
        }
    }
    tiles
}

/// onnx-web's `generate_tile_spiral`: `inc = round(tile × (1 − overlap) / 2) × 2` (half to
/// even), `n = 1 + ceil((side − tile) / inc)` tiles per axis (1 when the side fits), the layout
/// centred on the image (so it may start at negative offsets), walked clockwise from the
/// top-left corner inwards. Offsets are truncated toward zero as Python's `int()` does.
/// (An increment of 0, which onnx-web divides by, is taken as 1.)
pub fn tile_spiral(width: u32, height: u32, tile: u32, overlap: f64) -> Vec<(i32, i32)> {
    let inc = ((f64::from(tile) * (1.0 - overlap) / 2.0).round_ties_even() * 2.0).max(1.0);
    let count = |side: u32| -> i64 {
        if side > tile {
            1 + (f64::from(side - tile) / inc).ceil() as i64
        } else {
            1
        }
    };
    let (mut nx, mut ny) = (count(width), count(height));
    let span_x = f64::from(tile) + (nx - 1) as f64 * inc;
    let span_y = f64::from(tile) + (ny - 1) as f64 * inc;
    let mut left = (f64::from(width) - span_x) / 2.0;
    let mut top = (f64::from(height) - span_y) / 2.0;

    let mut tiles = Vec::with_capacity((nx * ny) as usize);
    left -= inc;
    ny -= 1;
    const WALK: [(f64, f64); 4] = [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)];
    for (dx, dy) in WALK.into_iter().cycle() {
        let n = if dx != 0.0 { nx } else { ny };
        if n <= 0 {
            break;
        }
        for _ in 0..n {
            left += inc * dx;
            top += inc * dy;
            tiles.push((left as i32, top as i32));
        }
        if dx != 0.0 {
            nx -= 1;
        } else {
            ny -= 1;
        }
    }
    tiles
}

/// onnx-web's `needs_tile`: whether a `width × height` image is larger than the effective tile
/// `min(max_tile, stage_tile)` on either side.
pub fn needs_tile(max_tile: u32, stage_tile: u32, width: u32, height: u32) -> bool {
    let tile = max_tile.min(stage_tile);
    width > tile || height > tile
}

/// onnx-web's `make_tile_grads(left, top, tile, width, height)`: the ramp values `[0, 1, 1, 0]`
/// along x and y, with an end set to 1 where the tile touches the image edge (`left <= 0`,
/// `top <= 0`, `left + tile >= width`, `top + tile >= height`). [`TileBlender`] passes the
/// step (`int(tile × (1 − overlap))`) as `tile`, as onnx-web does.
pub fn make_tile_grads(
    left: i32,
    top: i32,
    tile: u32,
    width: u32,
    height: u32,
) -> ([f32; 4], [f32; 4]) {
    let mut gx = [0.0, 1.0, 1.0, 0.0];
    let mut gy = [0.0, 1.0, 1.0, 0.0];
    if left <= 0 {
        gx[0] = 1.0;
    }
    if top <= 0 {
        gy[0] = 1.0;
    }
    if i64::from(left) + i64::from(tile) >= i64::from(width) {
        gx[3] = 1.0;
    }
    if i64::from(top) + i64::from(tile) >= i64::from(height) {
        gy[3] = 1.0;
    }
    (gx, gy)
}

/// numpy's `interp(x, xp, fp)` for 4 increasing points: clamped to the end values outside.
fn interp(x: f64, xp: [f64; 4], fp: [f32; 4]) -> f64 {
    if x <= xp[0] {
        return f64::from(fp[0]);
    }
    for k in 0..3 {
        if x <= xp[k + 1] {
            let (x0, x1) = (xp[k], xp[k + 1]);
            let (f0, f1) = (f64::from(fp[k]), f64::from(fp[k + 1]));
            if x == x1 {
                return f1;
            }
            return f0 + (f1 - f0) * (x - x0) / (x1 - x0);
        }
    }
    f64::from(fp[3])
}

/// The blend weights along one side of a tile (`len` output pixels): onnx-web's
/// `np.interp(i, points, grad)` with points `[-1, min(p1, p2), max(p1, p2), tile·scale]`,
/// `p1 = step·scale − 1`, `p2 = (tile − step − 1)·scale`, `step = int(tile × (1 − overlap))`.
/// All ones when `step >= tile` (no overlap). Indices past `tile·scale` take the end value.
pub fn tile_gradient(tile: u32, overlap: f64, scale: u32, grad: [f32; 4], len: usize) -> Vec<f32> {
    let step = tile_step(tile, overlap);
    if step >= tile {
        return vec![1.0; len];
    }
    let scale = f64::from(scale);
    let p1 = f64::from(step) * scale - 1.0;
    let p2 = f64::from(tile - step - 1) * scale;
    let points = [-1.0, p1.min(p2), p1.max(p2), f64::from(tile) * scale];
    (0..len)
        .map(|i| interp(i as f64, points, grad) as f32)
        .collect()
}

/// Accumulates processed tiles into one image (onnx-web's `blend_tiles`): each tile's RGB is
/// weighted by the separable ramps of [`tile_gradient`] (ends at the image border are 1), the
/// weighted sum is divided by the summed weights where they are > 0. Alpha is not blended (the
/// output is RGB). The output is `width·scale × height·scale`; tiles are placed at
/// `(left·scale, top·scale)` and clipped.
///
/// Differences from onnx-web: the division is rounded to the nearest integer instead of
/// truncated, and the sums are kept in f32 instead of f64.
#[derive(Debug, Clone)]
pub struct TileBlender {
    width: u32,
    height: u32,
    tile: u32,
    overlap: f64,
    scale: u32,
    value: Vec<f32>,
    count: Vec<f32>,
}

impl TileBlender {
    /// A blender for a `width × height` image (before scaling) cut into `tile`-pixel tiles with
    /// `overlap`, whose processed tiles are `scale` times larger.
    ///
    /// # Panics
    /// If `scale` is 0.
    pub fn new(width: u32, height: u32, tile: u32, overlap: f64, scale: u32) -> Self {
        assert!(scale > 0, "TileBlender: scale must be at least 1");
        let pixels = width as usize * scale as usize * height as usize * scale as usize;
        Self {
            width,
            height,
            tile,
            overlap,
            scale,
            value: vec![0.0; pixels * 3],
            count: vec![0.0; pixels],
        }
    }

    /// The output size, `width·scale × height·scale`.
    pub fn output_size(&self) -> (u32, u32) {
        (self.width * self.scale, self.height * self.scale)
    }

    /// Adds one processed tile whose top-left corner was `(left, top)` in the unscaled image
    /// (normally `tile·scale` square; other sizes are accepted and clipped).
    pub fn add(&mut self, left: i32, top: i32, tile: &RgbImage) {
        let (out_w, out_h) = self.output_size();
        let (tw, th) = (tile.width() as usize, tile.height() as usize);
        let step = tile_step(self.tile, self.overlap);
        let (gx, gy) = make_tile_grads(left, top, step, self.width, self.height);
        let mx = tile_gradient(self.tile, self.overlap, self.scale, gx, tw);
        let my = tile_gradient(self.tile, self.overlap, self.scale, gy, th);

        let scale = i64::from(self.scale);
        let (x0, y0) = (i64::from(left) * scale, i64::from(top) * scale);
        // The visible part of the tile, in tile coordinates.
        let tx0 = (-x0).clamp(0, tw as i64) as usize;
        let ty0 = (-y0).clamp(0, th as i64) as usize;
        let tx1 = (i64::from(out_w) - x0).clamp(0, tw as i64) as usize;
        let ty1 = (i64::from(out_h) - y0).clamp(0, th as i64) as usize;
        if tx0 >= tx1 || ty0 >= ty1 {
            return;
        }
        let raw = tile.as_raw();
        let out_w = out_w as usize;
        for ty in ty0..ty1 {
            let oy = (y0 + ty as i64) as usize;
            let wy = my[ty];
            let ox0 = (x0 + tx0 as i64) as usize;
            let row = oy * out_w;
            let counts = &mut self.count[row + ox0..row + ox0 + (tx1 - tx0)];
            let values = &mut self.value[(row + ox0) * 3..(row + ox0 + (tx1 - tx0)) * 3];
            let pixels = &raw[(ty * tw + tx0) * 3..(ty * tw + tx1) * 3];
            for (((c, v), px), &wx) in counts
                .iter_mut()
                .zip(values.chunks_exact_mut(3))
                .zip(pixels.chunks_exact(3))
                .zip(&mx[tx0..tx1])
            {
                let w = wx * wy;
                *c += w;
                v[0] += f32::from(px[0]) * w;
                v[1] += f32::from(px[1]) * w;
                v[2] += f32::from(px[2]) * w;
            }
        }
    }

    /// The blended image. Pixels no tile covered are black.
    pub fn finish(self) -> RgbImage {
        let (w, h) = self.output_size();
        let mut out = vec![0u8; self.value.len()];
        for ((o, v), &c) in out
            .chunks_exact_mut(3)
            .zip(self.value.chunks_exact(3))
            .zip(&self.count)
        {
            let div = if c > 0.0 { c } else { 1.0 };
            for (o, &v) in o.iter_mut().zip(v) {
                *o = (v / div).round().clamp(0.0, 255.0) as u8;
            }
        }
        RgbImage::from_raw(w, h, out).expect("buffer size matches")
    }
}

/// Whether a `tile`-sized tile at `(left, top)` reaches outside a `width × height` image.
pub fn tile_needs_margin(left: i32, top: i32, tile: u32, width: u32, height: u32) -> bool {
    left < 0
        || top < 0
        || i64::from(left) + i64::from(tile) > i64::from(width)
        || i64::from(top) + i64::from(tile) > i64::from(height)
}

/// onnx-web's `add_margin`: the part of `source` under the `tile × tile` tile at `(left, top)`,
/// pasted at its place on `noise.generate(part, tile, tile, (0, 0), fill, seed)`.
pub fn add_margin(
    source: &RgbImage,
    left: i32,
    top: i32,
    tile: u32,
    noise: NoiseSource,
    fill: Rgb<u8>,
    seed: u64,
) -> RgbImage {
    let (l, t) = (i64::from(left), i64::from(top));
    let x0 = l.max(0);
    let y0 = t.max(0);
    let x1 = (l + i64::from(tile)).min(i64::from(source.width()));
    let y1 = (t + i64::from(tile)).min(i64::from(source.height()));
    let part = crop(
        source,
        x0,
        y0,
        (x1 - x0).max(0) as u32,
        (y1 - y0).max(0) as u32,
    );
    let mut out = noise.generate(&part, tile, tile, (0, 0), fill, seed);
    paste(&mut out, &part, x0 - l, y0 - t);
    out
}

/// The source of one tile as onnx-web's `process_tile_stack` cuts it: a plain crop when the
/// tile is inside the image, else [`add_margin`].
pub fn extract_tile(
    source: &RgbImage,
    left: i32,
    top: i32,
    tile: u32,
    noise: NoiseSource,
    fill: Rgb<u8>,
    seed: u64,
) -> RgbImage {
    if tile_needs_margin(left, top, tile, source.width(), source.height()) {
        add_margin(source, left, top, tile, noise, fill, seed)
    } else {
        crop(source, i64::from(left), i64::from(top), tile, tile)
    }
}

/// The mask of one tile: the `tile × tile` crop at `(left, top)`, black (keep) outside the
/// mask.
pub fn tile_mask(mask: &GrayImage, left: i32, top: i32, tile: u32) -> GrayImage {
    crop(mask, i64::from(left), i64::from(top), tile, tile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn last5to1(tiles: &[(i32, i32)]) -> Vec<(i32, i32)> {
        tiles[tiles.len() - 5..tiles.len() - 1].to_vec()
    }

    #[test]
    fn grid_vectors() {
        assert_eq!(
            tile_grid(16, 16, 8, 0.0),
            vec![(0, 0), (8, 0), (0, 8), (8, 8)]
        );
        let tiles = tile_grid(64, 64, 8, 0.5);
        assert_eq!(tiles.len(), 256);
        assert_eq!(
            last5to1(&tiles),
            vec![(44, 60), (48, 60), (52, 60), (56, 60)]
        );
        // 72×72 with 32 and no overlap: 3×3.
        assert_eq!(tile_grid(72, 72, 32, 0.0).len(), 9);
        assert_eq!(TileOrder::Grid.tiles(16, 16, 8, 0.0).len(), 4);
    }

    #[test]
    fn spiral_vectors() {
        assert_eq!(
            tile_spiral(16, 16, 8, 0.0),
            vec![(0, 0), (8, 0), (8, 8), (0, 8)]
        );
        let tiles = tile_spiral(64, 64, 8, 0.0);
        assert_eq!(tiles.len(), 64);
        assert_eq!(tiles[..4], [(0, 0), (8, 0), (16, 0), (24, 0)]);
        assert_eq!(
            last5to1(&tiles),
            vec![(16, 24), (24, 24), (32, 24), (32, 32)]
        );
        let tiles = tile_spiral(64, 64, 8, 0.5);
        assert_eq!(tiles.len(), 225);
        assert_eq!(tiles[..4], [(0, 0), (4, 0), (8, 0), (12, 0)]);
        assert_eq!(
            last5to1(&tiles),
            vec![(32, 32), (28, 32), (24, 32), (24, 28)]
        );
        assert_eq!(TileOrder::Spiral.tiles(64, 64, 8, 0.5), tiles);
    }

    #[test]
    fn spiral_centres_and_covers() {
        // 72×72, tile 32, overlap 0.5: inc 16, 4 tiles per axis, span 80, start −4.
        let tiles = tile_spiral(72, 72, 32, 0.5);
        assert_eq!(tiles.len(), 16);
        assert_eq!(tiles[0], (-4, -4));
        let mut sorted = tiles.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 16, "no tile twice");
        assert!(tiles
            .iter()
            .all(|&(x, y)| [-4, 12, 28, 44].contains(&x) && [-4, 12, 28, 44].contains(&y)));
        // One tile when the image fits; a non-square layout; odd sizes truncate toward zero.
        assert_eq!(tile_spiral(20, 30, 32, 0.5), vec![(-6, -1)]);
        let wide = tile_spiral(100, 32, 32, 0.0);
        assert_eq!(wide.len(), 4);
        assert_eq!(wide[0], (-14, 0));
        let odd = tile_spiral(71, 71, 32, 0.5);
        assert_eq!(odd[0], (-4, -4), "(71 − 80) / 2 = −4.5 → −4");
        // A degenerate overlap does not divide by zero.
        assert!(!tile_spiral(64, 64, 8, 1.0).is_empty());
        assert!(!tile_grid(64, 64, 8, 1.0).is_empty());
    }

    #[test]
    fn order_names() {
        assert_eq!(TileOrder::from_name("grid"), Some(TileOrder::Grid));
        assert_eq!(TileOrder::from_name("spiral").unwrap().name(), "spiral");
        assert_eq!(TileOrder::from_name("kernel"), None);
    }

    #[test]
    fn needs_tile_vectors() {
        assert!(!needs_tile(64, 64, 32, 32));
        assert!(needs_tile(32, 32, 64, 64));
        assert!(needs_tile(512, 64, 65, 10));
        assert!(!needs_tile(64, 512, 64, 64));
    }

    #[test]
    fn tile_grads_vectors() {
        let ramp = [0.0, 1.0, 1.0, 0.0];
        let flat = [1.0; 4];
        assert_eq!(make_tile_grads(32, 32, 8, 64, 64), (ramp, ramp));
        assert_eq!(make_tile_grads(32, 0, 8, 64, 8), (ramp, flat));
        assert_eq!(make_tile_grads(0, 32, 8, 8, 64), (flat, ramp));
        assert_eq!(
            make_tile_grads(-4, 60, 8, 64, 64),
            ([1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0])
        );
    }

    #[test]
    fn gradient_matches_numpy_interp() {
        // tile 8, overlap 0.5, scale 1: step 4, p1 = 3, p2 = 3, points [-1, 3, 3, 8].
        let g = tile_gradient(8, 0.5, 1, [0.0, 1.0, 1.0, 0.0], 8);
        let want = [0.25, 0.5, 0.75, 1.0, 0.8, 0.6, 0.4, 0.2];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{g:?}");
        }
        let g = tile_gradient(8, 0.5, 1, [1.0; 4], 10);
        assert!(g.iter().all(|&v| v == 1.0));
        // No overlap: all ones whatever the grads.
        assert!(tile_gradient(8, 0.0, 2, [0.0, 1.0, 1.0, 0.0], 16)
            .iter()
            .all(|&v| v == 1.0));
        // Past the end: the end value.
        let g = tile_gradient(8, 0.5, 1, [0.0, 1.0, 1.0, 0.5], 12);
        assert_eq!(g[11], 0.5);
        // Scale 2: p1 = 7, p2 = 6, points [-1, 6, 7, 16].
        let g = tile_gradient(8, 0.5, 2, [0.0, 1.0, 1.0, 0.0], 16);
        assert!((g[0] - 1.0 / 7.0).abs() < 1e-6 && g[6] == 1.0 && g[7] == 1.0);
        assert!((g[15] - 1.0 / 9.0).abs() < 1e-6, "{g:?}");
    }

    /// onnx-web's `process_tile_stack` with an identity stage.
    fn process(source: &RgbImage, tile: u32, overlap: f64, order: TileOrder) -> RgbImage {
        let (w, h) = source.dimensions();
        let mut blender = TileBlender::new(w, h, tile, overlap, 1);
        for (i, (left, top)) in order.tiles(w, h, tile, overlap).into_iter().enumerate() {
            let t = extract_tile(
                source,
                left,
                top,
                tile,
                NoiseSource::Histogram,
                Rgb([0, 0, 0]),
                i as u64,
            );
            assert_eq!(t.dimensions(), (tile, tile));
            blender.add(left, top, &t);
        }
        blender.finish()
    }

    #[test]
    fn process_tile_stack_sizes() {
        for order in [TileOrder::Grid, TileOrder::Spiral] {
            for size in [64, 72] {
                let source = RgbImage::new(size, size);
                let out = process(&source, 32, 0.5, order);
                assert_eq!(out.dimensions(), (size, size), "{order:?} {size}");
            }
        }
    }

    #[test]
    fn identity_tiles_reproduce_the_image() {
        let source = RgbImage::from_fn(72, 56, |x, y| {
            Rgb([(x * 3) as u8, (y * 4) as u8, ((x + y) * 2) as u8])
        });
        for order in [TileOrder::Grid, TileOrder::Spiral] {
            for overlap in [0.0, 0.25, 0.5] {
                let out = process(&source, 32, overlap, order);
                // Weighted averages of identical values give the value back; margin noise
                // only lies outside the image and is clipped.
                assert_eq!(out, source, "{order:?} {overlap}");
            }
        }
    }

    #[test]
    fn blender_weights_and_scale() {
        // Two overlapping tiles of flat colours blend smoothly across the overlap.
        let mut blender = TileBlender::new(12, 8, 8, 0.5, 1);
        blender.add(0, 0, &RgbImage::from_pixel(8, 8, Rgb([0, 0, 0])));
        blender.add(4, 0, &RgbImage::from_pixel(8, 8, Rgb([200, 200, 200])));
        let out = blender.finish();
        assert_eq!(out.get_pixel(0, 3)[0], 0);
        assert_eq!(out.get_pixel(11, 3)[0], 200);
        let row: Vec<u8> = (4..8).map(|x| out.get_pixel(x, 3)[0]).collect();
        assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
        assert!(row[0] > 0 && row[3] < 200, "{row:?}");
        // Scaled tiles land at scaled positions; the output is scale× the size.
        let mut blender = TileBlender::new(16, 16, 8, 0.0, 2);
        assert_eq!(blender.output_size(), (32, 32));
        for (i, (l, t)) in tile_grid(16, 16, 8, 0.0).into_iter().enumerate() {
            blender.add(
                l,
                t,
                &RgbImage::from_pixel(16, 16, Rgb([i as u8 * 50, 0, 0])),
            );
        }
        let out = blender.finish();
        assert_eq!(out.dimensions(), (32, 32));
        assert_eq!(out.get_pixel(15, 15)[0], 0);
        assert_eq!(out.get_pixel(16, 0)[0], 50);
        assert_eq!(out.get_pixel(0, 16)[0], 100);
        assert_eq!(out.get_pixel(31, 31)[0], 150);
        // Uncovered pixels are black; tiles outside are clipped.
        let mut blender = TileBlender::new(10, 10, 4, 0.0, 1);
        blender.add(-2, -2, &RgbImage::from_pixel(4, 4, Rgb([9, 9, 9])));
        blender.add(100, 100, &RgbImage::from_pixel(4, 4, Rgb([9, 9, 9])));
        let out = blender.finish();
        assert_eq!(out.get_pixel(1, 1)[0], 9);
        assert_eq!(out.get_pixel(2, 2)[0], 0);
    }

    #[test]
    fn margins_use_the_noise_source() {
        let source = RgbImage::from_pixel(16, 16, Rgb([10, 20, 30]));
        let fill = Rgb([255, 0, 255]);
        assert!(tile_needs_margin(-4, 0, 8, 16, 16));
        assert!(tile_needs_margin(12, 0, 8, 16, 16));
        assert!(!tile_needs_margin(8, 8, 8, 16, 16));
        let t = add_margin(&source, -4, 12, 8, NoiseSource::FillMask, fill, 0);
        assert_eq!(t.dimensions(), (8, 8));
        assert_eq!(t.get_pixel(0, 0), &fill);
        assert_eq!(t.get_pixel(4, 0).0, [10, 20, 30]);
        assert_eq!(t.get_pixel(7, 3).0, [10, 20, 30]);
        assert_eq!(t.get_pixel(7, 4), &fill);
        // Histogram noise of a flat part is that colour everywhere.
        let t = extract_tile(&source, -4, -4, 8, NoiseSource::Histogram, fill, 0);
        assert!(t.pixels().all(|p| p.0 == [10, 20, 30]));
        // Inside: a plain crop.
        let grad = RgbImage::from_fn(16, 16, |x, y| Rgb([x as u8, y as u8, 0]));
        let t = extract_tile(&grad, 4, 6, 8, NoiseSource::FillMask, fill, 0);
        assert_eq!(t.get_pixel(0, 0).0, [4, 6, 0]);
        // Masks are padded with black.
        let mask = GrayImage::from_pixel(16, 16, Luma([255]));
        let m = tile_mask(&mask, 12, -2, 8);
        assert_eq!(m.get_pixel(0, 2)[0], 255);
        assert_eq!(m.get_pixel(4, 2)[0], 0);
        assert_eq!(m.get_pixel(0, 1)[0], 0);
    }
}
