//! Just enough of the ONNX protobuf format to find a model's weights: the graph's nodes (name,
//! op type, inputs) and its float32 initializers, inline or in external data files. LoRA and
//! Textual Inversion blending read weights here and hand the changed ones back to
//! [`crate::Engine::load_variant`] as initializer overrides, so the model is never re-serialized.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{EngineError, Result};

/// ONNX `TensorProto.DataType.FLOAT`.
const FLOAT: i32 = 1;
/// ONNX `TensorProto.DataLocation.EXTERNAL`.
const EXTERNAL: i32 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct OnnxNode {
    pub name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
}

#[derive(Debug, Clone)]
enum TensorData {
    /// `raw_data` bytes inside the model file.
    Raw(std::ops::Range<usize>),
    /// `float_data` values.
    Floats(Vec<f32>),
    External {
        file: PathBuf,
        offset: u64,
        length: Option<u64>,
    },
}

#[derive(Debug, Clone)]
struct Initializer {
    dims: Vec<i64>,
    data_type: i32,
    data: TensorData,
}

/// The nodes and initializers of one `.onnx` file.
#[derive(Debug)]
pub struct OnnxWeights {
    path: PathBuf,
    bytes: Vec<u8>,
    nodes: Vec<OnnxNode>,
    initializers: HashMap<String, Initializer>,
}

/// A float32 tensor: dims and row-major data.
#[derive(Debug, Clone, PartialEq)]
pub struct F32Tensor {
    pub dims: Vec<i64>,
    pub data: Vec<f32>,
}

fn invalid(path: &Path, message: impl Into<String>) -> EngineError {
    EngineError::ModelLoad {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// One protobuf field: number and value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8], usize),
    Fixed,
}

/// Iterates the fields of a protobuf message; `base` is the message's offset in the file, so
/// byte fields can be located again later.
struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

fn read_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

impl<'a> Iterator for Fields<'a> {
    type Item = Option<(u64, Field<'a>)>;

    /// `Some(None)` on malformed input (then iteration stops).
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let parsed = (|| {
            let key = read_varint(self.data, &mut self.pos)?;
            let field = match key & 7 {
                0 => Field::Varint(read_varint(self.data, &mut self.pos)?),
                1 => {
                    self.pos = self.pos.checked_add(8)?;
                    Field::Fixed
                }
                5 => {
                    self.pos = self.pos.checked_add(4)?;
                    Field::Fixed
                }
                2 => {
                    let len = usize::try_from(read_varint(self.data, &mut self.pos)?).ok()?;
                    let start = self.pos;
                    let end = start.checked_add(len)?;
                    let bytes = self.data.get(start..end)?;
                    self.pos = end;
                    Field::Bytes(bytes, self.base + start)
                }
                _ => return None,
            };
            (self.pos <= self.data.len()).then_some((key >> 3, field))
        })();
        if parsed.is_none() {
            self.pos = self.data.len();
        }
        Some(parsed)
    }
}

fn fields(data: &[u8], base: usize) -> Fields<'_> {
    Fields { data, pos: 0, base }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl OnnxWeights {
    /// Reads the graph of `path` (external data is read lazily, per tensor).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| invalid(path, e.to_string()))?;
        let mut weights = Self {
            path: path.to_path_buf(),
            bytes: Vec::new(),
            nodes: Vec::new(),
            initializers: HashMap::new(),
        };
        let malformed = || invalid(path, "malformed ONNX protobuf");
        for field in fields(&bytes, 0) {
            let (7, Field::Bytes(graph, base)) = field.ok_or_else(malformed)? else {
                continue;
            };
            for field in fields(graph, base) {
                match field.ok_or_else(malformed)? {
                    (1, Field::Bytes(node, _)) => weights.nodes.push(parse_node(node)),
                    (5, Field::Bytes(tensor, base)) => {
                        let (name, initializer) =
                            parse_tensor(tensor, base, path).ok_or_else(malformed)?;
                        weights.initializers.insert(name, initializer);
                    }
                    _ => {}
                }
            }
        }
        weights.bytes = bytes;
        Ok(weights)
    }

    pub fn nodes(&self) -> &[OnnxNode] {
        &self.nodes
    }

    pub fn has_initializer(&self, name: &str) -> bool {
        self.initializers.contains_key(name)
    }

    pub fn initializer_dims(&self, name: &str) -> Option<&[i64]> {
        self.initializers.get(name).map(|i| i.dims.as_slice())
    }

    /// The float32 initializer `name`.
    pub fn read_f32(&self, name: &str) -> Result<F32Tensor> {
        let initializer = self
            .initializers
            .get(name)
            .ok_or_else(|| invalid(&self.path, format!("no initializer named {name:?}")))?;
        if initializer.data_type != FLOAT {
            return Err(invalid(
                &self.path,
                format!(
                    "initializer {name:?} has data type {}, only float32 weights can be blended",
                    initializer.data_type
                ),
            ));
        }
        let count: usize = initializer
            .dims
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .product();
        let data = match &initializer.data {
            TensorData::Floats(values) => values.clone(),
            TensorData::Raw(range) => floats_from_le(&self.bytes[range.clone()]),
            TensorData::External {
                file,
                offset,
                length,
            } => read_external(file, *offset, length.unwrap_or(count as u64 * 4))
                .map_err(|e| invalid(file, e.to_string()))?,
        };
        if data.len() != count {
            return Err(invalid(
                &self.path,
                format!(
                    "initializer {name:?} holds {} values, its dims {:?} need {count}",
                    data.len(),
                    initializer.dims
                ),
            ));
        }
        Ok(F32Tensor {
            dims: initializer.dims.clone(),
            data,
        })
    }
}

