//! Long and weighted prompts, as onnx-web's `lpw` pipeline encodes them: the prompt is split into
//! attention-weighted runs ([`crate::prompt_parser::parse_weighted`]), tokenized without
//! truncation and cut into chunks of 75 tokens, each encoded as its own `BOS … EOS` row of the
//! encoder's length (77); the chunks' embeddings are concatenated along the sequence. Weights
//! scale each token's embedding, then the whole is rescaled to keep its mean. The negative prompt
//! is padded with empty chunks to the same length.

use crate::error::Result;
use crate::prompt_parser::parse_weighted;
use crate::tokenizer::ClipTokenizer;

/// onnx-web's `max_embeddings_multiples`: at most this many chunks (4 × 75 tokens).
pub const MAX_CHUNKS: usize = 4;

/// Token ids and their weights, without BOS/EOS.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightedTokens {
    pub ids: Vec<i64>,
    pub weights: Vec<f32>,
}

impl WeightedTokens {
    /// Chunks needed for these tokens with `body` tokens per chunk (at least one).
    pub fn chunks(&self, body: usize) -> usize {
        self.ids.len().div_ceil(body.max(1)).max(1)
    }

    fn is_weighted(&self) -> bool {
        self.weights.iter().any(|&w| w != 1.0)
    }
}

/// Tokenizes `prompt` run by run with its attention weights.
pub fn weighted_tokens(tokenizer: &ClipTokenizer, prompt: &str) -> Result<WeightedTokens> {
    let mut tokens = WeightedTokens::default();
    for (text, weight) in parse_weighted(prompt) {
        if text.is_empty() {
            continue;
        }
        let ids = tokenizer.encode_unpadded(&text)?;
        // encode_unpadded adds BOS and EOS around the tokens.
        let inner = &ids[1..ids.len() - 1];
        tokens.ids.extend_from_slice(inner);
        tokens
            .weights
            .extend(std::iter::repeat_n(weight, inner.len()));
    }
    Ok(tokens)
}

/// The `chunks` rows of input ids for `tokens`: each `BOS, up to 75 tokens, EOS, padding`, and
/// the per-position weights (1 for BOS, EOS and padding). Tokens past `chunks` are cut.
pub fn chunk_rows(
    tokenizer: &ClipTokenizer,
    tokens: &WeightedTokens,
    chunks: usize,
) -> (Vec<i64>, Vec<f32>) {
    let length = tokenizer.max_length();
    let body = length - 2;
    let mut ids = Vec::with_capacity(chunks * length);
    let mut weights = Vec::with_capacity(chunks * length);
    for chunk in 0..chunks {
        let start = (chunk * body).min(tokens.ids.len());
        let end = ((chunk + 1) * body).min(tokens.ids.len());
        ids.push(tokenizer.bos_id());
        weights.push(1.0);
        ids.extend_from_slice(&tokens.ids[start..end]);
        weights.extend_from_slice(&tokens.weights[start..end]);
        ids.push(tokenizer.eos_id());
        ids.resize((chunk + 1) * length, tokenizer.pad_id());
        weights.resize((chunk + 1) * length, 1.0);
    }
    (ids, weights)
}

/// Scales each token's embedding (`dim` values) by its weight, then the whole by
/// old mean / new mean, as lpw's `get_weighted_text_embeddings` does. Unweighted prompts are
/// left untouched.
pub fn apply_weights(embeddings: &mut [f32], weights: &[f32], dim: usize) {
    if weights.iter().all(|&w| w == 1.0) {
        return;
    }
    let mean = |data: &[f32]| data.iter().map(|&x| f64::from(x)).sum::<f64>() / data.len() as f64;
    let before = mean(embeddings);
    for (token, &weight) in embeddings.chunks_exact_mut(dim).zip(weights) {
        token.iter_mut().for_each(|x| *x *= weight);
    }
    let after = mean(embeddings);
    if after != 0.0 && after.is_finite() {
        let ratio = (before / after) as f32;
        embeddings.iter_mut().for_each(|x| *x *= ratio);
    }
}

/// The number of chunks a prompt pair needs, capped at [`MAX_CHUNKS`].
pub fn chunk_count(tokenizer: &ClipTokenizer, prompts: &[&WeightedTokens]) -> usize {
    let body = tokenizer.max_length() - 2;
    prompts
        .iter()
        .map(|t| t.chunks(body))
        .max()
        .unwrap_or(1)
        .min(MAX_CHUNKS)
}

/// Whether any of the prompts needs weighting (then embeddings are rescaled).
pub fn any_weighted(prompts: &[&WeightedTokens]) -> bool {
    prompts.iter().any(|t| t.is_weighted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_scale_tokens_and_keep_the_mean() {
        let mut embeddings = vec![1.0, 2.0, 3.0, 4.0];
        apply_weights(&mut embeddings, &[2.0, 1.0], 2);
        // scaled: [2, 4, 3, 4], mean 3.25; old mean 2.5
        let ratio = 2.5 / 3.25;
        let expected: Vec<f32> = [2.0f32, 4.0, 3.0, 4.0].iter().map(|x| x * ratio).collect();
        for (a, b) in embeddings.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6);
        }
        let mut same = vec![1.0, 2.0];
        apply_weights(&mut same, &[1.0], 2);
        assert_eq!(same, vec![1.0, 2.0]);
    }
}
