use thiserror::Error;

/// Errors of image decoding, PNG encoding and text reading, and of the image operations.
#[derive(Debug, Error)]
pub enum ImageError {
    #[error("the data is not a PNG, JPEG or WebP image")]
    UnknownFormat,
    #[error("the image is empty ({width}×{height} pixels)")]
    ZeroSize { width: u32, height: u32 },
    #[error(
        "the image is too large: {width}×{height} = {pixels} pixels, the limit is {max_pixels} pixels"
    )]
    TooLarge {
        width: u32,
        height: u32,
        pixels: u64,
        max_pixels: u64,
    },
    #[error("the image data is truncated (ends before the image is complete)")]
    Truncated,
    #[error("cannot decode the image: {0}")]
    Decode(String),
    #[error("invalid PNG text key {key:?}: {reason}")]
    InvalidTextKey { key: String, reason: &'static str },
    #[error("invalid PNG text value for key {key:?}: {reason}")]
    InvalidTextValue { key: String, reason: &'static str },
    #[error("cannot encode the PNG: {0}")]
    Encode(String),
    #[error("invalid PNG: {0}")]
    InvalidPng(String),
    #[error("{what}: the sizes differ ({a_width}×{a_height} and {b_width}×{b_height})")]
    SizeMismatch {
        what: &'static str,
        a_width: u32,
        a_height: u32,
        b_width: u32,
        b_height: u32,
    },
    #[error(
        "invalid colour {0:?} (use a name such as \"white\", #rgb, #rrggbb, rgb(), hsl() or hsv())"
    )]
    InvalidColor(String),
    #[error("the {filter} source filter needs a model: {model}")]
    FilterNeedsModel {
        filter: &'static str,
        model: &'static str,
    },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