fn floats_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn read_external(file: &Path, offset: u64, length: u64) -> std::io::Result<Vec<f32>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut handle = std::fs::File::open(file)?;
    handle.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    handle.take(length).read_to_end(&mut bytes)?;
    Ok(floats_from_le(&bytes))
}

fn parse_node(data: &[u8]) -> OnnxNode {
    let mut node = OnnxNode {
        name: String::new(),
        op_type: String::new(),
        inputs: Vec::new(),
    };
    for (number, field) in fields(data, 0).map_while(|f| f) {
        match (number, field) {
            (1, Field::Bytes(b, _)) => node.inputs.push(text(b)),
            (3, Field::Bytes(b, _)) => node.name = text(b),
            (4, Field::Bytes(b, _)) => node.op_type = text(b),
            _ => {}
        }
    }
    node
}

fn parse_tensor(data: &[u8], base: usize, model: &Path) -> Option<(String, Initializer)> {
    let mut name = String::new();
    let mut dims = Vec::new();
    let mut data_type = 0;
    let mut raw = None;
    let mut floats = Vec::new();
    let mut external: HashMap<String, String> = HashMap::new();
    let mut location = 0;
    for field in fields(data, base) {
        match field? {
            (1, Field::Varint(d)) => dims.push(d as i64),
            (1, Field::Bytes(packed, _)) => {
                let mut pos = 0;
                while pos < packed.len() {
                    dims.push(read_varint(packed, &mut pos)? as i64);
                }
            }
            (2, Field::Varint(t)) => data_type = t as i32,
            (4, Field::Bytes(packed, _)) => floats.extend(floats_from_le(packed)),
            (8, Field::Bytes(b, _)) => name = text(b),
            (9, Field::Bytes(b, offset)) => raw = Some(offset..offset + b.len()),
            (13, Field::Bytes(entry, _)) => {
                let (mut key, mut value) = (String::new(), String::new());
                for (number, field) in fields(entry, 0).map_while(|f| f) {
                    match (number, field) {
                        (1, Field::Bytes(b, _)) => key = text(b),
                        (2, Field::Bytes(b, _)) => value = text(b),
                        _ => {}
                    }
                }
                external.insert(key, value);
            }
            (14, Field::Varint(l)) => location = l as i32,
            _ => {}
        }
    }
    let data = if location == EXTERNAL {
        TensorData::External {
            file: external_file(model, external.get("location")?)?,
            offset: external.get("offset").map_or(Some(0), |o| o.parse().ok())?,
            length: match external.get("length") {
                Some(l) => Some(l.parse().ok()?),
                None => None,
            },
        }
    } else if let Some(range) = raw {
        TensorData::Raw(range)
    } else {
        TensorData::Floats(floats)
    };
    Some((
        name,
        Initializer {
            dims,
            data_type,
            data,
        },
    ))
}

/// An external data file beside the model; paths that climb out of the model's folder are refused.
fn external_file(model: &Path, location: &str) -> Option<PathBuf> {
    let relative = Path::new(location);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return None;
    }
    Some(model.parent()?.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_protobuf_is_an_error_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("onnx-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.onnx");
        // graph field (7) claiming 100 bytes, holding 2
        std::fs::write(&path, [0x3a, 100, 1, 2]).unwrap();
        assert!(OnnxWeights::read(&path).is_err());
        std::fs::write(&path, [0x3a, 2, 0x2a, 0x7f]).unwrap();
        assert!(OnnxWeights::read(&path).is_err());
    }

    #[test]
    fn external_data_may_not_leave_the_model_folder() {
        let model = Path::new("/models/x/unet/model.onnx");
        assert_eq!(
            external_file(model, "weights.pb"),
            Some(PathBuf::from("/models/x/unet/weights.pb"))
        );
        assert_eq!(external_file(model, "../../secret"), None);
        assert_eq!(external_file(model, "/etc/passwd"), None);
    }
}
