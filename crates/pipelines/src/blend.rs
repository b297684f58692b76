//! Blend (§6.7): two sources mixed through a mask; white takes the second source, black the
//! first. The mask and the first source are resized (bilinear) to the second source's size.

use image::{GrayImage, RgbImage};

use crate::image_util::{resize, resize_gray, Resample};

pub fn blend(first: &RgbImage, second: &RgbImage, mask: &GrayImage) -> RgbImage {
    let (width, height) = second.dimensions();
    let mask = resize_gray(mask, width, height, Resample::Bilinear);
    let first = resize(first, width, height, Resample::Bilinear);
    onnx_web_imageops::composite(&first, second, &mask).expect("the same size")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Luma, Rgb};

    #[test]
    fn white_takes_the_second_source() {
        let black = RgbImage::from_pixel(8, 8, Rgb([0, 0, 0]));
        let white = RgbImage::from_pixel(8, 8, Rgb([255, 255, 255]));
        let mask = GrayImage::from_fn(4, 4, |x, _| Luma([if x < 2 { 0 } else { 255 }]));
        let out = blend(&black, &white, &mask);
        assert_eq!(out.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(7, 7).0, [255, 255, 255]);
    }
}
