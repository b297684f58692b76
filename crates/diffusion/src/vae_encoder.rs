//! The VAE encoder: images in [-1, 1] to latents (img2img, inpaint).

use std::sync::Arc;

use onnx_web_engine::ort::value::{TensorElementType, TensorRef};
use onnx_web_engine::Model;

use crate::error::{model_error, Result};
use crate::float16::{copy_into, to_f16};

pub struct VaeEncoder {
    model: Arc<Model>,
    /// float16 `sample` (converted at the edge).
    float16: bool,
}

impl VaeEncoder {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        let Some(input) = model.input("sample") else {
            return Err(model_error(&model, "has no input named sample"));
        };
        let float16 = input.element_type == Some(TensorElementType::Float16);
        Ok(Self { model, float16 })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Encodes one image `[1, 3, H, W]` (values in [-1, 1], H and W multiples of 8) into unscaled
    /// latents `[1, 4, H/8, W/8]` (multiply by `LATENT_SCALE` for the UNet), written into `out`.
    pub fn encode(
        &self,
        image: &[f32],
        height: usize,
        width: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let error = |e: onnx_web_engine::ort::Error| model_error(&self.model, e.to_string());
        let image16;
        let input = if self.float16 {
            image16 = to_f16(image);
            TensorRef::from_array_view(([1usize, 3, height, width], &image16[..]))
                .map_err(error)?
                .into_dyn()
        } else {
            TensorRef::from_array_view(([1usize, 3, height, width], image))
                .map_err(error)?
                .into_dyn()
        };
        let expected = out.len();
        let got = self.model.run(
            onnx_web_engine::ort::inputs!["sample" => input],
            |outputs| copy_into(&outputs[0], out),
        )?;
        if got != expected {
            return Err(model_error(
                &self.model,
                format!("latent_sample has {got} values, expected {expected} for a {width}x{height} image"),
            ));
        }
        Ok(())
    }
}
