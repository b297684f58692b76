//! Tiled VAE (spec §6.3, onnx-web's `diffusers/patches/vae.py`, the scheme of diffusers'
//! `AutoencoderKL.tiled_decode/encode`): the input is cut into overlapping square tiles, each
//! tile runs through the model, and each output tile is blended linearly with the tile above
//! (`blend_v`) and the tile to the left (`blend_h`) before its top-left `row_limit` square is
//! kept.

/// A contiguous f32 NCHW tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor4 {
    /// The values, `shape[0] × shape[1] × shape[2] × shape[3]`, row-major.
    pub data: Vec<f32>,
    /// `[batch, channels, height, width]`.
    pub shape: [usize; 4],
}

impl Tensor4 {
    /// A zero tensor.
    pub fn zeros(shape: [usize; 4]) -> Self {
        Self {
            data: vec![0.0; shape.iter().product()],
            shape,
        }
    }

    /// Wraps `data`; `None` when its length is not the product of `shape`.
    pub fn from_vec(data: Vec<f32>, shape: [usize; 4]) -> Option<Self> {
        (data.len() == shape.iter().product::<usize>()).then_some(Self { data, shape })
    }

    /// Height (`shape[2]`).
    pub fn height(&self) -> usize {
        self.shape[2]
    }

    /// Width (`shape[3]`).
    pub fn width(&self) -> usize {
        self.shape[3]
    }

    /// The region `[y, y + h) × [x, x + w)` of every plane, clipped to the tensor as a slice
    /// `t[:, :, y:y+h, x:x+w]` is (so it may be smaller than `h × w`, or empty).
    pub fn window(&self, y: usize, x: usize, h: usize, w: usize) -> Tensor4 {
        let [n, c, th, tw] = self.shape;
        let y0 = y.min(th);
        let x0 = x.min(tw);
        let h = (y0 + h).min(th) - y0;
        let w = (x0 + w).min(tw) - x0;
        let mut data = Vec::with_capacity(n * c * h * w);
        for plane in self.data.chunks_exact((th * tw).max(1)).take(n * c) {
            for row in y0..y0 + h {
                data.extend_from_slice(&plane[row * tw + x0..row * tw + x0 + w]);
            }
        }
        Tensor4 {
            data,
            shape: [n, c, h, w],
        }
    }

    /// Copies `src` into this tensor with its top-left corner at `(y, x)`, clipped. Batch and
    /// channel counts must match.
    ///
    /// # Panics
    /// If the batch or channel counts differ.
    pub fn paste(&mut self, src: &Tensor4, y: usize, x: usize) {
        let [n, c, th, tw] = self.shape;
        assert_eq!(
            [n, c],
            [src.shape[0], src.shape[1]],
            "Tensor4::paste: batch and channels must match"
        );
        let [_, _, sh, sw] = src.shape;
        let h = sh.min(th.saturating_sub(y));
        let w = sw.min(tw.saturating_sub(x));
        if h == 0 || w == 0 {
            return;
        }
        for p in 0..n * c {
            for row in 0..h {
                let d = p * th * tw + (y + row) * tw + x;
                let s = p * sh * sw + row * sw;
                self.data[d..d + w].copy_from_slice(&src.data[s..s + w]);
            }
        }
    }
}

/// onnx-web's `blend_v(a, b, extent)`: the first rows of `b` fade in from the last `extent`
/// rows of `a` (the tile above): `b[y] = a[h_a − extent + y]·(1 − y/extent) + b[y]·(y/extent)`
/// for `y < min(h_a, h_b, extent)`. When `a` has fewer than `extent` rows, `extent = h_a` (as
/// diffusers; onnx-web fails there).
///
/// # Panics
/// If the batch, channel or width of `a` and `b` differ (in the blended rows' span).
pub fn blend_v(a: &Tensor4, b: &mut Tensor4, extent: usize) {
    let [n, c, ah, aw] = a.shape;
    let [bn, bc, bh, bw] = b.shape;
    assert_eq!([n, c], [bn, bc], "blend_v: batch and channels must match");
    let extent = extent.min(ah);
    let rows = extent.min(bh);
    let w = aw.min(bw);
    for p in 0..n * c {
        for y in 0..rows {
            let t = y as f32 / extent as f32;
            let a_row = &a.data[p * ah * aw + (ah - extent + y) * aw..][..w];
            let b_row = &mut b.data[p * bh * bw + y * bw..][..w];
            for (bv, &av) in b_row.iter_mut().zip(a_row) {
                *bv = av * (1.0 - t) + *bv * t;
            }
        }
    }
}

