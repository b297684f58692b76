//! Full-resolution inpainting (spec §6.5 step 3, `run.py::run_inpaint_pipeline`): the square
//! around the mask that is inpainted at the tile size and pasted back.

use image::GrayImage;

/// A square region of an image, `size × size` at `(left, top)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CropBox {
    pub left: u32,
    pub top: u32,
    pub size: u32,
}

impl CropBox {
    /// `left + size` (exclusive).
    pub fn right(&self) -> u32 {
        self.left + self.size
    }

    /// `top + size` (exclusive).
    pub fn bottom(&self) -> u32 {
        self.top + self.size
    }
}

/// The bounding box `(left, top, right, bottom)` (right and bottom exclusive) of the non-zero
/// pixels of a mask, as PIL's `getbbox`; `None` when the mask is all black.
pub fn mask_bbox(mask: &GrayImage) -> Option<(u32, u32, u32, u32)> {
    let w = mask.width() as usize;
    if w == 0 {
        return None;
    }
    let (mut left, mut top, mut right, mut bottom) = (usize::MAX, usize::MAX, 0, 0);
    for (y, row) in mask.as_raw().chunks_exact(w).enumerate() {
        let Some(first) = row.iter().position(|&v| v != 0) else {
            continue;
        };
        let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
        top = top.min(y);
        bottom = y + 1;
        left = left.min(first);
        right = right.max(last + 1);
    }
    (top != usize::MAX).then_some((left as u32, top as u32, right as u32, bottom as u32))
}

/// The full-res inpaint square for `mask` (the mask at the source size, after
/// `expand_image`), as onnx-web computes it: the mask's bounding box (the whole image when the
/// mask is empty); side `s = ceil(max(bw, bh) × padding / 2) × 2`; centred on the box centre
/// (`int(round(..))`, half to even) and moved back inside the image. `None` when the square
/// does not fit in the image or `s > tile`: onnx-web then inpaints normally.
///
/// The caller crops source and mask to the box, `contain`s them to `tile × tile`
/// (bicubic), inpaints, `contain`s the result back to `s × s` and pastes it at the box.
/// Only used without an outpaint border.
pub fn fullres_inpaint_box(mask: &GrayImage, padding: f64, tile: u32) -> Option<CropBox> {
    let (width, height) = (i64::from(mask.width()), i64::from(mask.height()));
    let (l, t, r, b) = mask_bbox(mask)
        .map(|(l, t, r, b)| (i64::from(l), i64::from(t), i64::from(r), i64::from(b)))
        .unwrap_or((0, 0, width, height));
    let longest = (r - l).max(b - t) as f64;
    let size = ((longest * padding / 2.0).ceil() * 2.0) as i64;
    let cx = ((r + l) as f64 / 2.0).round_ties_even() as i64;
    let cy = ((b + t) as f64 / 2.0).round_ties_even() as i64;
    // size is even, so size / 2 is exact, as Python's int(c − size / 2).
    let (mut x0, mut y0) = (cx - size / 2, cy - size / 2);
    let (x1, y1) = (cx + size / 2, cy + size / 2);
    // Shift left/up by the excess past the far edge, right/down by the deficit before 0.
    let dx = -(x1 - width).max(0) - x0.min(0);
    let dy = -(y1 - height).max(0) - y0.min(0);
    x0 += dx;
    y0 += dy;
    let fits = x0 >= 0 && y0 >= 0 && x0 + size <= width && y0 + size <= height;
    if !fits || size > i64::from(tile) || size <= 0 {
        return None;
    }
    Some(CropBox {
        left: x0 as u32,
        top: y0 as u32,
        size: size as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn mask_with(width: u32, height: u32, rect: (u32, u32, u32, u32)) -> GrayImage {
        let (l, t, r, b) = rect;
        GrayImage::from_fn(width, height, |x, y| {
            Luma([if x >= l && x < r && y >= t && y < b {
                255
            } else {
                0
            }])
        })
    }

    #[test]
    fn bbox_like_pil() {
        assert_eq!(mask_bbox(&GrayImage::new(8, 8)), None);
        assert_eq!(mask_bbox(&GrayImage::new(0, 0)), None);
        let m = mask_with(32, 16, (3, 4, 10, 7));
        assert_eq!(mask_bbox(&m), Some((3, 4, 10, 7)));
        let mut m = GrayImage::new(5, 5);
        m.put_pixel(4, 0, Luma([1]));
        m.put_pixel(0, 4, Luma([1]));
        assert_eq!(mask_bbox(&m), Some((0, 0, 5, 5)));
    }

    #[test]
    fn centred_square() {
        // Box 100..140 × 200..220 in 512×512: longest 40, ×1.2 → 48; centre (120, 210).
        let m = mask_with(512, 512, (100, 200, 140, 220));
        assert_eq!(
            fullres_inpaint_box(&m, 1.2, 512),
            Some(CropBox {
                left: 96,
                top: 186,
                size: 48
            })
        );
        // 41 × 1.0 / 2 = 20.5 → 21 → side 42; centre 120.5 → 120 (half to even).
        let m = mask_with(512, 512, (100, 100, 141, 110));
        let b = fullres_inpaint_box(&m, 1.0, 512).unwrap();
        assert_eq!((b.left, b.size, b.right()), (99, 42, 141));
        assert_eq!(b.bottom(), b.top + 42);
    }

    #[test]
    fn moved_inside_the_image() {
        // Near the top-left corner: shifted right/down to 0.
        let m = mask_with(512, 512, (0, 0, 30, 30));
        let b = fullres_inpaint_box(&m, 2.0, 512).unwrap();
        assert_eq!((b.left, b.top, b.size), (0, 0, 60));
        // Near the bottom-right corner: shifted left/up.
        let m = mask_with(512, 256, (480, 240, 512, 256));
        let b = fullres_inpaint_box(&m, 2.0, 512).unwrap();
        assert_eq!((b.right(), b.bottom(), b.size), (512, 256, 64));
    }

    #[test]
    fn refused_when_too_large() {
        // Larger than the tile.
        let m = mask_with(1024, 1024, (100, 100, 500, 500));
        assert_eq!(fullres_inpaint_box(&m, 1.2, 256), None);
        assert!(fullres_inpaint_box(&m, 1.2, 512).is_some());
        // Larger than the image.
        let m = mask_with(256, 128, (0, 0, 200, 100));
        assert_eq!(fullres_inpaint_box(&m, 1.0, 512), None);
        // An empty mask uses the whole image: fits only for a square image within the tile.
        assert_eq!(
            fullres_inpaint_box(&GrayImage::new(64, 64), 1.0, 512),
            Some(CropBox {
                left: 0,
                top: 0,
                size: 64
            })
        );
        assert_eq!(fullres_inpaint_box(&GrayImage::new(64, 64), 1.2, 512), None);
        assert_eq!(fullres_inpaint_box(&GrayImage::new(96, 64), 1.0, 512), None);
    }
}
