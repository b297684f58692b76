//! Image operations of the pipelines: VAE tensors ⇄ RGB images, PNG output with text metadata,
//! guarded decoding of uploads, and onnx-web's pure image features (noise sources, mask and
//! source filters, resampling, compositing, stage tiling, tiled VAE blending, inpaint crops).

mod blend;
mod blur;
mod color;
mod convert;
mod crop;
mod decode;
mod denoise;
mod error;
mod filters;
mod mask;
mod noise;
mod png_text;
mod resample;
mod resize;
mod tiling;
mod vae_tiles;

pub use blend::{
    blend_linear, composite, crop, multiply, multiply_by_mask, paste, paste_masked, screen, Image8,
};
pub use blur::gaussian_blur;
pub use color::{parse_color, parse_rgb};
pub use convert::{decoded_to_images, image_to_tensor, pixel_from_decoded};
pub use crop::{fullres_inpaint_box, mask_bbox, CropBox};
pub use decode::decode_image;
pub use denoise::{denoise_local_std, fast_nl_means_colored};
pub use error::ImageError;
pub use filters::{canny, SourceFilter};
pub use mask::{
    expand_image, fit_mask, mask_from_image, rgb_to_luma, rgba_mask_to_luma, Border, Expanded,
    MaskFilter,
};
pub use noise::NoiseSource;
pub use png_text::{encode_png_with_text, read_png_text};
pub use resize::{contain, contain_size, resize, scale_by, scaled_size, ResizeMethod};
pub use tiling::{
    add_margin, extract_tile, make_tile_grads, needs_tile, tile_gradient, tile_grid, tile_mask,
    tile_needs_margin, tile_spiral, tile_step, TileBlender, TileOrder,
};
pub use vae_tiles::{blend_h, blend_v, Tensor4, TiledVae, VaeDirection};

/// Re-exported so that users of these functions need no direct `image` dependency.
pub use image::{DynamicImage, GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
