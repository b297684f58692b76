//! `blend-grid`: pastes the sources (in `order`, default as they come) into a grid of
//! `width` columns × `height` rows, each cell the size of the first image; the grid is added
//! after the sources.

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage, MAX_TILE};
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;
use crate::plan::PlannedStage;
use onnx_web_pipelines::Size;

pub struct BlendGrid;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::optional("width", ParamType::Int { min: 1, max: 64 }),
    ParamSpec::optional("height", ParamType::Int { min: 1, max: 64 }),
    ParamSpec::optional("order", ParamType::IntList),
];

/// The largest grid image, in pixels.
const MAX_GRID_PIXELS: u64 = 8192 * 8192;

impl Stage for BlendGrid {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn max_tile(&self) -> u32 {
        MAX_TILE
    }

    fn outputs(&self, n: usize) -> usize {
        n + 1
    }

    fn output_size(&self, stage: &PlannedStage, input: Option<Size>) -> Option<Size> {
        let (columns, rows) = (
            stage.number("width", 1.0) as u32,
            stage.number("height", 1.0) as u32,
        );
        input.map(|cell| Size {
            width: cell.width.saturating_mul(columns),
            height: cell.height.saturating_mul(rows),
        })
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let Some(first) = sources.first() else {
            return Ok(sources);
        };
        let columns = run.stage.number("width", 1.0) as u32;
        let rows = run.stage.number("height", 1.0) as u32;
        let (cell_w, cell_h) = first.dimensions();
        let (grid_w, grid_h) = (cell_w * columns, cell_h * rows);
        if u64::from(grid_w) * u64::from(grid_h) > MAX_GRID_PIXELS {
            return Err(RunError::Input(format!(
                "the grid would be {grid_w}x{grid_h} pixels, more than {MAX_GRID_PIXELS}"
            )));
        }
        let order: Vec<usize> = match run.stage.list("order") {
            list if list.is_empty() => (0..sources.len()).collect(),
            list => list
                .iter()
                .filter_map(|v| v.as_u64().map(|n| n as usize))
                .collect(),
        };
        let mut grid = RgbImage::new(grid_w, grid_h);
        for (cell, &index) in order.iter().enumerate().take((columns * rows) as usize) {
            let image = sources
                .get(index)
                .ok_or_else(|| RunError::Input(format!("order: there is no image {index}")))?;
            let (x, y) = (cell as u32 % columns, cell as u32 / columns);
            onnx_web_imageops::paste(
                &mut grid,
                image,
                i64::from(x * cell_w),
                i64::from(y * cell_h),
            );
        }
        let mut out = sources;
        out.push(grid);
        Ok(out)
    }
}
