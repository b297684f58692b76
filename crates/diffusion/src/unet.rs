//! The denoising UNet: predicts the noise (or v) in a latent sample at a timestep.

use std::sync::Arc;

use onnx_web_engine::ort::value::{TensorElementType, TensorRef};
use onnx_web_engine::Model;

use crate::error::{model_error, Result};

pub struct Unet {
    model: Arc<Model>,
    timestep_type: TensorElementType,
}

impl Unet {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        for name in ["sample", "timestep", "encoder_hidden_states"] {
            if model.input(name).is_none() {
                return Err(model_error(&model, format!("has no input named {name}")));
            }
        }
        for name in ["sample", "encoder_hidden_states"] {
            let element_type = model.input(name).and_then(|i| i.element_type);
            if element_type != Some(TensorElementType::Float32) {
                return Err(model_error(
                    &model,
                    format!("input {name} is {element_type:?}; only float32 models are supported so far"),
                ));
            }
        }
        // diffusers exports use float32 timesteps, optimum's int64: follow the model.
        let timestep_type = match model.input("timestep").and_then(|i| i.element_type) {
            Some(t @ (TensorElementType::Float32 | TensorElementType::Int64)) => t,
            other => {
                return Err(model_error(
                    &model,
                    format!("timestep must be float32 or int64, found {other:?}"),
                ))
            }
        };
        Ok(Self {
            model,
            timestep_type,
        })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Runs one prediction. `sample` is `[b, 4, h, w]`, `hidden` `[b, seq, dim]`; the result is
    /// written into `out` (same length as `sample`). The inputs are passed to ONNX Runtime
    /// without copying.
    pub fn predict(
        &self,
        sample: &[f32],
        sample_shape: [usize; 4],
        timestep: f64,
        hidden: &[f32],
        hidden_shape: [usize; 3],
        out: &mut [f32],
    ) -> Result<()> {
        let error = |e: onnx_web_engine::ort::Error| model_error(&self.model, e.to_string());
        let sample_tensor = TensorRef::from_array_view((sample_shape, sample)).map_err(error)?;
        let hidden_tensor = TensorRef::from_array_view((hidden_shape, hidden)).map_err(error)?;
        // One timestep for the whole batch, shape [1], as diffusers' ONNX pipelines pass it.
        let timestep_f32 = [timestep as f32];
        let timestep_i64 = [timestep as i64];
        let timestep_tensor = match self.timestep_type {
            TensorElementType::Int64 => TensorRef::from_array_view(([1usize], &timestep_i64[..]))
                .map_err(error)?
                .into_dyn(),
            _ => TensorRef::from_array_view(([1usize], &timestep_f32[..]))
                .map_err(error)?
                .into_dyn(),
        };
        let inputs = onnx_web_engine::ort::inputs![
            "sample" => sample_tensor,
            "timestep" => timestep_tensor,
            "encoder_hidden_states" => hidden_tensor,
        ];
        let expected = out.len();
        let copied = self.model.run(inputs, |outputs| {
            let (_, data) = outputs[0].try_extract_tensor::<f32>()?;
            if data.len() == expected {
                out.copy_from_slice(data);
            }
            Ok(data.len())
        })?;
        if copied != expected {
            return Err(model_error(
                &self.model,
                format!("out_sample has {copied} values, expected {expected}"),
            ));
        }
        Ok(())
    }
}
