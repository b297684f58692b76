//! The body of `POST /api/chain` (§1.7): JSON or YAML text, checked against onnx-web's chain
//! schema (`api/schemas/chain.yaml`) and against each stage type's own parameters. Errors name
//! the stage (index, name and type) and the field, so a client can fix its pipeline.
//!
//! Beyond onnx-web's schema: the list parameters `source_urls`, `source_keys` and `order` may be
//! arrays of scalars (onnx-web's schema rejects every array, which leaves `source-url`,
//! `source-s3` and `blend-grid`'s order unusable), or a single string / number.

use serde_json::{Map, Value};

use crate::stages::{self, ParamType};

/// The largest body accepted, in bytes (a chain is a few kilobytes of text).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The most stages one chain may have.
pub const MAX_STAGES: usize = 256;

/// A validated chain pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainRequest {
    /// `defaults`: the base parameters of the response (model, prompt, size, ...). Nested
    /// `params`/`device` objects are kept as onnx-web reads them.
    pub defaults: Map<String, Value>,
    /// The top-level `platform`, which onnx-web accepts and ignores.
    pub platform: Option<String>,
    pub stages: Vec<StageRequest>,
}

/// One stage: its name, registered type and parameters (scalars, or lists for list params).
#[derive(Clone, Debug, PartialEq)]
pub struct StageRequest {
    pub name: String,
    pub kind: String,
    pub params: Map<String, Value>,
}

impl StageRequest {
    /// A parameter as text, the way a query string would carry it (`null` is absent).
    pub fn text(&self, key: &str) -> Option<String> {
        scalar_text(self.params.get(key)?)
    }
}

/// A scalar parameter as query text: strings as they are, booleans as `true`/`false`, numbers
/// in JSON notation; `None` for `null` and lists.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Why a chain was refused: the stage (when one is at fault), the field and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {message}", stage_prefix(.stage))]
pub struct ChainError {
    /// Index, name and type of the stage at fault.
    pub stage: Option<StageRef>,
    /// The field, as a path (`params.strength`, `stages`, `defaults`).
    pub field: String,
    pub message: String,
}

/// Which stage an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageRef {
    pub index: usize,
    pub name: String,
    pub kind: String,
}

fn stage_prefix(stage: &Option<StageRef>) -> String {
    match stage {
        Some(s) if s.kind.is_empty() => format!("stage {} {:?}: ", s.index, s.name),
        Some(s) => format!("stage {} {:?} ({}): ", s.index, s.name, s.kind),
        None => String::new(),
    }
}

