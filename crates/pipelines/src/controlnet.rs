//! The `controlnet` pipeline (img2img with `control=<name>`): the model's ControlNet UNet
//! variant (`cnet/`) guided by `models/control/<name>.onnx` on the control image (the request's
//! source after its source filter). As in onnx-web, the latents start from the generator's
//! noise and the request's `strength` is the conditioning scale.

use std::path::Path;

use image::RgbImage;
use onnx_web_diffusion::controlnet::ControlNet;
use onnx_web_diffusion::stable_diffusion::part_path;
use onnx_web_diffusion::text_encoder::Embeddings;
use onnx_web_diffusion::unet::ExtraInput;

use crate::denoise::{denoise, randn, step_noise, views_for, ExtraInputs, Guidance, UnetRef, View};
use crate::error::Result;
use crate::image_util::{align_up, crop_top_left, pad_edge, UNET_ALIGN};
use crate::stages::JobContext;
use crate::vae_tiles;

/// Whether the ControlNet pipeline can run: the model has a `cnet/` UNet and a control network
/// was named. Otherwise onnx-web's `controlnet` falls back to the plain pipeline here.
pub fn usable(model_dir: &Path, control: Option<&Path>) -> bool {
    control.is_some_and(Path::is_file) && part_path(model_dir, "cnet").is_file()
}

/// The control image `[3, H, W]` in 0..1, as the ControlNet expects it.
fn control_tensor(image: &RgbImage) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let plane = (w * h) as usize;
    let mut out = vec![0f32; 3 * plane];
    for (i, pixel) in image.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = f32::from(pixel[c]) / 255.0;
        }
    }
    out
}

/// Runs the ControlNet on each UNet call, on the control image's part under the view.
struct ControlInputs<'a> {
    controlnet: &'a ControlNet,
    /// `[3, height, width]` (image pixels).
    image: Vec<f32>,
    width: usize,
    height: usize,
    scale: f32,
}

impl ExtraInputs for ControlInputs<'_> {
    fn inputs(
        &self,
        sample: &[f32],
        sample_shape: [usize; 4],
        timestep: f64,
        embeddings: &Embeddings,
        view: View,
    ) -> Result<Vec<ExtraInput>> {
        let rows = sample_shape[0];
        let (top, left) = (view.top * 8, view.left * 8);
        let (vh, vw) = (view.height * 8, view.width * 8);
        let mut cond = Vec::with_capacity(rows * 3 * vh * vw);
        for _ in 0..rows {
            for c in 0..3 {
                for y in top..top + vh {
                    let row = c * self.width * self.height + y * self.width + left;
                    cond.extend_from_slice(&self.image[row..row + vw]);
                }
            }
        }
        Ok(self.controlnet.residuals(
            sample,
            sample_shape,
            timestep,
            &embeddings.data,
            embeddings.shape,
            &cond,
            [rows, 3, vh, vw],
            self.scale,
        )?)
    }
}

/// `batch` images guided by `control` (the filtered source), at the control image's size.
pub fn controlnet(
    ctx: &JobContext<'_>,
    control_image: &RgbImage,
    control_model: &Path,
    scale: f32,
    batch: usize,
) -> Result<Vec<RgbImage>> {
    let params = ctx.params;
    let models = ctx
        .pipelines
        .stable_diffusion_cnet(&params.model_dir, ctx.platform)?;
    let controlnet = ControlNet::new(ctx.pipelines.engine().load(control_model, ctx.platform)?)?;
    ctx.progress.check()?;
    let stage = crate::sd::SdStage {
        models: &models,
        vae_encoder: None,
        params,
        tiles: &ctx.tiles,
        progress: ctx.progress,
        prompt_stage: 0,
    };
    let (width, height) = control_image.dimensions();
    let (w8, h8) = (align_up(width, UNET_ALIGN), align_up(height, UNET_ALIGN));
    let padded = pad_edge(control_image, w8, h8);
    let batch = batch.max(1);
    let embeddings = stage.embeddings(batch)?;
    let (h, w) = ((h8 / 8) as usize, (w8 / 8) as usize);
    let shape = [batch, 4, h, w];
    let views = views_for(h, w, ctx.tiles.unet_tile, ctx.tiles.unet_overlap);
    let mut schedulers = stage.schedulers(views.len(), None)?;
    let len: usize = shape.iter().product();
    let mut latents = randn(params.seed, len);
    let sigma = schedulers[0].init_noise_sigma();
    latents.iter_mut().for_each(|x| *x *= sigma);
    let inputs = ControlInputs {
        controlnet: &controlnet,
        image: control_tensor(&padded),
        width: w8 as usize,
        height: h8 as usize,
        scale,
    };
    denoise(
        UnetRef::Extended(&models.unet, &inputs),
        Guidance {
            embeddings: &embeddings,
            cfg: params.cfg,
            enabled: stage.guidance_enabled(),
            regions: &[],
        },
        None,
        None,
        &views,
        &mut schedulers,
        &mut latents,
        shape,
        &mut step_noise(params.seed),
        ctx.progress,
    )?;
    let images = vae_tiles::decode(
        &models.vae_decoder,
        &latents,
        shape,
        &ctx.tiles,
        ctx.progress,
    )?;
    Ok(images
        .iter()
        .map(|image| crop_top_left(image, width, height))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_image_is_planar_and_in_unit_range() {
        let mut image = RgbImage::new(2, 1);
        image.put_pixel(0, 0, image::Rgb([255, 0, 51]));
        image.put_pixel(1, 0, image::Rgb([0, 255, 0]));
        let t = control_tensor(&image);
        assert_eq!(t, vec![1.0, 0.0, 0.0, 1.0, 0.2, 0.0]);
    }
}
