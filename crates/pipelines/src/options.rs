//! The parameter groups of the stages beyond txt2img, already validated by the HTTP layer:
//! tiling (§1.4.1), upscaling and face correction (§1.4.2), highres (§1.4.3) and borders (§1.4.4).

use std::path::PathBuf;

/// UNet and VAE tiling (`unet_tile`, `unet_overlap`, `vae_tile`, `vae_overlap`, `tiled_vae`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TileOptions {
    pub unet_tile: u32,
    pub unet_overlap: f64,
    pub vae_tile: u32,
    pub vae_overlap: f64,
    pub tiled_vae: bool,
}

impl Default for TileOptions {
    fn default() -> Self {
        Self {
            unet_tile: 512,
            unet_overlap: 0.25,
            vae_tile: 512,
            vae_overlap: 0.25,
            tiled_vae: false,
        }
    }
}

/// The order of face correction and upscaling (`upscaleOrder`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpscaleOrder {
    CorrectionFirst,
    CorrectionLast,
    CorrectionBoth,
}

impl UpscaleOrder {
    /// The order by its onnx-web name. onnx-web does not validate the name (an unknown one skips
    /// the correction); the HTTP layer refuses unknown names instead.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "correction-first" => Self::CorrectionFirst,
            "correction-last" => Self::CorrectionLast,
            "correction-both" => Self::CorrectionBoth,
            _ => return None,
        })
    }
}

/// onnx-web's `UpscaleParams`, with the models resolved to files or folders.
#[derive(Clone, Debug, PartialEq)]
pub struct UpscaleOptions {
    /// Run the upscaling model (`upscale`).
    pub upscale: bool,
    /// The upscaling model: an `.onnx` file (Real-ESRGAN style) or an SD upscaler folder.
    pub upscale_model: Option<PathBuf>,
    /// The upscaling model's listed name (for the simple resamplers: `bilinear`, ...).
    pub upscale_name: Option<String>,
    /// Run face correction (`faces`).
    pub faces: bool,
    pub correction_model: Option<PathBuf>,
    /// The model's native factor.
    pub scale: u32,
    /// The final factor of the upscaling stage.
    pub outscale: u32,
    pub denoise: f32,
    pub face_outscale: u32,
    pub face_strength: f32,
    pub order: UpscaleOrder,
}

impl UpscaleOptions {
    /// Nothing to do.
    pub fn none() -> Self {
        Self {
            upscale: false,
            upscale_model: None,
            upscale_name: None,
            faces: false,
            correction_model: None,
            scale: 1,
            outscale: 1,
            denoise: 0.5,
            face_outscale: 1,
            face_strength: 0.5,
            order: UpscaleOrder::CorrectionFirst,
        }
    }
}

/// onnx-web's `HighresParams`.
#[derive(Clone, Debug, PartialEq)]
pub struct HighresOptions {
    pub enabled: bool,
    pub iterations: u32,
    /// `bilinear`, `lanczos` or `upscale` (the upscaling model).
    pub method: String,
    pub scale: u32,
    pub strength: f32,
}

impl HighresOptions {
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            iterations: 1,
            method: "bilinear".into(),
            scale: 1,
            strength: 0.1,
        }
    }
}

/// Outpainting borders in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Border {
    pub left: u32,
    pub right: u32,
    pub top: u32,
    pub bottom: u32,
}

impl Border {
    pub fn is_empty(&self) -> bool {
        self.left == 0 && self.right == 0 && self.top == 0 && self.bottom == 0
    }
}
