//! LoRA and Textual Inversion networks (§4.1, §5.2), blended into a model's initializers before
//! its session is built:
//! - LoRA (kohya `lora_unet_` / `lora_te_` keys, `.lora_down` / `.lora_up` / `.alpha`):
//!   `W' = W + weight · alpha/rank · up@down` on the initializer behind the node named like the
//!   key (`…_MatMul`, whose weight is stored transposed, `…_Conv`, `…_Gemm`);
//! - Textual Inversion (A1111 `emb_params`, or a one-key concept file): the vectors, times the
//!   weight, become new rows of the text encoder's token table, and their tokens are added to the
//!   tokenizer.
//!
//! Only `.safetensors` files are read: the other extensions onnx-web accepts are Python pickles.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use onnx_web_engine::onnx_weights::{F32Tensor, OnnxWeights};

use crate::error::{DiffusionError, Result};
use crate::prompt_parser::{NetworkKind, NetworkToken};

/// The extensions onnx-web tries, in order.
const EXTENSIONS: [&str; 5] = ["safetensors", "ckpt", "pt", "pth", "bin"];

/// A network token resolved to its file.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkFile {
    pub kind: NetworkKind,
    pub name: String,
    pub weight: f32,
    pub path: PathBuf,
}

fn network_error(path: &Path, message: impl Into<String>) -> DiffusionError {
    DiffusionError::Network {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Finds the files of the prompt's network tokens under `models_root/{lora,inversion}/`. LoRAs at
/// weight 0 change nothing and are left out, so they share the plain model's session.
pub fn resolve_networks(models_root: &Path, tokens: &[NetworkToken]) -> Result<Vec<NetworkFile>> {
    let mut files = Vec::new();
    for token in tokens {
        if token.kind == NetworkKind::Lora && token.weight == 0.0 {
            continue;
        }
        let folder = models_root.join(token.kind.folder());
        let safe_name = !token.name.is_empty()
            && !token.name.starts_with('.')
            && !token.name.contains(['/', '\\', '\0']);
        let found = safe_name
            .then(|| {
                EXTENSIONS
                    .iter()
                    .map(|ext| folder.join(format!("{}.{ext}", token.name)))
                    .find(|p| p.is_file())
            })
            .flatten();
        let path = found.ok_or_else(|| {
            network_error(
                &folder,
                format!("no {} named {:?}", token.kind.folder(), token.name),
            )
        })?;
        files.push(NetworkFile {
            kind: token.kind,
            name: token.name.clone(),
            weight: token.weight,
            path,
        });
    }
    files.sort_by(|a, b| {
        (a.kind, &a.name)
            .cmp(&(b.kind, &b.name))
            .then(a.weight.total_cmp(&b.weight))
    });
    Ok(files)
}

/// The cache key of a set of networks, e.g. `lora:detail:0.5`; empty for none.
pub fn variant_key<'a>(networks: impl IntoIterator<Item = &'a NetworkFile>) -> String {
    networks
        .into_iter()
        .map(|n| format!("{}:{}:{}", n.kind.folder(), n.name, n.weight))
        .collect::<Vec<_>>()
        .join("|")
}

/// A float tensor from a safetensors file.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Reads every tensor of a `.safetensors` file as float32 (F32, F16 and BF16 are accepted).
pub fn read_safetensors(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    if path.extension().is_none_or(|e| e != "safetensors") {
        return Err(network_error(
            path,
            "only .safetensors networks can be loaded (the other formats are Python pickles)",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| network_error(path, e.to_string()))?;
    parse_safetensors(&bytes).map_err(|message| network_error(path, message))
}

fn parse_safetensors(bytes: &[u8]) -> std::result::Result<BTreeMap<String, Tensor>, String> {
    let header_len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .ok_or("shorter than a safetensors header")?;
    let header_end = usize::try_from(header_len)
        .ok()
        .and_then(|len| len.checked_add(8))
        .filter(|&end| end <= bytes.len())
        .ok_or("header length past the end of the file")?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..header_end]).map_err(|e| format!("header: {e}"))?;
    let data = &bytes[header_end..];
    let mut tensors = BTreeMap::new();
    for (name, info) in header {
        if name == "__metadata__" {
            continue;
        }
        let dtype = info["dtype"].as_str().unwrap_or_default();
        let shape: Vec<usize> = info["shape"]
            .as_array()
            .map(|dims| {
                dims.iter()
                    .filter_map(|d| d.as_u64().map(|d| d as usize))
                    .collect()
            })
            .ok_or_else(|| format!("{name}: no shape"))?;
        let offsets = info["data_offsets"]
            .as_array()
            .and_then(|o| Some((o.first()?.as_u64()? as usize, o.get(1)?.as_u64()? as usize)))
            .ok_or_else(|| format!("{name}: no data_offsets"))?;
        let raw = data
            .get(offsets.0..offsets.1)
            .ok_or_else(|| format!("{name}: data_offsets past the end of the file"))?;
        let values: Vec<f32> = match dtype {
            "F32" => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            "F16" => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            "BF16" => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => return Err(format!("{name}: unsupported dtype {other}")),
        };
        let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if count != Some(values.len()) {
            return Err(format!("{name}: shape {shape:?} does not match its data"));
        }
        tensors.insert(
            name,
            Tensor {
                shape,
                data: values,
            },
        );
    }
    Ok(tensors)
}

/// Node names as LoRA keys spell them: `/down_blocks.0/…/to_q/MatMul` → `down_blocks_0_…_to_q_MatMul`.
fn lora_node_key(node_name: &str) -> String {
    node_name.trim_start_matches('/').replace(['/', '.'], "_")
}

/// The initializers that `loras` (file tensors, weight) change in `weights`, for the keys with
/// `prefix` (`lora_unet_` or `lora_te_`), already blended. LoRA layers without a matching node
/// are skipped (logged), as onnx-web does.
pub fn lora_overrides(
    weights: &OnnxWeights,
    prefix: &str,
    loras: &[(&BTreeMap<String, Tensor>, f32)],
) -> Result<Vec<(String, F32Tensor)>> {
    let mut nodes = HashMap::new();
    for node in weights.nodes() {
        nodes.insert(lora_node_key(&node.name), node);
    }
    let mut blended: BTreeMap<String, F32Tensor> = BTreeMap::new();
    let mut skipped = 0usize;
    for (tensors, weight) in loras {
        for (key, down) in tensors.iter() {
            let Some(base) = key.strip_suffix(".lora_down.weight") else {
                continue;
            };
            let Some(layer) = base.strip_prefix(prefix) else {
                continue;
            };
            let Some(up) = tensors.get(&format!("{base}.lora_up.weight")) else {
                continue;
            };
            let found = ["Conv", "Gemm", "MatMul"].iter().find_map(|op| {
                let node = nodes.get(&format!("{layer}_{op}"))?;
                let initializer = node.inputs.get(1)?;
                weights
                    .has_initializer(initializer)
                    .then(|| (*op, initializer.clone()))
            });
            let Some((op, initializer)) = found else {
                skipped += 1;
                continue;
            };
            let rank = down.shape.first().copied().unwrap_or(0);
            if rank == 0 || up.shape.get(1) != Some(&rank) {
                skipped += 1;
                continue;
            }
            let alpha = tensors
                .get(&format!("{base}.alpha"))
                .and_then(|a| a.data.first().copied())
                .unwrap_or(rank as f32);
            let scale = weight * alpha / rank as f32;
            let target = match blended.get_mut(&initializer) {
                Some(target) => target,
                None => blended
                    .entry(initializer.clone())
                    .or_insert(weights.read_f32(&initializer)?),
            };
            if !add_lora_delta(target, op, up, down, rank, scale) {
                tracing::warn!("LoRA layer {base} does not fit {initializer}; skipped");
                skipped += 1;
            }
        }
    }
    if skipped > 0 {
        tracing::warn!("{skipped} LoRA layers with prefix {prefix} matched no model weight");
    }
    Ok(blended.into_iter().collect())
}

/// `target += scale · up@down`: `up` is `[out, rank, …]`, `down` `[rank, in, …]`. MatMul weights
/// are stored `[in, out]`; Conv and Gemm `[out, in, …]`. False when the shapes do not fit.
fn add_lora_delta(
    target: &mut F32Tensor,
    op: &str,
    up: &Tensor,
    down: &Tensor,
    rank: usize,
    scale: f32,
) -> bool {
    let out = up.shape[0];
    if up.data.len() != out * rank {
        return false; // a LoCon `lora_mid` or a non-1×1 up kernel: not supported here
    }
    let inner = down.data.len() / rank;
    if out * inner != target.data.len() {
        return false;
    }
    let transposed = op == "MatMul";
    if transposed && target.dims.first().map(|&d| d as usize) != Some(inner) {
        return false;
    }
    for o in 0..out {
        for i in 0..inner {
            let mut sum = 0f32;
            for r in 0..rank {
                sum += up.data[o * rank + r] * down.data[r * inner + i];
            }
            let index = if transposed {
                i * out + o
            } else {
                o * inner + i
            };
            target.data[index] += scale * sum;
        }
    }
    true
}

/// The (token, vector) pairs a Textual Inversion adds (§4.1): for `emb_params` [N, D] the tokens
/// `NAME-0 … NAME-{N-1}`, and `NAME` and `NAME-all` for their sum; for a one-key concept file
/// `NAME` and the key. Vectors are multiplied by `weight`.
pub fn inversion_tokens(path: &Path, name: &str, weight: f32) -> Result<Vec<(String, Vec<f32>)>> {
    let tensors = read_safetensors(path)?;
    let scaled = |v: &[f32]| v.iter().map(|x| x * weight).collect::<Vec<f32>>();
    if let Some(params) = tensors.get("emb_params") {
        let dim = params.shape.last().copied().unwrap_or(0);
        if dim == 0 || params.data.is_empty() {
            return Err(network_error(path, "emb_params is empty"));
        }
        let mut tokens = Vec::new();
        let mut sum = vec![0f32; dim];
        for (i, row) in params.data.chunks_exact(dim).enumerate() {
            let row = scaled(row);
            sum.iter_mut().zip(&row).for_each(|(s, x)| *s += x);
            tokens.push((format!("{name}-{i}"), row));
        }
        tokens.push((name.to_owned(), sum.clone()));
        tokens.push((format!("{name}-all"), sum));
        return Ok(tokens);
    }
    match tensors.iter().next() {
        Some((token, vector)) if tensors.len() == 1 => {
            let vector = scaled(&vector.data);
            let mut tokens = vec![(name.to_owned(), vector.clone())];
            if token != name {
                tokens.push((token.clone(), vector));
            }
            Ok(tokens)
        }
        _ => Err(network_error(
            path,
            "not a Textual Inversion: expected emb_params or a single concept token",
        )),
    }
}

/// The text encoder's token embedding table: the `Gather` over a 2-D initializer, preferring one
/// named like `token_embedding`.
pub fn token_table_name(weights: &OnnxWeights) -> Option<String> {
    let gathers: Vec<&String> = weights
        .nodes()
        .iter()
        .filter(|n| n.op_type == "Gather")
        .filter_map(|n| n.inputs.first())
        .filter(|i| weights.initializer_dims(i).is_some_and(|d| d.len() == 2))
        .collect();
    gathers
        .iter()
        .find(|i| i.contains("token_embedding"))
        .or_else(|| gathers.first())
        .map(|s| (*s).clone())
}

/// `table` with `rows` (token id, vector) written in, grown as needed.
pub fn write_token_rows(
    table: &mut F32Tensor,
    rows: &[(i64, Vec<f32>)],
) -> std::result::Result<(), String> {
    let dim = table.dims.get(1).copied().unwrap_or(0) as usize;
    for (id, vector) in rows {
        if vector.len() != dim {
            return Err(format!(
                "the inversion's vectors have {} values, the text encoder's tokens {dim}",
                vector.len()
            ));
        }
        let id = usize::try_from(*id).map_err(|_| "negative token id".to_owned())?;
        let needed = (id + 1) * dim;
        if table.data.len() < needed {
            table.data.resize(needed, 0.0);
            table.dims[0] = (id + 1) as i64;
        }
        table.data[id * dim..needed].copy_from_slice(vector);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_become_lora_keys() {
        assert_eq!(
            lora_node_key("/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul"),
            "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q_MatMul"
        );
    }

    #[test]
    fn matmul_delta_is_transposed_and_scaled() {
        // W stored [in=3, out=2]; up [2,1], down [1,3]: delta[o][i] = up[o]*down[i].
        let mut target = F32Tensor {
            dims: vec![3, 2],
            data: vec![0.0; 6],
        };
        let up = Tensor {
            shape: vec![2, 1],
            data: vec![1.0, 2.0],
        };
        let down = Tensor {
            shape: vec![1, 3],
            data: vec![1.0, 10.0, 100.0],
        };
        assert!(add_lora_delta(&mut target, "MatMul", &up, &down, 1, 0.5));
        assert_eq!(target.data, vec![0.5, 1.0, 5.0, 10.0, 50.0, 100.0]);
        let mut conv = F32Tensor {
            dims: vec![2, 3, 1, 1],
            data: vec![0.0; 6],
        };
        assert!(add_lora_delta(&mut conv, "Conv", &up, &down, 1, 1.0));
        assert_eq!(conv.data, vec![1.0, 10.0, 100.0, 2.0, 20.0, 200.0]);
        let mut wrong = F32Tensor {
            dims: vec![4, 2],
            data: vec![0.0; 8],
        };
        assert!(!add_lora_delta(&mut wrong, "MatMul", &up, &down, 1, 1.0));
    }

    #[test]
    fn broken_safetensors_are_errors() {
        assert!(parse_safetensors(&[]).is_err());
        assert!(parse_safetensors(&[255, 255, 255, 255, 255, 255, 255, 255]).is_err());
        let header = br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 8]);
        assert!(parse_safetensors(&bytes).is_err());
    }

    #[test]
    fn token_rows_grow_the_table() {
        let mut table = F32Tensor {
            dims: vec![2, 2],
            data: vec![1.0, 1.0, 2.0, 2.0],
        };
        write_token_rows(&mut table, &[(3, vec![7.0, 8.0])]).unwrap();
        assert_eq!(table.dims, vec![4, 2]);
        assert_eq!(table.data, vec![1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 7.0, 8.0]);
        assert!(write_token_rows(&mut table, &[(0, vec![1.0])]).is_err());
    }
}
