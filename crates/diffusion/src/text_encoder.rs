//! The CLIP text encoder: token ids in, one embedding per token out.

use std::sync::Arc;

use onnx_web_engine::ort::value::{TensorElementType, TensorRef};
use onnx_web_engine::Model;

use crate::error::{model_error, Result};

pub struct TextEncoder {
    model: Arc<Model>,
    ids_are_int64: bool,
}

/// Token embeddings `[batch, sequence, dim]` in one contiguous buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub data: Vec<f32>,
    pub shape: [usize; 3],
}

impl TextEncoder {
    pub fn new(model: Arc<Model>) -> Result<Self> {
        let input = model
            .input("input_ids")
            .ok_or_else(|| model_error(&model, "has no input named input_ids"))?;
        let ids_are_int64 = match input.element_type {
            Some(TensorElementType::Int32) => false,
            Some(TensorElementType::Int64) => true,
            other => {
                return Err(model_error(
                    &model,
                    format!("input_ids must be int32 or int64, found {other:?}"),
                ))
            }
        };
        Ok(Self {
            model,
            ids_are_int64,
        })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Encodes `batch` rows of token ids (each `ids.len() / batch` long) into the text encoder's
    /// first output, `last_hidden_state` (taken by position: exports name it differently).
    pub fn encode(&self, ids: &[i64], batch: usize) -> Result<Embeddings> {
        let sequence = ids.len() / batch;
        let shape = [batch, sequence];
        // float16 encoders (fp16 conversions) are read as float32.
        let read = |outputs: &onnx_web_engine::ort::session::SessionOutputs<'_>| {
            let mut data = Vec::new();
            let dims = crate::float16::extend_from(&outputs[0], &mut data)?;
            Ok((dims.iter().map(|&d| d as usize).collect::<Vec<_>>(), data))
        };
        let (dims, data) = if self.ids_are_int64 {
            let input = TensorRef::from_array_view((shape, ids))
                .map_err(|e| model_error(&self.model, e.to_string()))?;
            self.model
                .run(onnx_web_engine::ort::inputs!["input_ids" => input], read)?
        } else {
            let ids32: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
            let input = TensorRef::from_array_view((shape, &ids32[..]))
                .map_err(|e| model_error(&self.model, e.to_string()))?;
            self.model
                .run(onnx_web_engine::ort::inputs!["input_ids" => input], read)?
        };
        match dims[..] {
            [b, s, d] if b == batch && s == sequence => Ok(Embeddings {
                data,
                shape: [b, s, d],
            }),
            _ => Err(model_error(
                &self.model,
                format!("expected last_hidden_state [{batch}, {sequence}, dim], got {dims:?}"),
            )),
        }
    }
}
