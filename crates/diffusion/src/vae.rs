//! The VAE decoder: latents to images in [-1, 1].

use std::sync::Arc;

use onnx_web_engine::ort::value::{TensorElementType, TensorRef};
use onnx_web_engine::Model;

use crate::error::{model_error, Result};
use crate::float16::{extend_from, to_f16};

/// Stable Diffusion 1.x/2.x latent scaling factor (diffusers' `vae.config.scaling_factor`).
pub const LATENT_SCALE: f32 = 0.18215;

pub struct VaeDecoder {
    model: Arc<Model>,
    /// float16 `latent_sample` (converted at the edge).
    float16: bool,
}

impl VaeDecoder {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        let Some(input) = model.input("latent_sample") else {
            return Err(model_error(&model, "has no input named latent_sample"));
        };
        let float16 = input.element_type == Some(TensorElementType::Float16);
        Ok(Self { model, float16 })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Decodes already unscaled latents `[b, 4, h, w]` (divide by [`LATENT_SCALE`] first) into
    /// images `[b, 3, 8h, 8w]`. Items are decoded one at a time, as diffusers' ONNX pipelines do,
    /// which bounds memory for large batches.
    pub fn decode(&self, latents: &[f32], shape: [usize; 4]) -> Result<(Vec<f32>, [usize; 4])> {
        let [batch, channels, height, width] = shape;
        let item = channels * height * width;
        let mut images = Vec::new();
        let mut image_shape = [batch, 3, height * 8, width * 8];
        for index in 0..batch {
            let slice = &latents[index * item..(index + 1) * item];
            let error = |e: onnx_web_engine::ort::Error| model_error(&self.model, e.to_string());
            let slice16;
            let input = if self.float16 {
                slice16 = to_f16(slice);
                TensorRef::from_array_view(([1, channels, height, width], &slice16[..]))
                    .map_err(error)?
                    .into_dyn()
            } else {
                TensorRef::from_array_view(([1, channels, height, width], slice))
                    .map_err(error)?
                    .into_dyn()
            };
            self.model.run(
                onnx_web_engine::ort::inputs!["latent_sample" => input],
                |outputs| {
                    let dims = extend_from(&outputs[0], &mut images)?;
                    if let [1, c, h, w] = dims[..] {
                        image_shape = [batch, c as usize, h as usize, w as usize];
                    }
                    Ok(())
                },
            )?;
        }
        if images.len() != image_shape.iter().product::<usize>() {
            return Err(model_error(
                &self.model,
                format!(
                    "decoded {} values, which is not a batch of images {image_shape:?}",
                    images.len()
                ),
            ));
        }
        Ok((images, image_shape))
    }
}