impl ChainError {
    pub fn body(field: &str, message: impl Into<String>) -> Self {
        Self {
            stage: None,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn stage(stage: StageRef, field: &str, message: impl Into<String>) -> Self {
        Self {
            stage: Some(stage),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Parses and validates a chain body. `content_type` picks JSON for `application/json` (and
/// `+json` types); any other type (or none) accepts JSON or YAML. Pure: no I/O, no models.
pub fn parse_chain(bytes: &[u8], content_type: Option<&str>) -> Result<ChainRequest, ChainError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ChainError::body("chain", "chain pipeline must have a body"));
    }
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ChainError::body(
            "chain",
            format!("the pipeline is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ChainError::body("chain", "the pipeline is not valid UTF-8 text"))?;
    let json_only = content_type.is_some_and(|t| {
        let t = t
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        t == "application/json" || t.ends_with("+json")
    });
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) if json_only => {
            return Err(ChainError::body("chain", format!("invalid JSON: {error}")))
        }
        Err(_) => serde_yaml::from_str(text).map_err(|error| {
            ChainError::body(
                "chain",
                format!("neither valid JSON nor valid YAML: {error}"),
            )
        })?,
    };
    validate(value)
}

fn validate(value: Value) -> Result<ChainRequest, ChainError> {
    let Value::Object(mut top) = value else {
        return Err(ChainError::body(
            "chain",
            format!("must be an object, got {}", type_name(&value)),
        ));
    };
    if let Some(key) = top
        .keys()
        .find(|k| !["defaults", "platform", "stages"].contains(&k.as_str()))
    {
        return Err(ChainError::body(
            key,
            "unknown top-level key; allowed: defaults, platform, stages",
        ));
    }
    let defaults = match top.remove("defaults") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => {
            for key in ["txt2img", "img2img", "params", "device"] {
                if let Some(inner) = map.get(key) {
                    if !inner.is_object() {
                        return Err(ChainError::body(
                            &format!("defaults.{key}"),
                            format!("must be an object, got {}", type_name(inner)),
                        ));
                    }
                }
            }
            map
        }
        Some(other) => {
            return Err(ChainError::body(
                "defaults",
                format!("must be an object, got {}", type_name(&other)),
            ))
        }
    };
    let platform = match top.remove("platform") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(ChainError::body(
                "platform",
                format!("must be a string, got {}", type_name(&other)),
            ))
        }
    };
    let stages = match top.remove("stages") {
        Some(Value::Array(items)) => items,
        None => return Err(ChainError::body("stages", "is required")),
        Some(other) => {
            return Err(ChainError::body(
                "stages",
                format!("must be an array, got {}", type_name(&other)),
            ))
        }
    };
    if stages.is_empty() {
        return Err(ChainError::body("stages", "must have at least one stage"));
    }
    if stages.len() > MAX_STAGES {
        return Err(ChainError::body(
            "stages",
            format!("at most {MAX_STAGES} stages, got {}", stages.len()),
        ));
    }
    let stages = stages
        .into_iter()
        .enumerate()
        .map(|(index, stage)| validate_stage(index, stage))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChainRequest {
        defaults,
        platform,
        stages,
    })
}

fn validate_stage(index: usize, value: Value) -> Result<StageRequest, ChainError> {
    let mut at = StageRef {
        index,
        name: String::new(),
        kind: String::new(),
    };
    let Value::Object(mut stage) = value else {
        return Err(ChainError::stage(
            at,
            "stage",
            format!("must be an object, got {}", type_name(&value)),
        ));
    };
    let string_field =
        |stage: &mut Map<String, Value>, key: &str, at: &StageRef| match stage.remove(key) {
            Some(Value::String(s)) => Ok(s),
            None => Err(ChainError::stage(at.clone(), key, "is required")),
            Some(other) => Err(ChainError::stage(
                at.clone(),
                key,
                format!("must be a string, got {}", type_name(&other)),
            )),
        };
    at.name = string_field(&mut stage, "name", &at)?;
    let kind = string_field(&mut stage, "type", &at)?;
    let Some(info) = stages::find(&kind) else {
        return Err(ChainError::stage(
            at,
            "type",
            format!(
                "unknown stage type {kind:?}; available: {}",
                stages::NAMES.join(", ")
            ),
        ));
    };
    at.kind = kind.clone();
    let params = match stage.remove("params") {
        Some(Value::Object(map)) => map,
        None => return Err(ChainError::stage(at, "params", "is required")),
        Some(other) => {
            return Err(ChainError::stage(
                at,
                "params",
                format!("must be an object, got {}", type_name(&other)),
            ))
        }
    };
    for (key, value) in &params {
        let field = format!("params.{key}");
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_')
        {
            return Err(ChainError::stage(
                at,
                &field,
                "parameter names may only have letters, '-' and '_'",
            ));
        }
        let list_param = LIST_PARAMS.contains(&key.as_str());
        match value {
            Value::Array(items) if list_param => {
                if let Some(bad) = items.iter().find(|i| i.is_array() || i.is_object()) {
                    return Err(ChainError::stage(
                        at,
                        &field,
                        format!("list items must be scalars, got {}", type_name(bad)),
                    ));
                }
            }
            Value::Array(_) | Value::Object(_) => {
                return Err(ChainError::stage(
                    at,
                    &field,
                    format!(
                        "must be a boolean, number, string or null, got {}",
                        type_name(value)
                    ),
                ))
            }
            _ => {}
        }
    }
    check_common(&params).map_err(|(key, message)| {
        ChainError::stage(at.clone(), &format!("params.{key}"), message)
    })?;
    for spec in info.params() {
        let field = format!("params.{}", spec.name);
        match params.get(spec.name) {
            None | Some(Value::Null) if spec.required => {
                return Err(ChainError::stage(
                    at,
                    &field,
                    format!("is required by {kind}"),
                ))
            }
            None | Some(Value::Null) => {}
            Some(value) => check_type(&spec.ty, value)
                .map_err(|message| ChainError::stage(at.clone(), &field, message))?,
        }
    }
    Ok(StageRequest {
        name: at.name,
        kind,
        params,
    })
}

