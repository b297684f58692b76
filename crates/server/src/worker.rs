//! Runs queued jobs through the pipelines and writes their outputs.

use std::sync::Arc;

use anyhow::Context;
use onnx_web_imageops::RgbImage;
use onnx_web_pipelines::{JobContext, Pipelines, Progress};

use crate::jobs::{Deferred, Job, JobRunner, JobSpec, OutputMetadata, StageOptions};
use crate::outputs::OutputWriter;

pub struct PipelineRunner {
    pipelines: Arc<Pipelines>,
    writer: OutputWriter,
}

impl PipelineRunner {
    pub fn new(pipelines: Arc<Pipelines>, writer: OutputWriter) -> Self {
        Self { pipelines, writer }
    }

    fn context<'a>(
        &'a self,
        device: &'a str,
        params: &'a onnx_web_pipelines::ImageParams,
        stages: &StageOptions,
        progress: &'a Progress,
    ) -> JobContext<'a> {
        JobContext {
            pipelines: &self.pipelines,
            platform: device,
            params,
            tiles: stages.tiles,
            upscale: stages.upscale.clone(),
            highres: stages.highres.clone(),
            progress,
        }
    }

    /// The saving of `images` under the job's names, in order, to run on the output thread.
    /// Fewer images than names leaves the extra names without files (onnx-web does the same for
    /// single-image stages with `batch > 1`); an image without a name the client was told about
    /// is never written.
    fn save(&self, job: &Job, images: Vec<RgbImage>, metadata: &OutputMetadata) -> Deferred {
        let writer = self.writer.clone();
        let names = job.outputs.clone();
        let metadata = metadata.clone();
        Box::new(move || {
            for (name, image) in names.iter().zip(&images) {
                writer
                    .save(name, image, &metadata)
                    .with_context(|| format!("saving {name}"))?;
            }
            Ok(())
        })
    }
}

impl JobRunner for PipelineRunner {
    fn run(&self, device: &str, job: &Job, progress: &Progress) -> anyhow::Result<()> {
        match self.run_deferred(device, job, progress)? {
            Some(save) => save(),
            None => Ok(()),
        }
    }

    /// Runs the job's stages here and returns the PNG encoding and writing of its outputs.
    fn run_deferred(
        &self,
        device: &str,
        job: &Job,
        progress: &Progress,
    ) -> anyhow::Result<Option<Deferred>> {
        let started = std::time::Instant::now();
        let save = match &job.spec {
            JobSpec::Txt2Img(txt2img) => {
                let ctx = self.context(device, &txt2img.params, &txt2img.stages, progress);
                let images = ctx.txt2img(txt2img.size, |models| {
                    let output = onnx_web_pipelines::txt2img::run(models, &txt2img.params, txt2img.size, progress)?;
                    tracing::info!(
                        job = %job.key,
                        "txt2img: {:.2?} total, {:.2?} in ONNX Runtime, {:.2?} own overhead per step",
                        output.stats.total,
                        output.stats.in_runtime,
                        output.stats.overhead_per_step()
                    );
                    Ok(output.images)
                })?;
                self.save(job, images, &txt2img.metadata)
            }
            JobSpec::Img2Img(img2img) => {
                let ctx = self.context(device, &img2img.params, &img2img.stages, progress);
                let filtered = onnx_web_pipelines::source_filter::apply(
                    &self.pipelines,
                    device,
                    &img2img.source_filter,
                    img2img.source_filter_model.as_deref(),
                    &img2img.source.0,
                    u64::from(img2img.params.seed),
                )?;
                let mut images = ctx.img2img_pipeline(
                    &filtered,
                    img2img.strength,
                    img2img.loopback,
                    img2img.control_model.as_deref(),
                )?;
                // The filtered source is the last output (one name was reserved for it).
                let batch = img2img.params.batch.max(1) as usize;
                images.truncate(batch);
                if img2img.source_filter != "none" && images.len() == batch {
                    images.push(filtered);
                }
                self.save(job, images, &img2img.metadata)
            }
            JobSpec::Inpaint(inpaint) => {
                let ctx = self.context(device, &inpaint.params, &inpaint.stages, progress);
                let images = ctx.inpaint(&inpaint.source.0, &inpaint.mask.0, &inpaint.options)?;
                self.save(job, images, &inpaint.metadata)
            }
            JobSpec::Upscale(upscale) => {
                let ctx = self.context(device, &upscale.params, &upscale.stages, progress);
                let image = ctx.upscale(&upscale.source.0)?;
                self.save(job, vec![image], &upscale.metadata)
            }
            JobSpec::Txt2Txt(txt2txt) => crate::pipeline_routes::run_job(
                &self.pipelines,
                &self.writer,
                device,
                job,
                txt2txt,
                progress,
            )?,
            JobSpec::Chain(chain) => {
                crate::chain_routes::run_job(
                    &self.pipelines,
                    &self.writer,
                    device,
                    job,
                    chain,
                    progress,
                )?;
                Box::new(|| Ok(()))
            }
            JobSpec::Blend(blend) => {
                let ctx = self.context(device, &blend.params, &blend.stages, progress);
                let image = ctx.blend(&blend.sources[0].0, &blend.sources[1].0, &blend.mask.0)?;
                self.save(job, vec![image], &blend.metadata)
            }
        };
        tracing::info!(job = %job.key, "computed in {:.2?}", started.elapsed());
        Ok(Some(save))
    }
}
