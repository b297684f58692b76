//! The VAE encoder: images in [-1, 1] to latents (img2img, inpaint).

use std::sync::Arc;

use onnx_web_engine::ort::value::TensorRef;
use onnx_web_engine::Model;

use crate::error::{model_error, Result};

pub struct VaeEncoder {
    model: Arc<Model>,
}

impl VaeEncoder {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        if model.input("sample").is_none() {
            return Err(model_error(&model, "has no input named sample"));
        }
        Ok(Self { model })
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
        let input = TensorRef::from_array_view(([1usize, 3, height, width], image))
            .map_err(|e| model_error(&self.model, e.to_string()))?;
        let expected = out.len();
        let got = self.model.run(
            onnx_web_engine::ort::inputs!["sample" => input],
            |outputs| {
                let (_, data) = outputs[0].try_extract_tensor::<f32>()?;
                if data.len() == expected {
                    out.copy_from_slice(data);
                }
                Ok(data.len())
            },
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
