//! `persist-disk`: saves image `i` as the job's output `i` (PNG metadata and `.json` sidecar)
//! and passes the images on.

use image::RgbImage;

use super::{Stage, MAX_TILE};
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;

pub struct PersistDisk;

impl Stage for PersistDisk {
    fn max_tile(&self) -> u32 {
        MAX_TILE
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        if sources.len() > run.outputs.len() {
            tracing::warn!(
                stage = %run.stage.name,
                "{} images but {} output names; the extra images are not saved",
                sources.len(),
                run.outputs.len()
            );
        }
        for (name, image) in run.outputs.iter().zip(&sources) {
            run.sink
                .save(name, image)
                .map_err(|message| RunError::Save {
                    name: name.clone(),
                    message,
                })?;
        }
        Ok(sources)
    }
}
