//! Prompt encoding for classifier-free guidance.

use crate::error::Result;
use crate::text_encoder::{Embeddings, TextEncoder};
use crate::tokenizer::ClipTokenizer;

/// Encodes the prompt (and, with guidance, the negative prompt) for a batch, in the layout the
/// guided UNet call expects: `[negative × batch, prompt × batch]` with guidance, else
/// `[prompt × batch]`. A missing negative prompt encodes the empty string, as diffusers does.
pub fn encode_prompt(
    tokenizer: &ClipTokenizer,
    encoder: &TextEncoder,
    prompt: &str,
    negative_prompt: Option<&str>,
    batch: usize,
    guidance: bool,
) -> Result<Embeddings> {
    let mut ids = Vec::new();
    if guidance {
        ids.extend(tokenizer.encode_padded(negative_prompt.unwrap_or(""))?);
    }
    ids.extend(tokenizer.encode_padded(prompt)?);
    let rows = if guidance { 2 } else { 1 };
    let encoded = encoder.encode(&ids, rows)?;
    let [_, sequence, dim] = encoded.shape;
    let row = sequence * dim;
    // Encode each distinct prompt once, then repeat its rows for the batch.
    let mut data = Vec::with_capacity(rows * batch * row);
    for r in 0..rows {
        for _ in 0..batch {
            data.extend_from_slice(&encoded.data[r * row..(r + 1) * row]);
        }
    }
    Ok(Embeddings {
        data,
        shape: [rows * batch, sequence, dim],
    })
}
