//! Runs a chain (onnx-web's `ChainPipeline.__call__`, §6.2): stage after stage over the list of
//! images, cutting images larger than a stage's tile into tiles for the stages that tile.
//! Progress counts diffusion steps (reported by the pipelines) plus one step per tile of every
//! other stage, so a client sees every stage and tile go by; a cancel stops the chain at the
//! next step.

use image::{GrayImage, RgbImage};
use onnx_web_pipelines::tiling::{process_tiles, Margins};
use onnx_web_pipelines::{Pipelines, Progress};

use crate::error::{Result, RunError};
use crate::net::UrlPolicy;
use crate::plan::{ChainPlan, PlannedStage};
use crate::stages::s3::S3Settings;

/// The largest image a stage may make, in pixels (as the image endpoints).
pub const MAX_IMAGE_PIXELS: u64 = 8192 * 8192;

/// Where `persist-disk` writes: the server's output writer (with metadata and sidecar).
pub trait ImageSink: Send + Sync {
    fn save(&self, name: &str, image: &RgbImage) -> std::result::Result<(), String>;
}

/// What the server lends a running chain.
pub struct ChainEnv<'a> {
    pub pipelines: &'a Pipelines,
    pub platform: &'a str,
    pub progress: &'a Progress,
    /// The job's output names (`persist-*` stages save image `i` as `outputs[i]`).
    pub outputs: &'a [String],
    pub sink: &'a dyn ImageSink,
    pub s3: &'a S3Settings,
    pub urls: &'a UrlPolicy,
}

/// One stage's view of the run.
pub struct StageRun<'a> {
    pub pipelines: &'a Pipelines,
    pub platform: &'a str,
    pub progress: &'a Progress,
    pub stage: &'a PlannedStage,
    /// The tile's part of the stage mask, or the whole `mask:<stage>` upload.
    pub mask: Option<&'a GrayImage>,
    pub outputs: &'a [String],
    pub sink: &'a dyn ImageSink,
    pub s3: &'a S3Settings,
    pub urls: &'a UrlPolicy,
}

/// Runs every stage; returns the final images (saved only by `persist-*` stages).
pub fn run_chain(plan: &ChainPlan, env: &ChainEnv<'_>) -> Result<Vec<RgbImage>> {
    let mut images: Vec<RgbImage> = Vec::new();
    for stage in &plan.stages {
        env.progress.check()?;
        let started = std::time::Instant::now();
        images = run_stage(stage, env, images).map_err(|error| match error {
            RunError::Cancelled => RunError::Cancelled,
            other => RunError::Stage {
                stage: stage.name.clone(),
                source: Box::new(other),
            },
        })?;
        if let Some(image) = images
            .iter()
            .find(|i| u64::from(i.width()) * u64::from(i.height()) > MAX_IMAGE_PIXELS)
        {
            return Err(RunError::Stage {
                stage: stage.name.clone(),
                source: Box::new(RunError::Input(format!(
                    "made a {}x{} image, more than the limit of {MAX_IMAGE_PIXELS} pixels",
                    image.width(),
                    image.height()
                ))),
            });
        }
        tracing::info!(
            stage = %stage.name,
            kind = %stage.kind,
            images = images.len(),
            "chain stage done in {:.2?}",
            started.elapsed()
        );
    }
    Ok(images)
}

fn run_stage(
    stage: &PlannedStage,
    env: &ChainEnv<'_>,
    images: Vec<RgbImage>,
) -> Result<Vec<RgbImage>> {
    let kind = crate::stages::find(&stage.kind)
        .ok_or_else(|| RunError::Input(format!("unknown stage type {:?}", stage.kind)))?;
    let tile = kind.max_tile().min(stage.tile_size.max(8));
    let stage_mask = stage.mask.as_ref().map(|m| m.0.as_ref());
    let run = |mask: Option<&GrayImage>, sources: Vec<RgbImage>| {
        let stage_run = StageRun {
            pipelines: env.pipelines,
            platform: env.platform,
            progress: env.progress,
            stage,
            mask,
            outputs: env.outputs,
            sink: env.sink,
            s3: env.s3,
            urls: env.urls,
        };
        let out = kind.run(&stage_run, sources)?;
        if !kind.diffusion() {
            env.progress.step_done()?;
        }
        Ok::<_, RunError>(out)
    };
    let tiled = kind.tiled()
        && (stage_mask.is_some() || images.iter().any(|i| i.width() > tile || i.height() > tile));
    if !tiled {
        return run(stage_mask, images);
    }
    let scale = kind.scale(stage).max(1);
    let margins = Margins::histogram(u64::from(stage.params.seed));
    let mut results = Vec::with_capacity(images.len());
    for image in images {
        // The stage mask is fitted to each source, as masks are for inpainting.
        let mask = stage_mask.map(|m| {
            if m.dimensions() == image.dimensions() {
                m.clone()
            } else {
                onnx_web_imageops::fit_mask(m, image.width(), image.height())
            }
        });
        let outputs = process_tiles(
            &image,
            mask.as_ref(),
            tile,
            stage.overlap(),
            stage.tile_order(),
            scale,
            margins,
            |part| {
                run(part.mask, vec![part.image.clone()]).map_err(|error| match error {
                    RunError::Pipeline(e) => e,
                    RunError::Cancelled => onnx_web_pipelines::Cancelled.into(),
                    other => onnx_web_pipelines::PipelineError::Unsupported(other.to_string()),
                })
            },
        )?;
        results.extend(outputs);
    }
    Ok(results)
}
