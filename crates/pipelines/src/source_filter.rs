//! img2img source filters (§3.3), by name: `none`, `gaussian`, `noise` and `canny` run without a
//! model; `depth`, `normal`, `hed`, `scribble`, `segment`, `mlsd`, `openpose` and `face` run their
//! ONNX model from `models/filter/` ([`crate::filter_models`]).

use std::path::{Path, PathBuf};

use image::RgbImage;
use onnx_web_imageops::SourceFilter;

use crate::error::{PipelineError, Result};
use crate::Pipelines;

/// The model files a filter runs on, relative to the models folder, in the order they are
/// looked for. Empty for the filters without a model.
pub fn model_files(filter: SourceFilter) -> &'static [&'static str] {
    match filter {
        SourceFilter::Depth => &["filter/depth.onnx", "filter/dpt-hybrid-midas.onnx"],
        SourceFilter::Normal => &["filter/dpt-hybrid-midas.onnx", "filter/depth.onnx"],
        SourceFilter::Hed | SourceFilter::Scribble => &["filter/hed.onnx"],
        SourceFilter::Segment => &["filter/segment.onnx", "filter/upernet-convnext-small.onnx"],
        SourceFilter::Mlsd => &["filter/mlsd.onnx"],
        SourceFilter::Openpose => &["filter/openpose.onnx"],
        SourceFilter::Face => &["filter/face.onnx"],
        _ => &[],
    }
}

/// The model file `filter` runs on under `models`: `Ok(None)` for the filters without a model,
/// an error message (naming the expected path) when the model is missing or the filter cannot
/// run here.
pub fn find_model(models: &Path, filter: SourceFilter) -> Result<Option<PathBuf>, String> {
    let Some(description) = filter.model() else {
        return Ok(None);
    };
    let name = filter.name();
    let files = model_files(filter);
    if files.is_empty() {
        return Err(format!(
            "{name:?} needs {description}, which this server cannot run"
        ));
    }
    if let Some(path) = files.iter().map(|f| models.join(f)).find(|p| p.is_file()) {
        return Ok(Some(path));
    }
    Err(format!(
        "{name:?} needs {description} as an ONNX model at {}",
        models.join(files[0]).display()
    ))
}

/// Applies the source filter `name`; the model-based ones run `model` (from [`find_model`]).
pub fn apply(
    pipelines: &Pipelines,
    platform: &str,
    name: &str,
    model: Option<&Path>,
    source: &RgbImage,
    seed: u64,
) -> Result<RgbImage> {
    let filter = SourceFilter::from_name(name)
        .ok_or_else(|| PipelineError::Unsupported(format!("unknown source filter {name:?}")))?;
    if filter.model().is_none() {
        return Ok(filter.apply(source, seed)?);
    }
    let model = model.ok_or_else(|| {
        PipelineError::Unsupported(format!(
            "source filter {name:?} needs {}, which this server does not have",
            filter.model().unwrap_or("a model")
        ))
    })?;
    crate::filter_models::run_filter(pipelines.engine(), platform, filter, model, source)
}
