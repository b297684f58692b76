//! Image-to-image ONNX models outside Stable Diffusion: Real-ESRGAN-style upscalers
//! (`data` [1,3,h,w] RGB in [0,1] → `output` [1,3,s·h,s·w]) and face restorers (GFPGAN:
//! `input` [1,3,512,512] in [-1,1]; CodeFormer: the same plus a fidelity `weight`). Inputs and
//! outputs are taken by position, so exports that name them differently work too.

use std::sync::Arc;

use onnx_web_engine::ort::value::{Tensor, TensorElementType, TensorRef};
use onnx_web_engine::Model;

use crate::error::{model_error, Result};

pub struct ImageModel {
    model: Arc<Model>,
    image_input: String,
    /// A second, scalar input (CodeFormer's fidelity weight) and its element type.
    weight_input: Option<(String, TensorElementType)>,
}

impl ImageModel {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        let inputs = model.inputs();
        let Some(first) = inputs.first() else {
            return Err(model_error(&model, "has no inputs"));
        };
        if first.element_type != Some(TensorElementType::Float32) {
            return Err(model_error(
                &model,
                format!(
                    "input {} must be float32, found {:?}",
                    first.name, first.element_type
                ),
            ));
        }
        if !(first.shape.len() == 4 && matches!(first.shape[1], 3 | -1)) {
            return Err(model_error(
                &model,
                format!(
                    "input {} must be an RGB image [1,3,h,w], found {:?}",
                    first.name, first.shape
                ),
            ));
        }
        let weight_input = inputs.get(1).map(|i| {
            (
                i.name.clone(),
                i.element_type.unwrap_or(TensorElementType::Float32),
            )
        });
        if model.outputs().is_empty() {
            return Err(model_error(&model, "has no outputs"));
        }
        Ok(Self {
            image_input: first.name.clone(),
            weight_input,
            model,
        })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The fixed input size `(height, width)` when the model declares one (GFPGAN: 512×512).
    pub fn fixed_size(&self) -> Option<(usize, usize)> {
        let shape = &self.model.inputs()[0].shape;
        match (shape[2], shape[3]) {
            (h, w) if h > 0 && w > 0 => Some((h as usize, w as usize)),
            _ => None,
        }
    }

    /// Runs the model on one image `[1, 3, height, width]`; returns the output and its
    /// `(height, width)`. `weight` goes to the second input when the model has one.
    pub fn run(
        &self,
        image: &[f32],
        height: usize,
        width: usize,
        weight: f64,
    ) -> Result<(Vec<f32>, usize, usize)> {
        let error = |e: onnx_web_engine::ort::Error| model_error(&self.model, e.to_string());
        let tensor =
            TensorRef::from_array_view(([1usize, 3, height, width], image)).map_err(error)?;
        let read = |outputs: &onnx_web_engine::ort::session::SessionOutputs<'_>| {
            let (dims, data) = outputs[0].try_extract_tensor::<f32>()?;
            Ok((dims.to_vec(), data.to_vec()))
        };
        let (dims, data) = match &self.weight_input {
            None => self.model.run(
                onnx_web_engine::ort::inputs![self.image_input.as_str() => tensor],
                read,
            )?,
            Some((name, element_type)) => {
                let weight = match element_type {
                    TensorElementType::Float64 => Tensor::from_array(([1usize], vec![weight]))
                        .map_err(error)?
                        .into_dyn(),
                    _ => Tensor::from_array(([1usize], vec![weight as f32]))
                        .map_err(error)?
                        .into_dyn(),
                };
                self.model.run(
                    onnx_web_engine::ort::inputs![
                        self.image_input.as_str() => tensor,
                        name.as_str() => weight,
                    ],
                    read,
                )?
            }
        };
        match dims[..] {
            [1, 3, h, w] if h > 0 && w > 0 && data.len() == (3 * h * w) as usize => {
                Ok((data, h as usize, w as usize))
            }
            _ => Err(model_error(
                &self.model,
                format!("expected an output image [1,3,h,w], got {dims:?}"),
            )),
        }
    }
}
