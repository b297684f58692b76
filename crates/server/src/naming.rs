//! Output and job names (§2.2): `{mode}_{seed}_{sha256}_{unix time}_{i}.{format}`, with the hash
//! fed exactly as onnx-web's `make_output_name`, and `sanitize_name` for client-sent keys.

use sha2::{Digest, Sha256};

/// One value fed to the name hash, encoded like onnx-web's `hash_value`.
#[derive(Clone, Debug, PartialEq)]
pub enum HashParam<'a> {
    /// `None`: contributes nothing.
    None,
    /// `struct.pack("!B")`.
    Bool(bool),
    /// `struct.pack("!f")`: big-endian float32.
    Float(f64),
    /// `struct.pack("!I")`: big-endian uint32.
    Int(u32),
    /// UTF-8 bytes.
    Str(&'a str),
}

impl HashParam<'_> {
    fn feed(&self, sha: &mut Sha256) {
        match self {
            Self::None => {}
            Self::Bool(value) => sha.update([u8::from(*value)]),
            Self::Float(value) => sha.update((*value as f32).to_be_bytes()),
            Self::Int(value) => sha.update(value.to_be_bytes()),
            Self::Str(value) => sha.update(value.as_bytes()),
        }
    }
}

/// The fields onnx-web hashes into an output name, in its order.
#[derive(Clone, Debug)]
pub struct NameFields<'a> {
    pub mode: &'a str,
    /// The resolved model path as the server joined it (onnx-web: `../models/<name>`).
    pub model_path: &'a str,
    pub pipeline: &'a str,
    pub scheduler: &'a str,
    /// The prompt after wildcards.
    pub prompt: &'a str,
    pub negative_prompt: Option<&'a str>,
    pub cfg: f64,
    pub seed: u32,
    pub steps: u32,
    pub eta: f64,
    pub batch: u32,
    pub width: u32,
    pub height: u32,
    /// Per-endpoint extras (img2img: strength; inpaint: border, filter, noise, fill, tile order).
    pub extras: Vec<HashParam<'a>>,
}

/// The 64 lowercase hex digits of the name hash.
pub fn output_hash(fields: &NameFields<'_>) -> String {
    let mut sha = Sha256::new();
    let base = [
        HashParam::Str(fields.mode),
        HashParam::Str(fields.model_path),
        HashParam::Str(fields.pipeline),
        HashParam::Str(fields.scheduler),
        HashParam::Str(fields.prompt),
        fields
            .negative_prompt
            .map_or(HashParam::None, HashParam::Str),
        HashParam::Float(fields.cfg),
        HashParam::Int(fields.seed),
        HashParam::Int(fields.steps),
        HashParam::Float(fields.eta),
        HashParam::Int(fields.batch),
        HashParam::Int(fields.width),
        HashParam::Int(fields.height),
    ];
    for param in base.iter().chain(&fields.extras) {
        param.feed(&mut sha);
    }
    hex::encode(sha.finalize())
}

/// `count` output names for one request, all sharing one hash and time.
pub fn make_output_names(
    fields: &NameFields<'_>,
    count: u32,
    unix_time: u64,
    format: &str,
) -> Vec<String> {
    let hash = output_hash(fields);
    (0..count.max(1))
        .map(|i| {
            format!(
                "{}_{}_{hash}_{unix_time}_{i}.{format}",
                fields.mode, fields.seed
            )
        })
        .collect()
}

/// Seconds since the Unix epoch, as onnx-web's `int(time())`.
pub fn unix_time_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// onnx-web's `sanitize_name`: keep only alphanumeric characters and `.`, `_`, `-`.
pub fn sanitize_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_fields() -> NameFields<'static> {
        NameFields {
            mode: "txt2img",
            model_path: "../models/stable-diffusion-onnx-v1-5",
            pipeline: "txt2img",
            scheduler: "euler-a",
            prompt: "an astronaut eating a hamburger",
            negative_prompt: None,
            cfg: 6.0,
            seed: 1234567890,
            steps: 25,
            eta: 0.0,
            batch: 1,
            width: 512,
            height: 512,
            extras: Vec::new(),
        }
    }

    #[test]
    fn spec_test_vector() {
        assert_eq!(
            output_hash(&vector_fields()),
            "460a7730a9fe515c018fb46f5b9dcc9524c2b21735fc4a9675e64d4954750c72"
        );
        assert_eq!(
            make_output_names(&vector_fields(), 2, 1704067200, "png"),
            vec![
                "txt2img_1234567890_460a7730a9fe515c018fb46f5b9dcc9524c2b21735fc4a9675e64d4954750c72_1704067200_0.png",
                "txt2img_1234567890_460a7730a9fe515c018fb46f5b9dcc9524c2b21735fc4a9675e64d4954750c72_1704067200_1.png",
            ]
        );
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = output_hash(&vector_fields());
        let mut changed = vector_fields();
        changed.negative_prompt = Some("");
        // An empty string feeds no bytes, like None.
        assert_eq!(output_hash(&changed), base);
        changed.negative_prompt = Some("blurry");
        assert_ne!(output_hash(&changed), base);
        let mut changed = vector_fields();
        changed.extras = vec![HashParam::Float(0.5)];
        assert_ne!(output_hash(&changed), base);
        let mut changed = vector_fields();
        changed.cfg = 6.000_000_01; // same float32
        assert_eq!(output_hash(&changed), base);
    }

    #[test]
    fn sanitize_keeps_safe_characters() {
        assert_eq!(
            sanitize_name("txt2img_1_ab_2_0.png"),
            "txt2img_1_ab_2_0.png"
        );
        assert_eq!(sanitize_name("../../etc/passwd"), "....etcpasswd");
        assert_eq!(sanitize_name("a b/c\\d%2F\0e"), "abcd2Fe");
        assert_eq!(sanitize_name(""), "");
    }
}
