//! Runs queued jobs through the pipelines and writes their outputs.

use std::sync::Arc;

use anyhow::Context;
use onnx_web_pipelines::{Pipelines, Progress};

use crate::jobs::{Job, JobRunner, JobSpec};
use crate::outputs::OutputWriter;

pub struct PipelineRunner {
    pipelines: Arc<Pipelines>,
    writer: OutputWriter,
}

impl PipelineRunner {
    pub fn new(pipelines: Arc<Pipelines>, writer: OutputWriter) -> Self {
        Self { pipelines, writer }
    }
}

impl JobRunner for PipelineRunner {
    fn run(&self, device: &str, job: &Job, progress: &Progress) -> anyhow::Result<()> {
        match &job.spec {
            JobSpec::Txt2Img(txt2img) => {
                let output =
                    self.pipelines
                        .txt2img(&txt2img.params, txt2img.size, device, progress)?;
                tracing::info!(
                    job = %job.key,
                    "txt2img: {:.2?} total, {:.2?} in ONNX Runtime, {:.2?} own overhead per step",
                    output.stats.total,
                    output.stats.in_runtime,
                    output.stats.overhead_per_step()
                );
                // Fewer names than images cannot happen (one name per batch item), but never
                // write an image without a name the client was told about.
                for (name, image) in job.outputs.iter().zip(&output.images) {
                    self.writer
                        .save(name, image, &txt2img.metadata)
                        .with_context(|| format!("saving {name}"))?;
                }
                Ok(())
            }
        }
    }
}
