//! The CLIP tokenizer, as diffusers' `CLIPTokenizer` uses it for Stable Diffusion.
//!
//! Real SD model folders ship only `tokenizer/vocab.json` + `merges.txt` (plus
//! `tokenizer_config.json` and `special_tokens_map.json`), so the `tokenizers` pipeline is built
//! here with the recipe of transformers' `CLIPConverter`:
//! - BPE with `end_of_word_suffix = "</w>"` and unk `<|endoftext|>`;
//! - normalizer NFC + Replace(`\s+` → " ") + Lowercase;
//! - pre-tokenizer Split on the CLIP regex (inverted, matches kept) + ByteLevel (no prefix space);
//! - `<|startoftext|> $A <|endoftext|>` template.
//!
//! A `tokenizer.json`, when present, is used instead. Either way the special tokens (BOS, EOS,
//! padding) are added here, not by the post-processor, so both sources give the same layout.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as NormalizerSequence, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

/// The CLIP pre-tokenizer regex (openai/CLIP `simple_tokenizer.py`, as transformers ports it).
const CLIP_SPLIT_REGEX: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";
/// The slow `CLIPTokenizer` reads at most this many merges (`lines[1:49152-256-2+1]`).
const MAX_MERGES: usize = 49152 - 256 - 2;
const DEFAULT_MAX_LENGTH: usize = 77;
const DEFAULT_BOS: &str = "<|startoftext|>";
const DEFAULT_EOS: &str = "<|endoftext|>";
/// `model_max_length` values above this are transformers' "no limit" sentinel (1e30), not a
/// text-encoder length; such configs fall back to 77.
const MAX_SANE_LENGTH: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("tokenizer folder {dir} has neither tokenizer.json nor vocab.json + merges.txt")]
    MissingFiles { dir: PathBuf },
    #[error("cannot read tokenizer file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tokenizer file {path} is invalid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("tokenizer in {dir}: {reason}")]
    Config { dir: PathBuf, reason: String },
    #[error("cannot tokenize the prompt: {0}")]
    Encode(String),
}

/// A CLIP tokenizer producing the `input_ids` of the SD text encoder.
#[derive(Clone)]
pub struct ClipTokenizer {
    tokenizer: Tokenizer,
    max_length: usize,
    bos: i64,
    eos: i64,
    pad: i64,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipTokenizer")
            .field("max_length", &self.max_length)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("pad", &self.pad)
            .finish_non_exhaustive()
    }
}

impl ClipTokenizer {
    /// Loads the tokenizer of a model's `tokenizer/` folder.
    pub fn from_dir(dir: &Path) -> Result<Self, TokenizerError> {
        let settings = Settings::read(dir)?;

        let json_path = dir.join("tokenizer.json");
        let mut tokenizer = if json_path.is_file() {
            Tokenizer::from_file(&json_path).map_err(|e| invalid(&json_path, e))?
        } else {
            let vocab_path = dir.join("vocab.json");
            let merges_path = dir.join("merges.txt");
            if !vocab_path.is_file() && !merges_path.is_file() {
                return Err(TokenizerError::MissingFiles {
                    dir: dir.to_path_buf(),
                });
            }
            build_clip_bpe(&vocab_path, &merges_path, &settings)?
        };
        // Truncation and padding are done here, exactly as CLIPTokenizer does them.
        tokenizer
            .with_truncation(None)
            .map_err(|e| config(dir, format!("cannot disable truncation: {e}")))?;
        tokenizer.with_padding(None);

        let id_of = |token: &str, role: &str| -> Result<i64, TokenizerError> {
            tokenizer.token_to_id(token).map(i64::from).ok_or_else(|| {
                config(
                    dir,
                    format!("the {role} token {token:?} is not in the vocabulary"),
                )
            })
        };
        let bos = id_of(&settings.bos, "start (bos)")?;
        let eos = id_of(&settings.eos, "end (eos)")?;
        let pad = id_of(&settings.pad, "padding")?;

        Ok(Self {
            tokenizer,
            max_length: settings.max_length,
            bos,
            eos,
            pad,
        })
    }

