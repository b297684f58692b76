//! img2img source filters (§3.3), by name: the ones without a model (`none`, `gaussian`,
//! `noise`, `canny`) run; the model-based ones are refused.

use image::RgbImage;
use onnx_web_imageops::SourceFilter;

use crate::error::{PipelineError, Result};

/// Applies the source filter `name`.
pub fn apply(name: &str, source: &RgbImage, seed: u64) -> Result<RgbImage> {
    let filter = SourceFilter::from_name(name)
        .ok_or_else(|| PipelineError::Unsupported(format!("unknown source filter {name:?}")))?;
    if let Some(model) = filter.model() {
        return Err(PipelineError::Unsupported(format!(
            "source filter {name:?} needs {model}, which this server does not have"
        )));
    }
    Ok(filter.apply(source, seed)?)
}