/// onnx-web's `blend_h(a, b, extent)`: the first columns of `b` fade in from the last `extent`
/// columns of `a` (the tile to the left), as [`blend_v`] does for rows.
///
/// # Panics
/// If the batch or channel counts differ.
pub fn blend_h(a: &Tensor4, b: &mut Tensor4, extent: usize) {
    let [n, c, ah, aw] = a.shape;
    let [bn, bc, bh, bw] = b.shape;
    assert_eq!([n, c], [bn, bc], "blend_h: batch and channels must match");
    let extent = extent.min(aw);
    let cols = extent.min(bw);
    let h = ah.min(bh);
    let weights: Vec<f32> = (0..cols).map(|x| x as f32 / extent as f32).collect();
    for p in 0..n * c {
        for y in 0..h {
            let a_row = &a.data[p * ah * aw + y * aw + aw - extent..][..cols];
            let b_row = &mut b.data[p * bh * bw + y * bw..][..cols];
            for ((bv, &av), &t) in b_row.iter_mut().zip(a_row).zip(&weights) {
                *bv = av * (1.0 - t) + *bv * t;
            }
        }
    }
}

/// Which way a tiled VAE pass goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaeDirection {
    /// Latents → pixels (×8).
    Decode,
    /// Pixels → latents (÷8).
    Encode,
}

/// The layout of a tiled VAE pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TiledVae {
    /// Decoder or encoder: the output is cropped to the input size ×8 or ÷8.
    pub direction: VaeDirection,
    /// Input tile side.
    pub tile: usize,
    /// Step between input tiles.
    pub stride: usize,
    /// Output rows/columns blended with the previous tile.
    pub blend_extent: usize,
    /// Output side kept from each tile.
    pub row_limit: usize,
}

impl TiledVae {
    /// The decoder layout for `window` latents per tile (`vae_tile / 8`) and `overlap`
    /// (`vae_overlap`): stride `int(window·(1 − overlap))`, blend `int(8·window·overlap)`
    /// output pixels, row limit `8·window − blend`.
    pub fn decoder(window: usize, overlap: f64) -> Self {
        let sample = window * 8;
        let blend = (sample as f64 * overlap).trunc().clamp(0.0, sample as f64) as usize;
        Self {
            direction: VaeDirection::Decode,
            tile: window,
            stride: stride(window, overlap),
            blend_extent: blend,
            row_limit: sample - blend,
        }
    }

    /// The encoder layout: input tiles of `8·window` pixels, stride `int(8·window·(1 −
    /// overlap))`, blend `int(window·overlap)` latents, row limit `window − blend`.
    pub fn encoder(window: usize, overlap: f64) -> Self {
        let sample = window * 8;
        let blend = (window as f64 * overlap).trunc().clamp(0.0, window as f64) as usize;
        Self {
            direction: VaeDirection::Encode,
            tile: sample,
            stride: stride(sample, overlap),
            blend_extent: blend,
            row_limit: window - blend,
        }
    }

    /// The input tiles' top-left corners `(y, x)`, row by row, for an input of
    /// `height × width`.
    pub fn tiles(&self, height: usize, width: usize) -> Vec<Vec<(usize, usize)>> {
        (0..height)
            .step_by(self.stride)
            .map(|y| (0..width).step_by(self.stride).map(|x| (y, x)).collect())
            .collect()
    }

