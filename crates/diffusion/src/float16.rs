//! float16 models (e.g. exports converted with `--half` or `tools/convert_fp16.py`): inputs and
//! outputs are converted at the model's edge, our own buffers and loops stay float32.

use half::f16;
use onnx_web_engine::ort;
use onnx_web_engine::ort::value::{DynValue, TensorElementType};

/// The float type a model input or output uses: float32 or float16; `None` for anything else.
pub fn float_type(element_type: Option<TensorElementType>) -> Option<TensorElementType> {
    match element_type {
        Some(t @ (TensorElementType::Float32 | TensorElementType::Float16)) => Some(t),
        _ => None,
    }
}

/// `values` as float16 (round to nearest even; out-of-range values become infinite).
pub fn to_f16(values: &[f32]) -> Vec<f16> {
    values.iter().map(|&v| f16::from_f32(v)).collect()
}

/// Copies a float32 or float16 tensor into `out` when the lengths match; returns its length.
pub fn copy_into(value: &DynValue, out: &mut [f32]) -> ort::Result<usize> {
    if value.dtype().tensor_type() == Some(TensorElementType::Float16) {
        let (_, data) = value.try_extract_tensor::<f16>()?;
        if data.len() == out.len() {
            for (o, v) in out.iter_mut().zip(data) {
                *o = v.to_f32();
            }
        }
        Ok(data.len())
    } else {
        let (_, data) = value.try_extract_tensor::<f32>()?;
        if data.len() == out.len() {
            out.copy_from_slice(data);
        }
        Ok(data.len())
    }
}

/// A float32 or float16 tensor's dimensions, its values appended to `out` as float32.
pub fn extend_from(value: &DynValue, out: &mut Vec<f32>) -> ort::Result<Vec<i64>> {
    if value.dtype().tensor_type() == Some(TensorElementType::Float16) {
        let (dims, data) = value.try_extract_tensor::<f16>()?;
        out.extend(data.iter().map(|v| v.to_f32()));
        Ok(dims.iter().copied().collect())
    } else {
        let (dims, data) = value.try_extract_tensor::<f32>()?;
        out.extend_from_slice(data);
        Ok(dims.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float16_round_trip_is_close() {
        let values = [0.0f32, 1.0, -2.5, 0.18215, 1000.0];
        for (v, h) in values.iter().zip(to_f16(&values)) {
            assert!((h.to_f32() - v).abs() <= v.abs() * 1e-3);
        }
    }
}