    /// `input_ids` as `CLIPTokenizer(padding="max_length", max_length=77, truncation=True)` gives
    /// them: BOS, the tokens, EOS, then padding up to [`Self::max_length`]. A truncated prompt
    /// keeps EOS as its last token.
    pub fn encode_padded(&self, text: &str) -> Result<Vec<i64>, TokenizerError> {
        let tokens = self.tokens(text)?;
        let keep = tokens.len().min(self.max_length - 2);
        let mut ids = Vec::with_capacity(self.max_length);
        ids.push(self.bos);
        ids.extend(tokens[..keep].iter().map(|&id| i64::from(id)));
        ids.push(self.eos);
        ids.resize(self.max_length, self.pad);
        Ok(ids)
    }

    /// All the `input_ids` of a prompt, BOS..EOS, without truncation or padding (for chunking
    /// long prompts).
    pub fn encode_unpadded(&self, text: &str) -> Result<Vec<i64>, TokenizerError> {
        let tokens = self.tokens(text)?;
        let mut ids = Vec::with_capacity(tokens.len() + 2);
        ids.push(self.bos);
        ids.extend(tokens.iter().map(|&id| i64::from(id)));
        ids.push(self.eos);
        Ok(ids)
    }

    /// A copy that also knows `tokens` (Textual Inversion), and the id of each token.
    pub fn with_added_tokens(&self, tokens: &[&str]) -> Result<(Self, Vec<i64>), TokenizerError> {
        let mut copy = self.clone();
        let added: Vec<AddedToken> = tokens
            .iter()
            .map(|t| AddedToken::from((*t).to_owned(), false))
            .collect();
        copy.tokenizer
            .add_tokens(added)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        let ids = tokens
            .iter()
            .map(|t| {
                copy.tokenizer
                    .token_to_id(t)
                    .map(i64::from)
                    .ok_or_else(|| TokenizerError::Encode(format!("cannot add the token {t:?}")))
            })
            .collect::<Result<_, _>>()?;
        Ok((copy, ids))
    }

    /// The text encoder's sequence length (`model_max_length`, 77 for SD).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    pub fn bos_id(&self) -> i64 {
        self.bos
    }

    pub fn eos_id(&self) -> i64 {
        self.eos
    }

    pub fn pad_id(&self) -> i64 {
        self.pad
    }

    /// The token ids of the text, without any special tokens around them.
    fn tokens(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }
}

/// What `tokenizer_config.json` and `special_tokens_map.json` say (the latter wins, as in
/// transformers).
struct Settings {
    max_length: usize,
    bos: String,
    eos: String,
    pad: String,
    unk: String,
}

impl Settings {
    fn read(dir: &Path) -> Result<Self, TokenizerError> {
        let config = read_json_object(&dir.join("tokenizer_config.json"))?;
        let special = read_json_object(&dir.join("special_tokens_map.json"))?;

        let token = |key: &str| -> Option<String> {
            special
                .as_ref()
                .and_then(|m| token_content(m.get(key)?))
                .or_else(|| config.as_ref().and_then(|m| token_content(m.get(key)?)))
        };
        let bos = token("bos_token").unwrap_or_else(|| DEFAULT_BOS.to_string());
        let eos = token("eos_token").unwrap_or_else(|| DEFAULT_EOS.to_string());
        let unk = token("unk_token").unwrap_or_else(|| DEFAULT_EOS.to_string());
        // CLIPTokenizer's default pad token is <|endoftext|>.
        let pad = token("pad_token").unwrap_or_else(|| DEFAULT_EOS.to_string());

        let config_path = dir.join("tokenizer_config.json");
        let max_length = match config.as_ref().and_then(|m| m.get("model_max_length")) {
            None | Some(Value::Null) => DEFAULT_MAX_LENGTH,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(n) if n > MAX_SANE_LENGTH => DEFAULT_MAX_LENGTH,
                Some(n) if n >= 2 => n as usize,
                Some(n) => {
                    return Err(TokenizerError::Invalid {
                        path: config_path,
                        reason: format!(
                            "model_max_length {n} leaves no room for the start and end tokens"
                        ),
                    })
                }
                // Floats: transformers writes 1e30 for "unlimited".
                None if n.as_f64().is_some_and(|f| f > MAX_SANE_LENGTH as f64) => {
                    DEFAULT_MAX_LENGTH
                }
                None => {
                    return Err(TokenizerError::Invalid {
                        path: config_path,
                        reason: format!("model_max_length {n} is not a positive integer"),
                    })
                }
            },
            Some(other) => {
                return Err(TokenizerError::Invalid {
                    path: config_path,
                    reason: format!("model_max_length {other} is not a number"),
                })
            }
        };

