//! Image operations at the edges of the pipelines: VAE tensors ⇄ RGB images, PNG output with
//! text metadata, and guarded decoding of uploaded images.

mod convert;
mod decode;
mod error;
mod png_text;

pub use convert::{decoded_to_images, image_to_tensor, pixel_from_decoded};
pub use decode::decode_image;
pub use error::ImageError;
pub use png_text::{encode_png_with_text, read_png_text};

/// Re-exported so that users of these functions need no direct `image` dependency.
pub use image::{DynamicImage, RgbImage};
