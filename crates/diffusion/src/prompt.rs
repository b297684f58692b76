//! Prompt encoding for classifier-free guidance.

use crate::error::Result;
use crate::long_prompt::{any_weighted, apply_weights, chunk_count, chunk_rows, weighted_tokens};
use crate::prompt_parser::{expand_intervals, parse_prompt};
use crate::text_encoder::{Embeddings, TextEncoder};
use crate::tokenizer::ClipTokenizer;

/// The text a prompt encodes: its `<…>` tokens (networks, regions, …) removed and interval
/// ranges expanded.
pub fn prompt_text(prompt: &str) -> String {
    expand_intervals(&parse_prompt(prompt).text)
}

/// Encodes the prompt (and, with guidance, the negative prompt) for a batch, in the layout the
/// guided UNet call expects: `[negative × batch, prompt × batch]` with guidance, else
/// `[prompt × batch]`. A missing negative prompt encodes the empty string, as diffusers does.
/// Prompts longer than the encoder's 77 tokens and `(word:1.2)` weights are encoded as onnx-web's
/// lpw pipeline does ([`crate::long_prompt`]); a short unweighted prompt gives exactly the
/// plain 77-token encoding.
pub fn encode_prompt(
    tokenizer: &ClipTokenizer,
    encoder: &TextEncoder,
    prompt: &str,
    negative_prompt: Option<&str>,
    batch: usize,
    guidance: bool,
) -> Result<Embeddings> {
    let positive = weighted_tokens(tokenizer, &prompt_text(prompt))?;
    let negative = if guidance {
        Some(weighted_tokens(
            tokenizer,
            &prompt_text(negative_prompt.unwrap_or("")),
        )?)
    } else {
        None
    };
    let prompts: Vec<&_> = negative.iter().chain([&positive]).collect();
    let chunks = chunk_count(tokenizer, &prompts);
    let weighted = any_weighted(&prompts);

    let mut ids = Vec::new();
    let mut weights = Vec::new();
    for tokens in &prompts {
        let (row_ids, row_weights) = chunk_rows(tokenizer, tokens, chunks);
        ids.extend(row_ids);
        weights.push(row_weights);
    }
    let rows = prompts.len();
    // One encoder row per chunk; a prompt's chunks are consecutive rows, so its embedding is
    // their concatenation along the sequence.
    let encoded = encoder.encode(&ids, rows * chunks)?;
    let [_, chunk_length, dim] = encoded.shape;
    let sequence = chunk_length * chunks;
    let row = sequence * dim;
    let mut data = Vec::with_capacity(rows * batch * row);
    for (r, row_weights) in weights.iter().enumerate() {
        let mut prompt_embedding = encoded.data[r * row..(r + 1) * row].to_vec();
        if weighted {
            apply_weights(&mut prompt_embedding, row_weights, dim);
        }
        // Encode each distinct prompt once, then repeat its rows for the batch.
        for _ in 0..batch {
            data.extend_from_slice(&prompt_embedding);
        }
    }
    Ok(Embeddings {
        data,
        shape: [rows * batch, sequence, dim],
    })
}