/// Parameters that may be lists.
const LIST_PARAMS: &[&str] = &["source_urls", "source_keys", "order"];

/// The stage parameters every stage has: `tiles` (a pixel count or a size name), `outscale`,
/// `overlap` and `tile_order`.
fn check_common(params: &Map<String, Value>) -> Result<(), (String, String)> {
    if let Some(value) = params.get("tiles").filter(|v| !v.is_null()) {
        crate::plan::parse_tile_size(value).map_err(|m| ("tiles".to_owned(), m))?;
    }
    let checks: [(&str, ParamType); 3] = [
        ("outscale", ParamType::Int { min: 1, max: 4 }),
        ("overlap", ParamType::Number { min: 0.0, max: 0.9 }),
        ("tile_order", ParamType::Choice(&["spiral", "grid"])),
    ];
    for (key, ty) in checks {
        if let Some(value) = params.get(key).filter(|v| !v.is_null()) {
            check_type(&ty, value).map_err(|m| (key.to_owned(), m))?;
        }
    }
    Ok(())
}

/// Checks one value against its declared type (numbers may also come as numeric strings, as
/// they would in a query string).
pub fn check_type(ty: &ParamType, value: &Value) -> Result<(), String> {
    match ty {
        ParamType::Number { min, max } => {
            let n = number(value).ok_or_else(|| expected("a number", value))?;
            if !(n >= *min && n <= *max) {
                return Err(format!("must be between {min} and {max}, got {n}"));
            }
        }
        ParamType::Int { min, max } => {
            let n = number(value).ok_or_else(|| expected("an integer", value))?;
            if n.fract() != 0.0 {
                return Err(expected("an integer", value));
            }
            if !(n >= *min as f64 && n <= *max as f64) {
                return Err(format!("must be between {min} and {max}, got {n}"));
            }
        }
        ParamType::Text => {
            if !value.is_string() {
                return Err(expected("a string", value));
            }
        }
        ParamType::Choice(choices) => {
            let text = value.as_str().ok_or_else(|| expected("a string", value))?;
            if !choices.contains(&text) {
                return Err(format!(
                    "unknown value {text:?}; available: {}",
                    choices.join(", ")
                ));
            }
        }
        ParamType::Check(check, what) => {
            let text = value.as_str().ok_or_else(|| expected("a string", value))?;
            if !check(text) {
                return Err(format!("{text:?} is not {what}"));
            }
        }
        ParamType::TextList => {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            if items.is_empty() {
                return Err("must not be empty".into());
            }
            if let Some(bad) = items.iter().find(|v| !v.is_string()) {
                return Err(expected("a string or a list of strings", bad));
            }
        }
        ParamType::IntList => {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            if let Some(bad) = items
                .iter()
                .find(|v| v.as_u64().is_none_or(|n| n >= 1 << 16))
            {
                return Err(expected("a list of non-negative integers", bad));
            }
        }
    }
    Ok(())
}