        Ok(Self {
            max_length,
            bos,
            eos,
            pad,
            unk,
        })
    }
}

/// A special token is written either as a string or as an `AddedToken` object with `content`.
fn token_content(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("content")?.as_str().map(str::to_string),
        _ => None,
    }
}

/// Reads an optional JSON object file: `None` when it does not exist.
fn read_json_object(path: &Path) -> Result<Option<Map<String, Value>>, TokenizerError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(TokenizerError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(invalid(path, "not a JSON object")),
        Err(e) => Err(invalid(path, e)),
    }
}

fn read_text(path: &Path) -> Result<String, TokenizerError> {
    fs::read_to_string(path).map_err(|source| TokenizerError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, reason: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Invalid {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn config(dir: &Path, reason: String) -> TokenizerError {
    TokenizerError::Config {
        dir: dir.to_path_buf(),
        reason,
    }
}

/// Builds the CLIP BPE pipeline from `vocab.json` + `merges.txt` (transformers' CLIPConverter).
fn build_clip_bpe(
    vocab_path: &Path,
    merges_path: &Path,
    settings: &Settings,
) -> Result<Tokenizer, TokenizerError> {
    let vocab: HashMap<String, u32> =
        serde_json::from_str(&read_text(vocab_path)?).map_err(|e| {
            invalid(
                vocab_path,
                format!("expected a JSON object of token → id: {e}"),
            )
        })?;
    if vocab.is_empty() {
        return Err(invalid(vocab_path, "the vocabulary is empty"));
    }

    // As the slow CLIPTokenizer: skip the "#version" header, at most MAX_MERGES merges.
    let merges_text = read_text(merges_path)?;
    let mut merges = Vec::new();
    for (number, line) in merges_text
        .trim()
        .lines()
        .enumerate()
        .skip(1)
        .take(MAX_MERGES)
    {
        let line = line.trim_end_matches('\r');
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() => {
                for part in [a, b] {
                    if !vocab.contains_key(part) {
                        return Err(invalid(
                            merges_path,
                            format!(
                                "line {}: {part:?} is not in {}",
                                number + 1,
                                vocab_path.display()
                            ),
                        ));
                    }
                }
                merges.push(Value::Array(vec![a.into(), b.into()]));
            }
            _ => {
                return Err(invalid(
                    merges_path,
                    format!(
                        "line {}: expected two tokens separated by one space: {line:?}",
                        number + 1
                    ),
                ))
            }
        }
    }

    if !vocab.contains_key(&settings.unk) {
        return Err(invalid(
            vocab_path,
            format!(
                "the unknown token {:?} is not in the vocabulary",
                settings.unk
            ),
        ));
    }
    let bpe_json = serde_json::json!({
        "vocab": vocab,
        "merges": merges,
        "continuing_subword_prefix": "",
        "end_of_word_suffix": "</w>",
        "fuse_unk": false,
        "unk_token": settings.unk,
    });
    let bpe: BPE = serde_json::from_value(bpe_json)
        .map_err(|e| invalid(merges_path, format!("cannot build the BPE model: {e}")))?;

    let normalizer = NormalizerSequence::new(vec![
        NFC.into(),
        Replace::new(
            tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()),
            " ",
        )
        .map_err(|e| invalid(vocab_path, format!("normalizer: {e}")))?
        .into(),
        Lowercase.into(),
    ]);
    let split = Split::new(
        SplitPattern::Regex(CLIP_SPLIT_REGEX.into()),
        SplitDelimiterBehavior::Removed,
        true,
    )
    .map_err(|e| invalid(vocab_path, format!("pre-tokenizer: {e}")))?;
    let pre_tokenizer =
        PreTokenizerSequence::new(vec![split.into(), ByteLevel::new(false, true, true).into()]);

    let id = |token: &str| {
        vocab
            .get(token)
            .copied()
            .ok_or_else(|| invalid(vocab_path, format!("{token:?} is not in the vocabulary")))
    };
    let (bos_id, eos_id) = (id(&settings.bos)?, id(&settings.eos)?);
    let post_processor = TemplateProcessing::builder()
        .try_single(format!("{} $A {}", settings.bos, settings.eos))
        .map_err(|e| invalid(vocab_path, format!("template: {e}")))?
        .special_tokens(vec![
            (settings.bos.clone(), bos_id),
            (settings.eos.clone(), eos_id),
        ])
        .build()
        .map_err(|e| invalid(vocab_path, format!("template: {e}")))?;

    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(|e| invalid(vocab_path, format!("normalizer: {e}")))?;
    tokenizer
        .with_pre_tokenizer(Some(pre_tokenizer))
        .with_post_processor(Some(post_processor))
        .with_decoder(Some(ByteLevelDecoder::default()));
    // Special tokens typed in a prompt map to their ids, as with transformers' tokenizers. They
    // are matched after normalisation ("normalized": true in HF's CLIP tokenizer.json), so
    // "<|ENDOFTEXT|>" counts too.
    let mut specials = vec![settings.bos.clone(), settings.eos.clone()];
    for token in [&settings.pad, &settings.unk] {
        if !specials.contains(token) {
            specials.push(token.clone());
        }
    }
    tokenizer
        .add_special_tokens(
            specials
                .into_iter()
                .map(|t| AddedToken::from(t, true).normalized(true)),
        )
        .map_err(|e| invalid(vocab_path, format!("special tokens: {e}")))?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAD: i64 = 49407;

    fn models_dir() -> PathBuf {
        match std::env::var_os("ONNX_WEB_TEST_MODELS") {
            Some(dir) => PathBuf::from(dir),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        }
    }

    fn tokenizer() -> ClipTokenizer {
        let dir = models_dir().join("diffusion-tiny-demo/tokenizer");
        assert!(
            dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file(),
            "the test tokenizer {} is missing: run scripts/setup.sh to generate the test models \
             (or point ONNX_WEB_TEST_MODELS at a models folder)",
            dir.display()
        );
        ClipTokenizer::from_dir(&dir).expect("load the test tokenizer")
    }

    fn padded(ids: &[i64]) -> Vec<i64> {
        let mut v = ids.to_vec();
        v.resize(77, PAD);
        v
    }

    #[test]
    fn reads_the_sd_settings() {
        let tok = tokenizer();
        assert_eq!(tok.max_length(), 77);
        assert_eq!(
            (tok.bos_id(), tok.eos_id(), tok.pad_id()),
            (49406, 49407, 49407)
        );
    }

    #[test]
    fn astronaut_prompt_matches_clip_tokenizer() {
        let tok = tokenizer();
        let ids = [
            49406, 320, 1125, 539, 550, 18376, 6765, 320, 4558, 525, 7496, 49407,
        ];
        let text = "a photo of an astronaut riding a horse on mars";
        assert_eq!(tok.encode_padded(text).unwrap(), padded(&ids));
        assert_eq!(tok.encode_unpadded(text).unwrap(), ids);
    }

    #[test]
    fn cat_prompt_matches_clip_tokenizer() {
        let tok = tokenizer();
        let ids = [49406, 320, 1125, 539, 320, 2368, 49407];
        assert_eq!(tok.encode_padded("a photo of a cat").unwrap(), padded(&ids));
        assert_eq!(tok.encode_unpadded("a photo of a cat").unwrap(), ids);
    }

    #[test]
    fn empty_prompt_is_start_end_and_padding() {
        let tok = tokenizer();
        assert_eq!(tok.encode_padded("").unwrap(), padded(&[49406, 49407]));
        assert_eq!(tok.encode_unpadded("").unwrap(), vec![49406, 49407]);
        assert_eq!(
            tok.encode_padded(" \t\n ").unwrap(),
            padded(&[49406, 49407])
        );
    }

    #[test]
    fn long_prompt_truncates_to_77_with_eos_last() {
        let tok = tokenizer();
        let words: Vec<&str> = [
            "red", "cube", "blue", "sky", "green", "tree", "tall", "cat", "dog", "sun",
        ]
        .iter()
        .cycle()
        .take(100)
        .copied()
        .collect();
        let text = words.join(" ");
        let full = tok.encode_unpadded(&text).unwrap();
        assert_eq!(full.len(), 102, "each of these words is one token");
        let ids = tok.encode_padded(&text).unwrap();
        assert_eq!(ids.len(), 77);
        assert_eq!(ids[0], 49406);
        assert_eq!(ids[76], 49407);
        assert_eq!(&ids[..76], &full[..76]);
        // Exactly 75 tokens fit without truncation.
        let text75 = words[..75].join(" ");
        let ids75 = tok.encode_padded(&text75).unwrap();
        assert_eq!(ids75, tok.encode_unpadded(&text75).unwrap());
    }

    #[test]
    fn case_and_whitespace_are_normalised() {
        let tok = tokenizer();
        let expected = tok.encode_padded("a cat").unwrap();
        assert_eq!(&expected[..4], &[49406, 320, 2368, 49407]);
        assert_eq!(tok.encode_padded("A  Cat").unwrap(), expected);
        assert_eq!(tok.encode_padded("  a\t\nCAT  ").unwrap(), expected);
    }

    #[test]
    fn punctuation_and_special_tokens() {
        let tok = tokenizer();
        // "cat," → "cat</w>" + ",</w>"; digits split one by one.
        assert_eq!(
            tok.encode_unpadded("cat,").unwrap(),
            vec![49406, 2368, 267, 49407]
        );
        let digits = tok.encode_unpadded("42").unwrap();
        assert_eq!(digits, vec![49406, 275, 273, 49407]);
        // A special token typed in the prompt maps to its id.
        for text in ["cat<|endoftext|>", "CAT<|ENDOFTEXT|>"] {
            assert_eq!(
                tok.encode_unpadded(text).unwrap(),
                vec![49406, 2368, 49407, 49407]
            );
        }
    }

    #[test]
    fn missing_folder_names_the_folder() {
        let dir = std::env::temp_dir().join("onnx-web-no-such-tokenizer");
        let err = ClipTokenizer::from_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("onnx-web-no-such-tokenizer"), "{err}");
        assert!(err.contains("vocab.json"), "{err}");
    }

    #[test]
    fn broken_merges_names_the_file() {
        let dir =
            std::env::temp_dir().join(format!("onnx-web-bad-tokenizer-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("vocab.json"),
            r#"{"a": 0, "b": 1, "ab</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}"#,
        )
        .unwrap();
        fs::write(dir.join("merges.txt"), "#version: 0.2\na b c\n").unwrap();
        let err = ClipTokenizer::from_dir(&dir).unwrap_err().to_string();
        assert!(
            err.contains("merges.txt") && err.contains("line 2"),
            "{err}"
        );

        fs::write(dir.join("vocab.json"), "[1, 2]").unwrap();
        let err = ClipTokenizer::from_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("vocab.json"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