    /// Runs `model` on every tile of `input` (tiles are `input[:, :, y:y+tile, x:x+tile]`, smaller
    /// at the bottom and right edges), blends the outputs and assembles the result. Tiles are
    /// processed row by row, left to right; only two rows of outputs are kept at a time.
    /// The result is cropped to the input size ×8 (decode) or ÷8 (encode): with overlaps where
    /// `row_limit` exceeds the output stride, diffusers' concatenation comes out larger.
    /// The first error of `model` is returned.
    ///
    /// # Panics
    /// If the model's outputs disagree in batch or channel count.
    pub fn run<E>(
        &self,
        input: &Tensor4,
        mut model: impl FnMut(&Tensor4) -> Result<Tensor4, E>,
    ) -> Result<Tensor4, E> {
        let mut previous: Vec<Tensor4> = Vec::new();
        // Cropped output strips, one per row of tiles.
        let mut strips: Vec<Vec<Tensor4>> = Vec::new();
        for row in self.tiles(input.height(), input.width()) {
            let mut current: Vec<Tensor4> = Vec::with_capacity(row.len());
            let mut strip = Vec::with_capacity(row.len());
            for (j, &(y, x)) in row.iter().enumerate() {
                let mut out = model(&input.window(y, x, self.tile, self.tile))?;
                if let Some(above) = previous.get(j) {
                    blend_v(above, &mut out, self.blend_extent);
                }
                if let Some(left) = current.last() {
                    blend_h(left, &mut out, self.blend_extent);
                }
                strip.push(out.window(0, 0, self.row_limit, self.row_limit));
                current.push(out);
            }
            previous = current;
            strips.push(strip);
        }
        let out = assemble(&strips);
        let (h, w) = match self.direction {
            VaeDirection::Decode => (input.height() * 8, input.width() * 8),
            VaeDirection::Encode => (input.height() / 8, input.width() / 8),
        };
        if out.height() <= h && out.width() <= w {
            return Ok(out);
        }
        Ok(out.window(0, 0, h, w))
    }
}

fn stride(tile: usize, overlap: f64) -> usize {
    ((tile as f64 * (1.0 - overlap)).trunc().max(1.0)) as usize
}

