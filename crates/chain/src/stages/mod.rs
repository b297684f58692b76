//! The stage types of onnx-web 0.12 (`chain/stages.py::CHAIN_STAGES`, §3.6), one file each.
//! Every stage is a thin adapter over `onnx_web_pipelines` / `onnx_web_imageops`.

use image::RgbImage;
use onnx_web_pipelines::{HighresOptions, JobContext, Size};

use crate::error::Result;
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;

mod blend_denoise_fastnlmeans;
mod blend_denoise_localstd;
mod blend_grid;
mod blend_img2img;
mod blend_linear;
mod blend_mask;
mod correct_codeformer;
mod correct_gfpgan;
mod persist_disk;
mod persist_s3;
mod reduce_crop;
mod reduce_thumbnail;
pub mod s3;
mod source_noise;
mod source_s3;
mod source_txt2img;
pub mod source_url;
mod upscale_bsrgan;
mod upscale_highres;
mod upscale_outpaint;
mod upscale_resrgan;
mod upscale_simple;
mod upscale_stable_diffusion;
mod upscale_swinir;

/// The type of a stage's own parameter, checked when the chain is parsed.
#[derive(Clone, Copy)]
pub enum ParamType {
    Number {
        min: f64,
        max: f64,
    },
    Int {
        min: i64,
        max: i64,
    },
    Text,
    Choice(&'static [&'static str]),
    /// A string accepted by the function; the text says what it must be.
    Check(fn(&str) -> bool, &'static str),
    /// A string, or a list of strings.
    TextList,
    /// A list of small non-negative integers.
    IntList,
}

/// One of a stage's own parameters.
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    pub required: bool,
}

impl ParamSpec {
    pub const fn required(name: &'static str, ty: ParamType) -> Self {
        Self {
            name,
            ty,
            required: true,
        }
    }

    pub const fn optional(name: &'static str, ty: ParamType) -> Self {
        Self {
            name,
            ty,
            required: false,
        }
    }
}

/// The stage's tile cap (`max_tile`): `max` means no cap.
pub const MAX_TILE: u32 = u32::MAX;
/// `SizeChart.micro`, the tile of BSRGAN and SwinIR.
pub const MICRO_TILE: u32 = 64;

/// A stage type.
pub trait Stage: Send + Sync {
    /// The stage's own parameters (beyond the image, upscale, border and tiling ones).
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }

    /// The tile cap; the effective tile is `min(max_tile, tiles)` (§6.2).
    fn max_tile(&self) -> u32 {
        crate::plan::AUTO_TILE
    }

    /// Whether the runner cuts larger images into tiles for this stage. Stages that add or
    /// save images, and those that tile inside their pipeline, run on whole images.
    fn tiled(&self) -> bool {
        false
    }

    /// How many times larger the stage's output is than its input (for blending tiles).
    fn scale(&self, _stage: &PlannedStage) -> u32 {
        1
    }

    /// Whether the stage reports diffusion steps itself; the others count one progress step
    /// per tile.
    fn diffusion(&self) -> bool {
        false
    }

    /// The size of this stage's images given the size of its input (`None`: no images yet, or
    /// not known before running, e.g. downloaded ones); for the response's `size`.
    fn output_size(&self, stage: &PlannedStage, input: Option<Size>) -> Option<Size> {
        let scale = self.scale(stage);
        input.map(|size| Size {
            width: size.width.saturating_mul(scale),
            height: size.height.saturating_mul(scale),
        })
    }

    /// onnx-web's `outputs(n)`: the image count after this stage, for naming outputs.
    fn outputs(&self, n: usize) -> usize {
        n
    }

    /// onnx-web's `steps()`: this stage's share of the response's `params.steps`.
    fn steps(&self, _stage: &PlannedStage) -> u32 {
        1
    }

    /// Runs the stage on `sources` (on one tile of one source when tiled).
    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>>;
}

/// Every stage type, aliases included, in onnx-web's order.
static STAGES: &[(&str, &dyn Stage)] = &[
    (
        "blend-denoise",
        &blend_denoise_fastnlmeans::BlendDenoiseFastNlMeans,
    ),
    (
        "blend-denoise-fastnlmeans",
        &blend_denoise_fastnlmeans::BlendDenoiseFastNlMeans,
    ),
    (
        "blend-denoise-localstd",
        &blend_denoise_localstd::BlendDenoiseLocalStd,
    ),
    ("blend-img2img", &blend_img2img::BlendImg2Img),
    ("blend-inpaint", &upscale_outpaint::UpscaleOutpaint),
    ("blend-grid", &blend_grid::BlendGrid),
    ("blend-linear", &blend_linear::BlendLinear),
    ("blend-mask", &blend_mask::BlendMask),
    ("correct-codeformer", &correct_codeformer::CorrectCodeformer),
    ("correct-gfpgan", &correct_gfpgan::CorrectGfpgan),
    ("persist-disk", &persist_disk::PersistDisk),
    ("persist-s3", &persist_s3::PersistS3),
    ("reduce-crop", &reduce_crop::ReduceCrop),
    ("reduce-thumbnail", &reduce_thumbnail::ReduceThumbnail),
    ("source-noise", &source_noise::SourceNoise),
    ("source-s3", &source_s3::SourceS3),
    ("source-txt2img", &source_txt2img::SourceTxt2Img),
    ("source-url", &source_url::SourceUrl),
    ("upscale-bsrgan", &upscale_bsrgan::UpscaleBsrgan),
    ("upscale-highres", &upscale_highres::UpscaleHighres),
    ("upscale-outpaint", &upscale_outpaint::UpscaleOutpaint),
    ("upscale-resrgan", &upscale_resrgan::UpscaleRealEsrgan),
    ("upscale-simple", &upscale_simple::UpscaleSimple),
    (
        "upscale-stable-diffusion",
        &upscale_stable_diffusion::UpscaleStableDiffusion,
    ),
    ("upscale-swinir", &upscale_swinir::UpscaleSwinIr),
];

/// The stage type names, for error messages.
pub static NAMES: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| STAGES.iter().map(|(name, _)| *name).collect());

/// The stage type registered under `name`.
pub fn find(name: &str) -> Option<&'static dyn Stage> {
    STAGES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The stage types that read an upscaling model (`upscaling`), and those that need a folder
/// (the SD upscaler) rather than an `.onnx` file.
pub const UPSCALING_STAGES: &[&str] = &[
    "upscale-bsrgan",
    "upscale-resrgan",
    "upscale-stable-diffusion",
    "upscale-swinir",
];

/// The pipelines' job context for one stage: its own params, tiles and upscale group.
pub(crate) fn job_context<'a>(run: &'a StageRun<'a>, highres: HighresOptions) -> JobContext<'a> {
    JobContext {
        pipelines: run.pipelines,
        platform: run.platform,
        params: &run.stage.params,
        tiles: run.stage.tiles,
        upscale: run.stage.upscale.clone(),
        highres,
        progress: run.progress,
    }
}
