//! Guarded decoding of uploaded images: the declared size is checked before any pixel is
//! decoded, so a small file claiming a huge image (a decompression bomb) is refused cheaply.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::ImageError;

/// Decodes a PNG, JPEG or WebP image, refusing images whose declared size is zero or exceeds
/// `max_pixels`, and truncated or corrupt data.
pub fn decode_image(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, ImageError> {
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, ImageError> {
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ImageError::Decode(e.to_string()))?;
        match reader.format() {
            Some(_) => Ok(reader),
            None => Err(ImageError::UnknownFormat),
        }
    };

    let (width, height) = match declared_png_size(bytes) {
        // PNG: read IHDR directly, so that a 0×0 header gets its own message rather than the
        // decoder's generic one.
        Some(size) => size,
        None => reader()?.into_dimensions().map_err(decode_error)?,
    };
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(ImageError::ZeroSize { width, height });
    }
    if pixels > max_pixels {
        return Err(ImageError::TooLarge {
            width,
            height,
            pixels,
            max_pixels,
        });
    }

    let mut reader = reader()?;
    let truncated = match reader.format() {
        // The JPEG decoder fills missing scan data with grey instead of failing.
        Some(ImageFormat::Jpeg) => !jpeg_has_end(bytes),
        // The WebP decoder reports a cut file as a "corrupt bitstream".
        Some(ImageFormat::WebP) => webp_is_short(bytes),
        _ => false,
    };
    if truncated {
        return Err(ImageError::Truncated);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // Room for the decoded buffer (up to 16-bit RGBA) plus the decoders' working memory.
    limits.max_alloc = Some(pixels.saturating_mul(8).saturating_add(256 << 20));
    reader.limits(limits);
    reader.decode().map_err(decode_error)
}

/// Width and height from a PNG's IHDR chunk, when the data starts like a PNG.
fn declared_png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let header = bytes.get(..24)?;
    if &header[..8] != b"\x89PNG\r\n\x1a\n" || &header[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(header[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(header[20..24].try_into().ok()?);
    Some((width, height))
}

/// Whether a JPEG has an end-of-image marker (FF D9) after the start of its last scan (FF DA).
/// Inside entropy-coded data FF is always followed by 00 or a restart marker, so both markers are
/// real; an EXIF thumbnail's EOI comes before the main image's scans.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let marker = |code: u8| bytes.windows(2).rposition(|w| w == [0xFF, code]);
    match (marker(0xDA), marker(0xD9)) {
        (Some(scan), Some(end)) => end > scan,
        _ => false,
    }
}

/// Whether a WebP file is shorter than its RIFF header says.
fn webp_is_short(bytes: &[u8]) -> bool {
    match bytes.get(4..8) {
        Some(size) => {
            let declared = u64::from(u32::from_le_bytes(size.try_into().unwrap())) + 8;
            (bytes.len() as u64) < declared
        }
        None => true,
    }
}

fn decode_error(e: image::ImageError) -> ImageError {
    use image::error::{ImageError as E, LimitErrorKind};
    match e {
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => ImageError::Truncated,
        E::Limits(limit) if matches!(limit.kind(), LimitErrorKind::DimensionError) => {
            ImageError::Decode(format!("the image size does not match its header: {limit}"))
        }
        E::Unsupported(u) => ImageError::Decode(format!("unsupported image: {u}")),
        other => {
            let message = other.to_string();
            // Decoders report early end of data in their own words.
            let lower = message.to_ascii_lowercase();
            if ["unexpected end", "eof", "truncated", "not enough bytes"]
                .iter()
                .any(|needle| lower.contains(needle))
            {
                ImageError::Truncated
            } else {
                ImageError::Decode(message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    const MAX: u64 = 4096 * 4096;

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A PNG with a valid IHDR claiming `width × height` (RGB, 8 bit) and a small IDAT.
    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        // zlib stream of a few zero bytes.
        chunk(
            &mut out,
            b"IDAT",
            &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
        );
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn encoded(format: ImageFormat) -> Vec<u8> {
        let img = RgbImage::from_fn(32, 16, |x, y| image::Rgb([x as u8 * 8, y as u8 * 16, 77]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_png_jpeg_webp() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let img = decode_image(&encoded(format), MAX).unwrap();
            assert_eq!((img.width(), img.height()), (32, 16), "{format:?}");
        }
        let png = decode_image(&encoded(ImageFormat::Png), MAX)
            .unwrap()
            .to_rgb8();
        assert_eq!(png.get_pixel(3, 2).0, [24, 32, 77]);
    }

    #[test]
    fn refuses_a_huge_declared_size_before_decoding() {
        let bomb = png_claiming(100_000, 100_000);
        assert!(bomb.len() < 100);
        let err = decode_image(&bomb, MAX).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::TooLarge {
                    width: 100_000,
                    height: 100_000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("100000×100000"), "{err}");
        // The same for formats without the PNG shortcut.
        let jpeg = encoded(ImageFormat::Jpeg);
        let err = decode_image(&jpeg, 100).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::TooLarge {
                    width: 32,
                    height: 16,
                    ..
                }
            ),
            "{err}"
        );
        let webp = encoded(ImageFormat::WebP);
        assert!(matches!(
            decode_image(&webp, 511),
            Err(ImageError::TooLarge { .. })
        ));
        assert!(decode_image(&webp, 512).is_ok());
    }

    #[test]
    fn refuses_zero_size() {
        for (w, h) in [(0, 0), (0, 10), (10, 0)] {
            let err = decode_image(&png_claiming(w, h), MAX).unwrap_err();
            assert!(matches!(err, ImageError::ZeroSize { .. }), "{w}×{h}: {err}");
            assert!(err.to_string().contains("empty"), "{err}");
        }
    }

    #[test]
    fn refuses_truncated_data() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let data = encoded(format);
            for cut in [data.len() / 2, data.len() - 13, 30] {
                let err = decode_image(&data[..cut], MAX).unwrap_err();
                assert!(
                    matches!(err, ImageError::Truncated),
                    "{format:?} cut at {cut}: {err:?}"
                );
                assert!(err.to_string().contains("truncated"), "{err}");
            }
        }
        // Only the signature and half a header.
        let err = decode_image(&png_claiming(8, 8)[..20], MAX).unwrap_err();
        assert!(
            matches!(err, ImageError::Truncated | ImageError::Decode(_)),
            "{err:?}"
        );
    }

    #[test]
    fn refuses_other_data() {
        let err = decode_image(b"hello, this is not an image at all", MAX).unwrap_err();
        assert!(matches!(err, ImageError::UnknownFormat), "{err}");
        assert!(matches!(
            decode_image(&[], MAX),
            Err(ImageError::UnknownFormat)
        ));
    }
}