/// Concatenates cropped tiles: each row along width, the rows along height.
fn assemble(strips: &[Vec<Tensor4>]) -> Tensor4 {
    let Some(first) = strips.first().and_then(|s| s.first()) else {
        return Tensor4::zeros([0, 0, 0, 0]);
    };
    let [n, c, _, _] = first.shape;
    let height: usize = strips
        .iter()
        .map(|s| s.first().map_or(0, Tensor4::height))
        .sum();
    let width: usize = strips[0].iter().map(Tensor4::width).sum();
    let mut out = Tensor4::zeros([n, c, height, width]);
    let mut y = 0;
    for strip in strips {
        let mut x = 0;
        for t in strip {
            out.paste(t, y, x);
            x += t.width();
        }
        y += strip.first().map_or(0, Tensor4::height);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(shape: [usize; 4]) -> Tensor4 {
        let len = shape.iter().product();
        Tensor4::from_vec((0..len).map(|v| v as f32).collect(), shape).unwrap()
    }

    #[test]
    fn window_and_paste() {
        let t = ramp([1, 2, 4, 5]);
        let w = t.window(1, 3, 4, 4);
        assert_eq!(w.shape, [1, 2, 3, 2]);
        assert_eq!(w.data[..2], [8.0, 9.0]);
        assert_eq!(w.data[6..8], [28.0, 29.0], "second plane");
        assert_eq!(t.window(9, 9, 2, 2).shape, [1, 2, 0, 0]);
        let mut z = Tensor4::zeros([1, 2, 4, 5]);
        z.paste(&w, 1, 3);
        assert_eq!(z.window(1, 3, 3, 2), w);
        assert!(Tensor4::from_vec(vec![0.0; 3], [1, 1, 2, 2]).is_none());
    }

    #[test]
    fn blends_fade_linearly() {
        let a = Tensor4::from_vec(vec![10.0; 16], [1, 1, 4, 4]).unwrap();
        let mut b = Tensor4::zeros([1, 1, 4, 4]);
        blend_v(&a, &mut b, 2);
        // Row 0: all a; row 1: half; rows 2, 3 untouched.
        assert_eq!(b.data[0], 10.0);
        assert_eq!(b.data[4], 5.0);
        assert_eq!(b.data[8], 0.0);
        let mut b = Tensor4::zeros([1, 1, 4, 4]);
        blend_h(&a, &mut b, 4);
        assert_eq!(b.data[..4], [10.0, 7.5, 5.0, 2.5]);
        // Extent larger than a: clamped to a's size.
        let small = Tensor4::from_vec(vec![8.0; 4], [1, 1, 1, 4]).unwrap();
        let mut b = Tensor4::zeros([1, 1, 4, 4]);
        blend_v(&small, &mut b, 3);
        assert_eq!(b.data[0], 8.0);
        assert_eq!(b.data[4], 0.0);
    }

    #[test]
    fn layouts_like_diffusers() {
        let d = TiledVae::decoder(64, 0.25);
        assert_eq!(
            (d.tile, d.stride, d.blend_extent, d.row_limit),
            (64, 48, 128, 384)
        );
        let e = TiledVae::encoder(64, 0.25);
        assert_eq!(
            (e.tile, e.stride, e.blend_extent, e.row_limit),
            (512, 384, 16, 48)
        );
        assert_eq!(TiledVae::decoder(64, 1.0).stride, 1);
    }

    /// A fake decoder: every latent becomes an 8×8 block of its value, 3 channels.
    fn upsample(t: &Tensor4) -> Result<Tensor4, String> {
        let [n, _, h, w] = t.shape;
        let mut out = Tensor4::zeros([n, 3, h * 8, w * 8]);
        for b in 0..n {
            for c in 0..3 {
                for y in 0..h * 8 {
                    for x in 0..w * 8 {
                        let v = t.data[((b * t.shape[1]) * h + y / 8) * w + x / 8];
                        out.data[((b * 3 + c) * h * 8 + y) * w * 8 + x] = v;
                    }
                }
            }
        }
        Ok(out)
    }

    #[test]
    fn decode_sizes_and_flat_values() {
        for ((h, w), overlap) in [
            ((64, 96), 0.25),
            ((64, 64), 0.25),
            ((40, 72), 0.5),
            ((8, 8), 0.25),
            ((100, 30), 0.25),
            ((64, 96), 0.3),
        ] {
            let latents = Tensor4::from_vec(vec![0.5; 2 * 4 * h * w], [2, 4, h, w]).unwrap();
            let mut calls = 0;
            let out = TiledVae::decoder(32, overlap)
                .run(&latents, |t| {
                    calls += 1;
                    upsample(t)
                })
                .unwrap();
            assert_eq!(out.shape, [2, 3, h * 8, w * 8], "{h}×{w}");
            assert!(out.data.iter().all(|&v| (v - 0.5).abs() < 1e-6));
            let rows = TiledVae::decoder(32, overlap).tiles(h, w);
            assert_eq!(calls, rows.len() * rows[0].len());
        }
    }

    #[test]
    fn decode_of_a_gradient_is_continuous() {
        // A horizontal ramp in latent space decodes (through the fake decoder and the blends) to
        // values that never jump by more than one latent step.
        let (h, w) = (16, 48);
        let data = (0..h * w).map(|i| (i % w) as f32).collect();
        let latents = Tensor4::from_vec(data, [1, 1, h, w]).unwrap();
        let out = TiledVae::decoder(16, 0.5).run(&latents, upsample).unwrap();
        assert_eq!(out.shape, [1, 3, 128, 384]);
        let row = &out.data[..384];
        assert!(
            row.windows(2).all(|p| (p[1] - p[0]).abs() <= 1.0 + 1e-4),
            "{row:?}"
        );
        // Errors stop the run.
        let err = TiledVae::decoder(16, 0.5)
            .run(&latents, |_| Err::<Tensor4, _>("boom"))
            .unwrap_err();
        assert_eq!(err, "boom");
    }

    #[test]
    fn encode_sizes() {
        let image = Tensor4::zeros([1, 3, 512, 768]);
        let out = TiledVae::encoder(32, 0.25)
            .run(&image, |t| {
                let [n, _, h, w] = t.shape;
                Ok::<_, ()>(Tensor4::zeros([n, 4, h / 8, w / 8]))
            })
            .unwrap();
        assert_eq!(out.shape, [1, 4, 64, 96]);
    }
}
