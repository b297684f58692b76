//! The denoising UNet: predicts the noise (or v) in a latent sample at a timestep.

use std::sync::Arc;

use onnx_web_engine::ort::value::{TensorElementType, TensorRef};
use onnx_web_engine::Model;

use crate::error::{model_error, Result};
use crate::float16::{copy_into, float_type, to_f16};

/// A named float input of a UNet beyond `sample`, `timestep` and `encoder_hidden_states`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraInput {
    pub name: String,
    pub data: Vec<f32>,
    pub shape: Vec<usize>,
}

/// The inputs of one UNet call.
#[derive(Clone, Copy)]
pub struct UnetInputs<'a> {
    /// `[b, c, h, w]`.
    pub sample: &'a [f32],
    pub sample_shape: [usize; 4],
    pub timestep: f64,
    /// `encoder_hidden_states`, `[b, seq, dim]`.
    pub hidden: &'a [f32],
    pub hidden_shape: [usize; 3],
    /// `class_labels` int64 `[b]`, one value for every batch item (the SD x4 upscaler's noise
    /// level).
    pub class_label: Option<i64>,
    /// SDXL's `text_embeds` and `time_ids`, the ControlNet UNet's residuals.
    pub extra: &'a [ExtraInput],
}

impl<'a> UnetInputs<'a> {
    /// A plain Stable Diffusion call: sample, timestep and text embeddings.
    pub fn new(
        sample: &'a [f32],
        sample_shape: [usize; 4],
        timestep: f64,
        hidden: &'a [f32],
        hidden_shape: [usize; 3],
    ) -> Self {
        Self {
            sample,
            sample_shape,
            timestep,
            hidden,
            hidden_shape,
            class_label: None,
            extra: &[],
        }
    }
}

pub struct Unet {
    model: Arc<Model>,
    timestep_type: TensorElementType,
    /// float16 `sample` and `encoder_hidden_states` (converted at the edge).
    sample_f16: bool,
    hidden_f16: bool,
}

impl Unet {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        for name in ["sample", "timestep", "encoder_hidden_states"] {
            if model.input(name).is_none() {
                return Err(model_error(&model, format!("has no input named {name}")));
            }
        }
        let mut f16 = [false; 2];
        for (name, is_f16) in ["sample", "encoder_hidden_states"].iter().zip(&mut f16) {
            let element_type = model.input(name).and_then(|i| i.element_type);
            match float_type(element_type) {
                Some(t) => *is_f16 = t == TensorElementType::Float16,
                None => {
                    return Err(model_error(
                        &model,
                        format!("input {name} is {element_type:?}; float32 or float16 expected"),
                    ))
                }
            }
        }
        // diffusers exports use float32 timesteps, optimum's int64, fp16 conversions float16:
        // follow the model.
        let timestep_type = match model.input("timestep").and_then(|i| i.element_type) {
            Some(
                t @ (TensorElementType::Float32
                | TensorElementType::Float16
                | TensorElementType::Int64),
            ) => t,
            other => {
                return Err(model_error(
                    &model,
                    format!("timestep must be float32, float16 or int64, found {other:?}"),
                ))
            }
        };
        Ok(Self {
            model,
            timestep_type,
            sample_f16: f16[0],
            hidden_f16: f16[1],
        })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Runs one prediction; the result (`[b, 4, h, w]`) is written into `out`. The inputs are
    /// passed to ONNX Runtime without copying (float16 models: converted copies).
    pub fn predict(&self, inputs: &UnetInputs<'_>, out: &mut [f32]) -> Result<()> {
        let UnetInputs {
            sample,
            sample_shape,
            timestep,
            hidden,
            hidden_shape,
            class_label,
            extra,
        } = *inputs;
        let error = |e: onnx_web_engine::ort::Error| model_error(&self.model, e.to_string());
        let (sample16, hidden16);
        let sample_tensor = if self.sample_f16 {
            sample16 = to_f16(sample);
            TensorRef::from_array_view((sample_shape, &sample16[..]))
                .map_err(error)?
                .into_dyn()
        } else {
            TensorRef::from_array_view((sample_shape, sample))
                .map_err(error)?
                .into_dyn()
        };
        let hidden_tensor = if self.hidden_f16 {
            hidden16 = to_f16(hidden);
            TensorRef::from_array_view((hidden_shape, &hidden16[..]))
                .map_err(error)?
                .into_dyn()
        } else {
            TensorRef::from_array_view((hidden_shape, hidden))
                .map_err(error)?
                .into_dyn()
        };
        // One timestep for the whole batch, shape [1], as diffusers' ONNX pipelines pass it.
        let timestep_f32 = [timestep as f32];
        let timestep_f16 = [half::f16::from_f64(timestep)];
        let timestep_i64 = [timestep as i64];
        let timestep_tensor = match self.timestep_type {
            TensorElementType::Int64 => TensorRef::from_array_view(([1usize], &timestep_i64[..]))
                .map_err(error)?
                .into_dyn(),
            TensorElementType::Float16 => TensorRef::from_array_view(([1usize], &timestep_f16[..]))
                .map_err(error)?
                .into_dyn(),
            _ => TensorRef::from_array_view(([1usize], &timestep_f32[..]))
                .map_err(error)?
                .into_dyn(),
        };
        let mut inputs = onnx_web_engine::ort::inputs![
            "sample" => sample_tensor,
            "timestep" => timestep_tensor,
            "encoder_hidden_states" => hidden_tensor,
        ];
        let labels = class_label.map(|label| vec![label; sample_shape[0]]);
        if let Some(labels) = &labels {
            let tensor =
                TensorRef::from_array_view(([labels.len()], &labels[..])).map_err(error)?;
            inputs.push(("class_labels".into(), tensor.into()));
        }
        let extra_f16: Vec<Option<Vec<half::f16>>> = extra
            .iter()
            .map(|input| {
                let element_type = self.model.input(&input.name).and_then(|i| i.element_type);
                (element_type == Some(TensorElementType::Float16)).then(|| to_f16(&input.data))
            })
            .collect();
        for (input, converted) in extra.iter().zip(&extra_f16) {
            let shape = input.shape.clone();
            let value = match converted {
                Some(values) => TensorRef::from_array_view((shape, &values[..]))
                    .map_err(error)?
                    .into_dyn(),
                None => TensorRef::from_array_view((shape, &input.data[..]))
                    .map_err(error)?
                    .into_dyn(),
            };
            inputs.push((input.name.clone().into(), value.into()));
        }
        let expected = out.len();
        let copied = self
            .model
            .run(inputs, |outputs| copy_into(&outputs[0], out))?;
        if copied != expected {
            return Err(model_error(
                &self.model,
                format!("out_sample has {copied} values, expected {expected}"),
            ));
        }
        Ok(())
    }
}