/// A number, or a string holding one.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn expected(what: &str, value: &Value) -> String {
    let shown = value.to_string();
    let shown = if shown.chars().count() > 40 {
        format!("{}...", shown.chars().take(40).collect::<String>())
    } else {
        shown
    };
    format!("expected {what}, got {shown}")
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ChainError {
        parse_chain(text.as_bytes(), None).unwrap_err()
    }

    #[test]
    fn json_and_yaml_give_the_same_chain() {
        let json = r#"{"defaults": {"prompt": "a cat"}, "platform": "cpu",
            "stages": [{"name": "start", "type": "source-txt2img", "params": {"steps": 3, "tiles": "hd8k"}}]}"#;
        let yaml = "defaults:\n  prompt: a cat\nplatform: cpu\nstages:\n  - name: start\n    type: source-txt2img\n    params:\n      steps: 3\n      tiles: hd8k\n";
        let a = parse_chain(json.as_bytes(), Some("application/json")).unwrap();
        let b = parse_chain(yaml.as_bytes(), None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.stages[0].text("steps").as_deref(), Some("3"));
        assert_eq!(a.platform.as_deref(), Some("cpu"));
        // YAML is refused when the client says JSON.
        assert!(parse_chain(yaml.as_bytes(), Some("application/json")).is_err());
    }

    #[test]
    fn errors_name_the_stage_and_field() {
        let e = err(
            r#"{"stages": [{"name": "a", "type": "persist-disk", "params": {}},
            {"name": "refine", "type": "blend-img2img", "params": {}}]}"#,
        );
        assert_eq!(e.stage.as_ref().unwrap().index, 1);
        assert_eq!(e.field, "params.strength");
        assert!(e.to_string().contains("\"refine\" (blend-img2img)"), "{e}");

        let e = err(r#"{"stages": [{"name": "x", "type": "no-such-stage", "params": {}}]}"#);
        assert_eq!(e.field, "type");
        assert!(e.message.contains("source-txt2img"));

        let e = err(r#"{"stages": [{"name": "x", "type": "persist-disk", "params": {"a1": 1}}]}"#);
        assert_eq!(e.field, "params.a1");
        let e = err(r#"{"stages": [{"name": "x", "type": "persist-disk", "params": {"a": [1]}}]}"#);
        assert_eq!(e.field, "params.a");
        let e = err(
            r#"{"stages": [{"name": "x", "type": "persist-disk", "params": {"tiles": "huge"}}]}"#,
        );
        assert_eq!(e.field, "params.tiles");
        let e = err(
            r#"{"stages": [{"name": "x", "type": "upscale-simple", "params": {"method": "cubic"}}]}"#,
        );
        assert_eq!(e.field, "params.method");
        let e = err(
            r#"{"stages": [{"name": "x", "type": "blend-img2img", "params": {"strength": 2}}]}"#,
        );
        assert_eq!(e.field, "params.strength");
        let e = err(r#"{"stages": [{"type": "persist-disk", "params": {}}]}"#);
        assert_eq!(e.field, "name");
        let e = err(r#"{"stages": [{"name": "x", "type": "persist-disk"}]}"#);
        assert_eq!(e.field, "params");
    }

    #[test]
    fn body_errors() {
        assert_eq!(err("").message, "chain pipeline must have a body");
        assert_eq!(err("[1]").field, "chain");
        assert_eq!(err("{}").field, "stages");
        assert_eq!(err(r#"{"stages": []}"#).field, "stages");
        assert_eq!(err(r#"{"stages": [], "extra": 1}"#).field, "extra");
        assert_eq!(err(r#"{"defaults": 3, "stages": []}"#).field, "defaults");
        assert_eq!(err("{: :").field, "chain");
        assert!(parse_chain(&[0xff, 0xfe], None).is_err());
    }

    #[test]
    fn list_params_take_lists_or_one_string() {
        let ok = r#"{"stages": [{"name": "get", "type": "source-url", "params": {"source_urls": ["http://a/x.png", "http://b/y.png"]}},
            {"name": "get2", "type": "source-url", "params": {"source_urls": "http://a/z.png"}}]}"#;
        assert_eq!(parse_chain(ok.as_bytes(), None).unwrap().stages.len(), 2);
        let e = err(
            r#"{"stages": [{"name": "get", "type": "source-url", "params": {"source_urls": [1]}}]}"#,
        );
        assert_eq!(e.field, "params.source_urls");
    }
}
