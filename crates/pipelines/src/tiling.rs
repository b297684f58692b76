//! Stage tiling in pixel space (§6.2): runs a stage on the whole image when it fits in one
//! tile, else on onnx-web's spiral or grid tiles (margins outside the image filled by a noise
//! source) and blends the results with linear ramps (`onnx_web_imageops::TileBlender`).

use image::{GrayImage, Rgb, RgbImage};
use onnx_web_imageops::{extract_tile, tile_mask, NoiseSource, TileBlender};

pub use onnx_web_imageops::TileOrder;

use crate::error::Result;

/// How tile margins outside the image are filled: onnx-web's `add_margin` with the stage's
/// noise source and fill colour (seeded here).
#[derive(Clone, Copy, Debug)]
pub struct Margins {
    pub noise: NoiseSource,
    pub fill: Rgb<u8>,
    pub seed: u64,
}

impl Margins {
    /// onnx-web's default: histogram noise.
    pub fn histogram(seed: u64) -> Self {
        Self {
            noise: NoiseSource::Histogram,
            fill: Rgb([255, 255, 255]),
            seed,
        }
    }
}

/// One tile handed to a tile callback.
pub struct Tile<'a> {
    pub image: &'a RgbImage,
    pub mask: Option<&'a GrayImage>,
    pub left: i64,
    pub top: i64,
    pub size: u32,
}

/// onnx-web's `process_tile_order`: runs `stage` on the whole image when it fits in one tile,
/// else on each tile (in `order`, with `overlap`) and blends the results (`scale` times larger).
/// The stage returns one image per output (batch item); each output is blended on its own.
#[allow(clippy::too_many_arguments)]
pub fn process_tiles(
    source: &RgbImage,
    mask: Option<&GrayImage>,
    tile: u32,
    overlap: f64,
    order: TileOrder,
    scale: u32,
    margins: Margins,
    mut stage: impl FnMut(Tile<'_>) -> Result<Vec<RgbImage>>,
) -> Result<Vec<RgbImage>> {
    let (width, height) = source.dimensions();
    if width <= tile && height <= tile {
        return stage(Tile {
            image: source,
            mask,
            left: 0,
            top: 0,
            size: tile,
        });
    }
    let mut blenders: Vec<TileBlender> = Vec::new();
    for (left, top) in order.tiles(width, height, tile, overlap) {
        let tile_image = extract_tile(
            source,
            left,
            top,
            tile,
            margins.noise,
            margins.fill,
            margins.seed,
        );
        let tile_mask = mask.map(|m| tile_mask(m, left, top, tile));
        let outputs = stage(Tile {
            image: &tile_image,
            mask: tile_mask.as_ref(),
            left: left.into(),
            top: top.into(),
            size: tile,
        })?;
        if blenders.is_empty() {
            blenders = outputs
                .iter()
                .map(|_| TileBlender::new(width, height, tile, overlap, scale))
                .collect();
        }
        for (blender, output) in blenders.iter_mut().zip(&outputs) {
            blender.add(left, top, output);
        }
    }
    Ok(blenders.into_iter().map(TileBlender::finish).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blending_identical_tiles_gives_the_source() {
        let source = RgbImage::from_fn(72, 40, |x, y| Rgb([x as u8 * 3, y as u8 * 5, 77]));
        for order in [TileOrder::Grid, TileOrder::Spiral] {
            let out = process_tiles(
                &source,
                None,
                32,
                0.25,
                order,
                1,
                Margins::histogram(1),
                |tile| Ok(vec![tile.image.clone()]),
            )
            .unwrap();
            assert_eq!(out.len(), 1);
            assert_eq!(out[0], source, "{order:?}");
        }
        // One tile: the stage sees the whole image.
        let out = process_tiles(
            &source,
            None,
            128,
            0.25,
            TileOrder::Spiral,
            2,
            Margins::histogram(1),
            |tile| {
                assert_eq!(tile.image.dimensions(), (72, 40));
                Ok(vec![RgbImage::new(144, 80)])
            },
        )
        .unwrap();
        assert_eq!(out[0].dimensions(), (144, 80));
    }
}
