//! A ControlNet as onnx-web's converter exports it (`models/control/<name>.onnx`): inputs
//! `sample`, `timestep`, `encoder_hidden_states`, `controlnet_cond` (the control image, `[b, 3,
//! H, W]` in 0..1) and, in newer exports, `conditioning_scale`; outputs the down-block residuals
//! then the mid-block residual, by position. They feed the UNet variant in the model's `cnet/`
//! folder as `down_block_N` and `mid_block_additional_residual`.

use std::sync::Arc;

use onnx_web_engine::ort::value::{DynValue, Tensor, TensorElementType};
use onnx_web_engine::Model;

use crate::error::{model_error, Result};
use crate::float16::{extend_from, to_f16};
use crate::unet::ExtraInput;

pub struct ControlNet {
    model: Arc<Model>,
}

impl ControlNet {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        for name in [
            "sample",
            "timestep",
            "encoder_hidden_states",
            "controlnet_cond",
        ] {
            if model.input(name).is_none() {
                return Err(model_error(
                    &model,
                    format!("a ControlNet needs the input {name}"),
                ));
            }
        }
        if model.outputs().len() < 2 {
            return Err(model_error(
                &model,
                "a ControlNet has down-block residuals and a mid-block residual",
            ));
        }
        Ok(Self { model })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The residuals for one UNet call on the same `sample`, `timestep` and embeddings, scaled by
    /// `scale` (onnx-web's `controlnet_conditioning_scale`), as the UNet's extra inputs.
    #[allow(clippy::too_many_arguments)]
    pub fn residuals(
        &self,
        sample: &[f32],
        sample_shape: [usize; 4],
        timestep: f64,
        hidden: &[f32],
        hidden_shape: [usize; 3],
        cond: &[f32],
        cond_shape: [usize; 4],
        scale: f32,
    ) -> Result<Vec<ExtraInput>> {
        let model = &self.model;
        let error = |e: onnx_web_engine::ort::Error| model_error(model, e.to_string());
        let is_f16 = |name: &str| {
            model.input(name).and_then(|i| i.element_type) == Some(TensorElementType::Float16)
        };
        let tensor = |name: &str, data: &[f32], shape: Vec<usize>| -> Result<DynValue> {
            Ok(if is_f16(name) {
                Tensor::from_array((shape, to_f16(data)))
                    .map_err(error)?
                    .into_dyn()
            } else {
                Tensor::from_array((shape, data.to_vec()))
                    .map_err(error)?
                    .into_dyn()
            })
        };
        let timestep_value = match model.input("timestep").and_then(|i| i.element_type) {
            Some(TensorElementType::Int64) => {
                Tensor::from_array((vec![1usize], vec![timestep as i64]))
                    .map_err(error)?
                    .into_dyn()
            }
            _ => tensor("timestep", &[timestep as f32], vec![1])?,
        };
        let mut inputs = onnx_web_engine::ort::inputs![
            "sample" => tensor("sample", sample, sample_shape.to_vec())?,
            "timestep" => timestep_value,
            "encoder_hidden_states" => tensor("encoder_hidden_states", hidden, hidden_shape.to_vec())?,
            "controlnet_cond" => tensor("controlnet_cond", cond, cond_shape.to_vec())?,
        ];
        let in_model = model.input("conditioning_scale").is_some();
        if in_model {
            inputs.push((
                "conditioning_scale".into(),
                tensor("conditioning_scale", &[scale], vec![])?.into(),
            ));
        }
        let outputs = model.run(inputs, |outputs| {
            let mut all = Vec::new();
            for (_, value) in outputs.iter() {
                let mut data = Vec::new();
                let dims = extend_from(&value, &mut data)?;
                all.push((data, dims.iter().map(|&d| d as usize).collect::<Vec<_>>()));
            }
            Ok(all)
        })?;
        let last = outputs.len() - 1;
        Ok(outputs
            .into_iter()
            .enumerate()
            .map(|(index, (mut data, shape))| {
                if !in_model && scale != 1.0 {
                    data.iter_mut().for_each(|x| *x *= scale);
                }
                let name = if index == last {
                    "mid_block_additional_residual".to_owned()
                } else {
                    format!("down_block_{index}")
                };
                ExtraInput { name, data, shape }
            })
            .collect())
    }
}
