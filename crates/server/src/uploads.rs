//! Uploaded images: the multipart files of the image endpoints (`source`, `mask`, `source:0`,
//! `source:1`), decoded with a pixel limit and checked before any job is queued. Bad images
//! (truncated, empty, corrupt, too large) are a 400 that names the file.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::multipart::{Multipart, MultipartRejection};
use image::{GrayImage, Luma, RgbImage};
use onnx_web_imageops::decode_image;

use crate::error::ApiError;

/// The default largest upload, in pixels (a 4096×4096 image; `--max-upload-pixels`). Larger
/// images are refused before they are decoded.
pub const MAX_UPLOAD_PIXELS: u64 = 4096 * 4096;

/// The most bytes one request may upload (the axum body limit on the image routes).
pub const MAX_UPLOAD_BYTES: usize = 128 << 20;

/// The raw files of a request, by field name.
#[derive(Default)]
pub struct Uploads {
    files: HashMap<String, Vec<u8>>,
}

impl Uploads {
    /// Reads every multipart field. A request that is not multipart has no files (onnx-web
    /// answers "source image is required" then, and so do the handlers).
    pub async fn read(multipart: Result<Multipart, MultipartRejection>) -> Result<Self, ApiError> {
        let mut files = HashMap::new();
        let Ok(mut multipart) = multipart else {
            return Ok(Self { files });
        };
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                // A malformed or empty form has no (more) files, as for Werkzeug; the handler
                // then names the file it misses.
                Err(error) => {
                    tracing::debug!("multipart form ends early: {error}");
                    break;
                }
            };
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ApiError::field(&name, format!("cannot read the upload: {e}")))?;
            files.entry(name).or_insert_with(|| bytes.to_vec());
        }
        Ok(Self { files })
    }

    /// The uploaded field names.
    pub fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// Files already read (the chain route reads its own form).
    pub fn from_files(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        Self {
            files: files.into_iter().collect(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// Decodes the file `name` as RGB (alpha dropped, as PIL's `convert("RGB")`). Blocking.
    pub fn rgb(&self, name: &str) -> Result<Option<RgbImage>, ApiError> {
        let Some(bytes) = self.files.get(name) else {
            return Ok(None);
        };
        let image = decode_image(bytes, crate::limits::current().max_upload_pixels)
            .map_err(|e| ApiError::field(name, e))?;
        Ok(Some(image.to_rgb8()))
    }

    /// Decodes the file `name` as a mask: RGBA composited over black, then PIL's `L`. Blocking.
    pub fn mask(&self, name: &str) -> Result<Option<GrayImage>, ApiError> {
        let Some(bytes) = self.files.get(name) else {
            return Ok(None);
        };
        let image = decode_image(bytes, crate::limits::current().max_upload_pixels)
            .map_err(|e| ApiError::field(name, e))?;
        let rgba = image.to_rgba8();
        Ok(Some(GrayImage::from_fn(
            rgba.width(),
            rgba.height(),
            |x, y| {
                let [r, g, b, a] = rgba.get_pixel(x, y).0;
                let over = |v: u8| (u32::from(v) * u32::from(a) + 127) / 255;
                let l = (over(r) * 19595 + over(g) * 38470 + over(b) * 7471 + 0x8000) >> 16;
                Luma([l as u8])
            },
        )))
    }
}

/// Decodes uploads off the async runtime.
pub async fn decode_blocking<T: Send + 'static>(
    uploads: Arc<Uploads>,
    decode: impl FnOnce(&Uploads) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || decode(&uploads))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("decoding uploads: {e}")))?
}
