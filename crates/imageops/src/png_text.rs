//! PNG output with text metadata, written as onnx-web's PIL `PngInfo.add_text` does: a tEXt
//! chunk when the value is Latin-1, else an uncompressed iTXt chunk.

use std::io::Read;

use image::RgbImage;
use png::text_metadata::{ITXtChunk, TEXtChunk};

use crate::error::ImageError;

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// Largest inflated text value read back from a zTXt/iTXt chunk.
const MAX_TEXT_BYTES: u64 = 64 << 20;

/// Encodes an RGB image as PNG, with one text chunk per `(key, value)` pair, in order, before the
/// image data.
pub fn encode_png_with_text(img: &RgbImage, text: &[(&str, &str)]) -> Result<Vec<u8>, ImageError> {
    let mut chunks = Vec::with_capacity(text.len());
    for &(key, value) in text {
        check_key(key)?;
        if value.contains('\0') {
            return Err(ImageError::InvalidTextValue {
                key: key.to_string(),
                reason: "contains a NUL character",
            });
        }
        chunks.push((key, value, is_latin1(value)));
    }

    let (width, height) = img.dimensions();
    let mut out = Vec::with_capacity(img.as_raw().len() / 2 + 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let encode_err = |e: png::EncodingError| ImageError::Encode(e.to_string());
    let mut writer = encoder.write_header().map_err(encode_err)?;
    for (key, value, latin1) in chunks {
        if latin1 {
            writer.write_text_chunk(&TEXtChunk::new(key, value))
        } else {
            writer.write_text_chunk(&ITXtChunk::new(key, value))
        }
        .map_err(encode_err)?;
    }
    writer.write_image_data(img.as_raw()).map_err(encode_err)?;
    writer.finish().map_err(encode_err)?;
    Ok(out)
}

/// Reads the text chunks (tEXt, zTXt, iTXt) of a PNG, in file order, as `(key, value)` pairs.
pub fn read_png_text(bytes: &[u8]) -> Result<Vec<(String, String)>, ImageError> {
    let bad = |msg: String| ImageError::InvalidPng(msg);
    let mut rest = bytes
        .strip_prefix(PNG_SIGNATURE)
        .ok_or_else(|| bad("missing the PNG signature".into()))?;
    let mut texts = Vec::new();
    loop {
        if rest.len() < 12 {
            return Err(ImageError::Truncated);
        }
        let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = rest[4..8].try_into().unwrap();
        if rest.len() - 12 < length {
            return Err(ImageError::Truncated);
        }
        let data = &rest[8..8 + length];
        let name = String::from_utf8_lossy(&kind).into_owned();
        match &kind {
            b"tEXt" => {
                let (key, value) = split_nul(data)
                    .ok_or_else(|| bad(format!("{name} chunk without a key separator")))?;
                texts.push((latin1(key), latin1(value)));
            }
            b"zTXt" => {
                let (key, rest) = split_nul(data)
                    .ok_or_else(|| bad(format!("{name} chunk without a key separator")))?;
                let (&method, compressed) = rest
                    .split_first()
                    .ok_or_else(|| bad(format!("{name} chunk without a compression method")))?;
                if method != 0 {
                    return Err(bad(format!("{name} compression method {method}")));
                }
                let value = inflate(compressed).map_err(|e| bad(format!("{name}: {e}")))?;
                texts.push((latin1(key), latin1(&value)));
            }
            b"iTXt" => {
                let (key, rest) = split_nul(data)
                    .ok_or_else(|| bad(format!("{name} chunk without a key separator")))?;
                let [flag, method, rest @ ..] = rest else {
                    return Err(bad(format!("{name} chunk without compression fields")));
                };
                let (_language, rest) = split_nul(rest)
                    .ok_or_else(|| bad(format!("{name} chunk without a language tag")))?;
                let (_translated, value) = split_nul(rest)
                    .ok_or_else(|| bad(format!("{name} chunk without a translated key")))?;
                let value = match (flag, method) {
                    (0, _) => value.to_vec(),
                    (1, 0) => inflate(value).map_err(|e| bad(format!("{name}: {e}")))?,
                    _ => {
                        return Err(bad(format!(
                            "{name} compression flag {flag}, method {method}"
                        )))
                    }
                };
                let value = String::from_utf8(value)
                    .map_err(|_| bad(format!("{name} value is not UTF-8")))?;
                texts.push((latin1(key), value));
            }
            b"IEND" => return Ok(texts),
            _ => {}
        }
        rest = &rest[12 + length..];
    }
}

fn split_nul(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = data.iter().position(|&b| b == 0)?;
    Some((&data[..at], &data[at + 1..]))
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn is_latin1(s: &str) -> bool {
    s.chars().all(|c| u32::from(c) <= 0xFF)
}

fn inflate(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_TEXT_BYTES + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > MAX_TEXT_BYTES {
        return Err(std::io::Error::other("text value larger than 64 MiB"));
    }
    Ok(out)
}

/// PNG keywords: 1–79 Latin-1 characters, printable, no leading/trailing/double spaces.
fn check_key(key: &str) -> Result<(), ImageError> {
    let fail = |reason| {
        Err(ImageError::InvalidTextKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return fail("empty");
    }
    if !is_latin1(key) {
        return fail("not Latin-1");
    }
    if key.chars().count() > 79 {
        return fail("longer than 79 characters");
    }
    if key
        .chars()
        .any(|c| c < ' ' || ('\u{7f}'..='\u{a0}').contains(&c))
    {
        return fail("contains a control character");
    }
    if key.starts_with(' ') || key.ends_with(' ') || key.contains("  ") {
        return fail("leading, trailing or consecutive spaces");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_image() -> RgbImage {
        RgbImage::from_fn(7, 3, |x, y| image::Rgb([x as u8 * 30, y as u8 * 80, 5]))
    }

    fn chunk_kinds(png: &[u8]) -> Vec<String> {
        let mut kinds = Vec::new();
        let mut rest = &png[8..];
        while rest.len() >= 12 {
            let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            kinds.push(String::from_utf8_lossy(&rest[4..8]).into_owned());
            rest = &rest[12 + length..];
        }
        kinds
    }

    #[test]
    fn text_round_trip_latin1_utf8_and_json() {
        let json = r#"{"params":{"prompt":"a cat","seed":42},"size":[512,512]}"#;
        let text = [
            ("make", "onnx-web"),
            ("maker note", json),
            ("model", "v0.12.0"),
            ("parameters", "日本語 prompt, café"),
            ("latin", "café naïve ÿ"),
            ("empty", ""),
        ];
        let png = encode_png_with_text(&test_image(), &text).unwrap();
        let read = read_png_text(&png).unwrap();
        let want: Vec<(String, String)> = text
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(read, want);
        // Latin-1 values are tEXt, the Japanese one iTXt; all before the image data.
        assert_eq!(
            chunk_kinds(&png),
            ["IHDR", "tEXt", "tEXt", "tEXt", "iTXt", "tEXt", "tEXt", "IDAT", "IEND"]
        );
        // The image itself is intact.
        let decoded = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(decoded, test_image());
    }

    #[test]
    fn reads_compressed_text() {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 1, 1);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        let mut z = png::text_metadata::ZTXtChunk::new("zkey", "zipped café");
        z.compress_text().unwrap();
        writer.write_text_chunk(&z).unwrap();
        let mut i = ITXtChunk::new("ikey", "圧縮 text");
        i.compress_text().unwrap();
        writer.write_text_chunk(&i).unwrap();
        writer.write_image_data(&[1, 2, 3]).unwrap();
        writer.finish().unwrap();
        assert_eq!(
            read_png_text(&out).unwrap(),
            vec![
                ("zkey".to_string(), "zipped café".to_string()),
                ("ikey".to_string(), "圧縮 text".to_string())
            ]
        );
    }

    #[test]
    fn bad_keys_and_values_are_refused() {
        let img = test_image();
        for key in [
            "",
            " lead",
            "trail ",
            "two  spaces",
            "日本",
            "tab\tkey",
            &"k".repeat(80),
        ] {
            let err = encode_png_with_text(&img, &[(key, "v")]).unwrap_err();
            assert!(
                matches!(err, ImageError::InvalidTextKey { .. }),
                "{key:?}: {err}"
            );
        }
        let err = encode_png_with_text(&img, &[("key", "a\0b")]).unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }

    #[test]
    fn read_refuses_non_png_and_truncated() {
        assert!(matches!(
            read_png_text(b"GIF89a"),
            Err(ImageError::InvalidPng(_))
        ));
        let png = encode_png_with_text(&test_image(), &[("make", "onnx-web")]).unwrap();
        assert!(matches!(
            read_png_text(&png[..png.len() - 5]),
            Err(ImageError::Truncated)
        ));
    }
}
