//! What the models folder holds, read once at start-up: the model lists of
//! `/api/settings/models` (§4.2), the extras files (labels → `/api/settings/strings`, network
//! tokens, model hashes; §1.3, §4.3) and the wildcard lists (§5.4), plus wildcard expansion (§5.3).
//!
//! Model names sent by clients are only ever looked up in these lists; they are never joined
//! into a path.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

/// Extensions of unfinished downloads and lock files, which are not models.
const IGNORE_EXTENSIONS: &[&str] = &["crdownload", "lock", "tmp"];

/// Extensions tried, in order, for a LoRA or Textual Inversion `<models>/<type>/<name>`.
pub const TENSOR_EXTENSIONS: &[&str] = &["safetensors", "ckpt", "pt", "pth", "bin"];

/// A listed model and the file or folder it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    pub name: String,
    pub path: PathBuf,
}

/// An additional network (ControlNet, Textual Inversion, LoRA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkModel {
    pub name: String,
    /// `control`, `inversion` or `lora`.
    pub kind: &'static str,
    pub path: PathBuf,
    /// Trigger words from the extras files.
    pub tokens: Vec<String>,
    /// Display label from the extras files.
    pub label: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ModelLists {
    pub diffusion: Vec<ModelEntry>,
    pub correction: Vec<ModelEntry>,
    pub upscaling: Vec<ModelEntry>,
    pub networks: Vec<NetworkModel>,
}

/// What the extras files contribute at run time.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// `/api/settings/strings`: `{lang: {namespace: {...}}}`, labels merged in.
    pub strings: Value,
    /// Network name → tokens.
    pub tokens: HashMap<String, Vec<String>>,
    /// Network `type.name` (or model name) → label.
    pub labels: HashMap<String, String>,
    /// Model name → `hash` from an extras entry.
    pub hashes: HashMap<String, String>,
}

/// Wildcard lists, keys in load order.
#[derive(Clone, Debug, Default)]
pub struct Wildcards {
    keys: Vec<String>,
    lists: HashMap<String, Vec<String>>,
}

/// Everything read from the models folder.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub root: PathBuf,
    pub models: ModelLists,
    pub extras: Extras,
    pub wildcards: Wildcards,
}

impl Catalog {
    /// Reads the models folder and the extras files. Problems with single files are logged and
    /// skipped, as onnx-web does.
    pub fn load(root: &Path, extra_files: &[PathBuf]) -> Self {
        let mut extras = load_extras(extra_files);
        let mut models = list_models(root);
        add_readable_labels(&mut extras.strings, &models);
        for network in &mut models.networks {
            if let Some(tokens) = extras.tokens.get(&network.name) {
                network.tokens = tokens.clone();
            }
            network.label = extras
                .labels
                .get(&format!("{}.{}", network.kind, network.name))
                .cloned();
        }
        let wildcards = load_wildcards(&root.join("wildcard"));
        tracing::info!(
            diffusion = models.diffusion.len(),
            correction = models.correction.len(),
            upscaling = models.upscaling.len(),
            networks = models.networks.len(),
            wildcards = wildcards.keys.len(),
            "models loaded from {}",
            root.display()
        );
        Self {
            root: root.to_owned(),
            models,
            extras,
            wildcards,
        }
    }

    /// The body of `/api/settings/models`.
    pub fn models_json(&self) -> Value {
        let names = |list: &[ModelEntry]| -> Vec<String> {
            list.iter().map(|entry| entry.name.clone()).collect()
        };
        let networks: Vec<Value> = self
            .models
            .networks
            .iter()
            .map(|network| {
                // onnx-web sends name, tokens and type; `label` (all) and `token` (inversions)
                // are what its GUI's types expect, so they are added.
                let mut object = Map::new();
                object.insert(
                    "label".into(),
                    json!(network
                        .label
                        .clone()
                        .unwrap_or_else(|| readable_label(&network.name))),
                );
                object.insert("name".into(), json!(network.name));
                if network.kind == "inversion" {
                    object.insert("token".into(), json!(network.name));
                }
                object.insert("tokens".into(), json!(network.tokens));
                object.insert("type".into(), json!(network.kind));
                Value::Object(object)
            })
            .collect();
        json!({
            "correction": names(&self.models.correction),
            "diffusion": names(&self.models.diffusion),
            "networks": networks,
            "upscaling": names(&self.models.upscaling),
        })
    }

    /// The body of `/api/settings/strings`.
    pub fn strings_json(&self) -> Value {
        self.extras.strings.clone()
    }

    /// The body of `/api/settings/wildcards`.
    pub fn wildcards_json(&self) -> Value {
        json!(self.wildcards.keys)
    }

    pub fn diffusion_names(&self) -> Vec<&str> {
        self.models
            .diffusion
            .iter()
            .map(|entry| entry.name.as_str())
            .collect()
    }

    /// The folder of a listed diffusion model, or `None` for names not in the list.
    pub fn resolve_diffusion_model(&self, name: &str) -> Option<&Path> {
        find(&self.models.diffusion, name)
    }

    /// The file or folder of any listed model (diffusion, then upscaling, then correction).
    pub fn resolve_model_dir(&self, name: &str) -> Option<PathBuf> {
        find(&self.models.diffusion, name)
            .or_else(|| find(&self.models.upscaling, name))
            .or_else(|| find(&self.models.correction, name))
            .map(Path::to_path_buf)
    }

    /// A listed network by name, of any type (onnx-web's `control` lookup).
    pub fn network(&self, name: &str) -> Option<&NetworkModel> {
        self.models.networks.iter().find(|n| n.name == name)
    }

    /// A listed network of one type.
    pub fn network_of(&self, kind: &str, name: &str) -> Option<&NetworkModel> {
        self.models
            .networks
            .iter()
            .find(|n| n.kind == kind && n.name == name)
    }

    /// The tensor file of a LoRA or Textual Inversion (§4.1 extension search), if listed.
    pub fn network_file(&self, kind: &str, name: &str) -> Option<PathBuf> {
        self.network_of(kind, name)?;
        let base = self.root.join(kind);
        TENSOR_EXTENSIONS
            .iter()
            .map(|ext| base.join(format!("{name}.{ext}")))
            .find(|path| path.is_file())
    }

    /// The `Model hash` of the metadata: the extras `hash`, else the first line of `hash.txt`,
    /// else `unknown`.
    pub fn model_hash(&self, name: &str, model_dir: &Path) -> String {
        if let Some(hash) = self.extras.hashes.get(name) {
            return hash.clone();
        }
        std::fs::read_to_string(model_dir.join("hash.txt"))
            .ok()
            .and_then(|text| {
                let line = text.lines().next()?;
                let hash = line.trim_end_matches([',', '.', ' ', '\n', '\t', '\r']);
                (!hash.is_empty()).then(|| hash.to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

fn find<'a>(list: &'a [ModelEntry], name: &str) -> Option<&'a Path> {
    list.iter()
        .find(|entry| entry.name == name)
        .map(|entry| entry.path.as_path())
}

/// Python's `os.path.splitext` on a base name: the extension is the part after the last dot,
/// unless the name only has leading dots.
fn split_ext(base: &str) -> (&str, &str) {
    let stripped = base.trim_start_matches('.');
    match stripped.rfind('.') {
        Some(index) => {
            let index = index + (base.len() - stripped.len());
            (&base[..index], &base[index + 1..])
        }
        None => (base, ""),
    }
}

/// Entries of `dir` whose name starts with `prefix` (a glob `prefix*`), hidden files skipped,
/// as (listed name, path), de-duplicated and sorted.
fn list_glob(dir: &Path, prefix: &str) -> Vec<ModelEntry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in read.flatten() {
        let Some(base) = entry.file_name().to_str().map(str::to_owned) else {
            tracing::warn!(
                "skipping a model with a non-UTF-8 name in {}",
                dir.display()
            );
            continue;
        };
        if base.starts_with('.') || !base.starts_with(prefix) {
            continue;
        }
        let (stem, ext) = split_ext(&base);
        if IGNORE_EXTENSIONS.contains(&ext) {
            continue;
        }
        let path = entry.path();
        // `foo/` and `foo.zip` list as one name; the folder wins.
        match found.get(stem) {
            Some(existing) if existing.is_dir() || !path.is_dir() => {}
            _ => {
                found.insert(stem.to_owned(), path);
            }
        }
    }
    found
        .into_iter()
        .map(|(name, path)| ModelEntry { name, path })
        .collect()
}

fn merge_lists(groups: Vec<Vec<ModelEntry>>) -> Vec<ModelEntry> {
    let mut merged: Vec<ModelEntry> = Vec::new();
    for group in groups {
        for entry in group {
            if !merged.iter().any(|e| e.name == entry.name) {
                merged.push(entry);
            }
        }
    }
    merged
}

/// The model lists of §4.2.
pub fn list_models(root: &Path) -> ModelLists {
    let mut top_diffusion = list_glob(root, "diffusion-");
    top_diffusion.extend(list_glob(root, "stable-diffusion-"));
    top_diffusion.sort_by(|a, b| a.name.cmp(&b.name));
    top_diffusion.dedup_by(|a, b| a.name == b.name);
    let diffusion = merge_lists(vec![top_diffusion, list_glob(&root.join("diffusion"), "")]);
    let correction = merge_lists(vec![
        list_glob(root, "correction-"),
        list_glob(&root.join("correction"), ""),
    ]);
    let upscaling = merge_lists(vec![
        list_glob(root, "upscaling-"),
        list_glob(&root.join("upscaling"), ""),
    ]);
    let mut networks = Vec::new();
    for kind in ["control", "inversion", "lora"] {
        for entry in list_glob(&root.join(kind), "") {
            networks.push(NetworkModel {
                name: entry.name,
                kind,
                path: entry.path,
                tokens: Vec::new(),
                label: None,
            });
        }
    }
    ModelLists {
        diffusion,
        correction,
        upscaling,
        networks,
    }
}

/// Kind prefixes a readable label leaves out.
const LABEL_PREFIXES: &[&str] = &[
    "diffusion-",
    "diffusion_",
    "diffusion/",
    "correction-",
    "correction_",
    "correction/",
    "upscaling-",
    "upscaling_",
    "upscaling/",
];

/// A label for a model that no extras file labels: its name without the kind prefix, split on
/// `-`, `_` and spaces, each word capitalised (`upscaling-realesr-x4` → `Realesr X4`).
pub fn readable_label(name: &str) -> String {
    let base = LABEL_PREFIXES
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .filter(|rest| rest.chars().any(char::is_alphanumeric))
        .unwrap_or(name);
    let words: Vec<String> = base
        .split(['-', '_', ' ', '/', '\\'])
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    if words.is_empty() {
        name.to_owned()
    } else {
        words.join(" ")
    }
}

/// Gives every listed model a label under `en.translation.model` (what the GUI shows): models
/// that the extras files do not label (nor name in their `strings`) get [`readable_label`].
fn add_readable_labels(strings: &mut Value, models: &ModelLists) {
    let Some(labels) = strings
        .pointer_mut("/en/translation/model")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let plain = [&models.diffusion, &models.correction, &models.upscaling]
        .into_iter()
        .flatten()
        .map(|entry| (entry.name.clone(), readable_label(&entry.name)));
    let networks = models.networks.iter().map(|network| {
        (
            format!("{}.{}", network.kind, network.name),
            readable_label(&network.name),
        )
    });
    for (key, label) in plain.chain(networks) {
        labels.entry(key).or_insert_with(|| Value::String(label));
    }
}

/// JSON, else YAML (onnx-web's `load_config_str`).
pub fn parse_config_text(text: &str) -> anyhow::Result<Value> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(json_error) => serde_yaml::from_str::<Value>(text).map_err(|yaml_error| {
            anyhow::anyhow!("neither JSON ({json_error}) nor YAML ({yaml_error})")
        }),
    }
}

/// The converter's `fix_diffusion_name`: names without a known prefix get `diffusion-`.
pub fn fix_diffusion_name(name: &str) -> String {
    const PREFIXES: &[&str] = &[
        "diffusion-",
        "diffusion/",
        "diffusion\\",
        "stable-diffusion-",
        "upscaling-",
    ];
    if PREFIXES.iter().any(|p| name.starts_with(p)) {
        name.to_owned()
    } else {
        format!("diffusion-{name}")
    }
}

/// Deep-merges `source` into `target`; two different leaves under one key are a conflict.
fn merge_strings(
    target: &mut Map<String, Value>,
    source: &Map<String, Value>,
) -> Result<(), String> {
    for (key, value) in source {
        match (target.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                merge_strings(existing, incoming).map_err(|e| format!("{key}.{e}"))?;
            }
            (Some(existing), incoming) if existing != incoming => {
                return Err(format!("{key}: conflicting values"));
            }
            (Some(_), _) => {}
            (None, incoming) => {
                target.insert(key.clone(), incoming.clone());
            }
        }
    }
    Ok(())
}

fn as_str(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What one extras file contributes.
fn read_extras_file(
    data: &Value,
    extras: &mut Extras,
    strings: &mut Map<String, Value>,
) -> Result<(), String> {
    let Value::Object(top) = data else {
        return Err("the top level is not an object".into());
    };
    if let Some(file_strings) = top.get("strings") {
        let Value::Object(file_strings) = file_strings else {
            return Err("strings is not an object".into());
        };
        // Merge into a copy, so a conflict leaves nothing of this file behind.
        let mut merged = strings.clone();
        merge_strings(&mut merged, file_strings).map_err(|e| format!("strings.{e}"))?;
        *strings = merged;
    }
    for model_type in ["diffusion", "correction", "upscaling", "networks"] {
        let Some(Value::Array(entries)) = top.get(model_type) else {
            continue;
        };
        for entry in entries {
            // Legacy tuples ([name, source, ...]) carry no label, hash or tokens.
            let Value::Object(model) = entry else {
                continue;
            };
            let Some(name) = model.get("name").and_then(as_str) else {
                continue;
            };
            let name = if model_type == "diffusion" {
                fix_diffusion_name(&name)
            } else {
                name
            };
            let kind = model.get("type").and_then(as_str);
            if let Some(label) = model.get("label").and_then(as_str) {
                let key = match &kind {
                    Some(kind) => format!("{kind}.{name}"),
                    None => name.clone(),
                };
                extras.labels.insert(key, label);
            }
            if let Some(hash) = model.get("hash").and_then(as_str) {
                extras.hashes.insert(name.clone(), hash);
            }
            if let Some(Value::Array(tokens)) = model.get("tokens") {
                extras
                    .tokens
                    .insert(name.clone(), tokens.iter().filter_map(as_str).collect());
            }
            for (nested, prefix) in [("inversions", "inversion"), ("loras", "lora")] {
                let Some(Value::Array(networks)) = model.get(nested) else {
                    continue;
                };
                for network in networks {
                    let (Some(net_name), Some(label)) = (
                        network.get("name").and_then(as_str),
                        network.get("label").and_then(as_str),
                    ) else {
                        continue;
                    };
                    extras.labels.insert(format!("{prefix}.{net_name}"), label);
                }
            }
        }
    }
    Ok(())
}

/// Checks an extras document before it replaces the extras file (`PUT /api/extras`): what the
/// catalog reads must read, each model list must be a list of models (objects with a non-empty
/// `name` and `source`, or legacy `[name, source, ...]` tuples). The error names the bad entry.
pub fn validate_extras(data: &Value) -> Result<(), String> {
    read_extras_file(data, &mut Extras::default(), &mut Map::new())?;
    let top = data
        .as_object()
        .expect("read_extras_file checked the object");
    for list in [
        "diffusion",
        "correction",
        "upscaling",
        "networks",
        "sources",
    ] {
        let entries = match top.get(list) {
            None => continue,
            Some(Value::Array(entries)) => entries,
            Some(_) => return Err(format!("{list} is not a list")),
        };
        for (index, entry) in entries.iter().enumerate() {
            match entry {
                Value::Object(model) => {
                    for field in ["name", "source"] {
                        match model.get(field) {
                            Some(Value::String(text)) if !text.is_empty() => {}
                            _ => {
                                return Err(format!(
                                    "{list}[{index}].{field} must be a non-empty string"
                                ))
                            }
                        }
                    }
                    if model.get("label").is_some_and(|label| !label.is_string()) {
                        return Err(format!("{list}[{index}].label must be a string"));
                    }
                }
                Value::Array(tuple) if tuple.first().is_some_and(Value::is_string) => {}
                _ => return Err(format!("{list}[{index}] is not a model object")),
            }
        }
    }
    Ok(())
}

/// Reads the extras files (§4.3) for labels, tokens, hashes and strings.
pub fn load_extras(files: &[PathBuf]) -> Extras {
    let mut extras = Extras::default();
    let mut strings = Map::new();
    for file in files {
        let data = match std::fs::read_to_string(file)
            .map_err(anyhow::Error::from)
            .and_then(|text| parse_config_text(&text))
        {
            Ok(data) => data,
            Err(error) => {
                tracing::warn!("skipping extras file {}: {error:#}", file.display());
                continue;
            }
        };
        // Work on a copy, so an invalid file changes nothing.
        let mut file_extras = extras.clone();
        match read_extras_file(&data, &mut file_extras, &mut strings) {
            Ok(()) => extras = file_extras,
            Err(error) => tracing::warn!("skipping extras file {}: {error}", file.display()),
        }
    }
    // Labels go under en.translation.model, over any string of the same key.
    let mut labels = Map::new();
    let mut sorted: Vec<_> = extras.labels.iter().collect();
    sorted.sort();
    for (key, label) in sorted {
        labels.insert(key.clone(), json!(label));
    }
    let en = strings
        .entry("en")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .map(|en| en.entry("translation").or_insert_with(|| json!({})));
    match en {
        Some(Value::Object(translation)) => {
            let model = translation.entry("model").or_insert_with(|| json!({}));
            match model {
                Value::Object(model) => model.extend(labels),
                other => *other = Value::Object(labels),
            }
        }
        _ => {
            tracing::warn!("extras strings: en.translation is not an object; replacing it");
            strings.insert("en".into(), json!({"translation": {"model": labels}}));
        }
    }
    extras.strings = Value::Object(strings);
    extras
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Symlinks: never to a folder (cycles) nor out of this folder (wildcards stay inside).
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            let inside = match (path.canonicalize(), dir.canonicalize()) {
                (Ok(target), Ok(base)) => target.starts_with(base) && target.is_file(),
                _ => false,
            };
            if !inside {
                tracing::warn!(
                    "skipping the symlink {} (a folder or out of {})",
                    path.display(),
                    dir.display()
                );
                continue;
            }
        }
        if path.is_dir() {
            walk_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn relative_key(dir: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(dir).ok()?.with_extension("");
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

fn collect_wildcard_lists(prefix: &str, value: &Value, out: &mut Vec<(String, Vec<String>)>) {
    match value {
        Value::Array(items) => {
            out.push((prefix.to_owned(), items.iter().filter_map(as_str).collect()))
        }
        Value::Object(map) => {
            for (key, value) in map {
                collect_wildcard_lists(&format!("{prefix}/{key}"), value, out);
            }
        }
        _ => tracing::warn!("wildcard {prefix} is neither a list nor an object; skipped"),
    }
}

/// Wildcard files (§5.4): `**/*.txt` (one item per line, `#` comments), then `**/*.json` and
/// `**/*.yaml` (nested objects of lists), each group in sorted path order.
pub fn load_wildcards(dir: &Path) -> Wildcards {
    let mut files = Vec::new();
    walk_files(dir, &mut files);
    files.sort();
    let mut wildcards = Wildcards::default();
    let mut add = |key: String, items: Vec<String>| {
        if !wildcards.lists.contains_key(&key) {
            wildcards.keys.push(key.clone());
        }
        wildcards.lists.entry(key).or_default().extend(items);
    };
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "txt"))
    {
        let (Some(key), Ok(text)) = (relative_key(dir, file), std::fs::read_to_string(file)) else {
            tracing::warn!("skipping wildcard file {}", file.display());
            continue;
        };
        let items = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        add(key, items);
    }
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json" || e == "yaml"))
    {
        let parsed = relative_key(dir, file).zip(
            std::fs::read_to_string(file)
                .ok()
                .and_then(|text| parse_config_text(&text).ok()),
        );
        let Some((key, data)) = parsed else {
            tracing::warn!("skipping wildcard file {}", file.display());
            continue;
        };
        let mut lists = Vec::new();
        collect_wildcard_lists(&key, &data, &mut lists);
        for (key, items) in lists {
            add(key, items);
        }
    }
    wildcards
}

static WILDCARD: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"__([-/\\\w]+)__").expect("wildcard regex"));

/// Replacements per prompt, against wildcards that keep expanding into themselves.
const MAX_WILDCARD_REPLACEMENTS: usize = 10_000;

impl Wildcards {
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.lists.get(key).map(Vec::as_slice)
    }

    #[cfg(test)]
    pub fn from_lists(lists: &[(&str, &[&str])]) -> Self {
        let mut wildcards = Self::default();
        for (key, items) in lists {
            wildcards.keys.push((*key).to_owned());
            wildcards.lists.insert(
                (*key).to_owned(),
                items.iter().map(|s| (*s).to_owned()).collect(),
            );
        }
        wildcards
    }

    /// Replaces `__key__` tokens (§5.3): seeded, left to right, rescanning from the start after
    /// each replacement, picking without replacement within the prompt; unknown keys become "".
    /// The picks are seeded but do not reproduce Python's `random` sequence.
    pub fn expand(&self, prompt: &str, seed: u32) -> Result<String, String> {
        if !prompt.contains("__") {
            return Ok(prompt.to_owned());
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(seed));
        let mut remaining: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut text = prompt.to_owned();
        for _ in 0..MAX_WILDCARD_REPLACEMENTS {
            let Some(found) = WILDCARD.captures(&text) else {
                return Ok(text);
            };
            let whole = found.get(0).expect("match").range();
            let key = found.get(1).expect("group").as_str().to_owned();
            let replacement = match self.lists.get_key_value(key.as_str()) {
                Some((key, items)) => {
                    let list = remaining
                        .entry(key.as_str())
                        .or_insert_with(|| items.iter().map(String::as_str).collect());
                    if list.is_empty() {
                        return Err(format!("wildcard \"{key}\" has no items left"));
                    }
                    let index = rng.random_range(0..list.len());
                    list.swap_remove(index).to_owned()
                }
                None => {
                    tracing::warn!("unknown wildcard {key:?}");
                    String::new()
                }
            };
            text.replace_range(whole, &replacement);
        }
        Err("too many wildcard replacements".into())
    }
}

static NETWORK_TOKEN: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"<(lora|inversion|embeddings):([^:>]+):(-?[.|\d]+)>").expect("network regex")
});

/// The `<lora:name:weight>` and `<inversion|embeddings:name:weight>` names in a prompt, as
/// (`lora` | `inversion`, name), in order of appearance.
pub fn network_tokens(prompt: &str) -> Vec<(&'static str, String)> {
    NETWORK_TOKEN
        .captures_iter(prompt)
        .map(|caps| {
            let kind = if &caps[1] == "lora" {
                "lora"
            } else {
                "inversion"
            };
            (kind, caps[2].to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "onnx-web-models-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn touch(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn splitext_matches_python() {
        assert_eq!(split_ext("foo-v1.5"), ("foo-v1", "5"));
        assert_eq!(split_ext("a.tar.gz"), ("a.tar", "gz"));
        assert_eq!(split_ext(".hidden"), (".hidden", ""));
        assert_eq!(split_ext("plain"), ("plain", ""));
    }

    #[test]
    fn model_listing() {
        let root = temp_dir("listing");
        for dir in [
            "stable-diffusion-onnx-v1-5",
            "diffusion-b",
            "diffusion-a",
            "diffusion/sub-model",
            "diffusion-a.lock",
            "upscaling-stable-diffusion-x4",
            "not-a-model",
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "upscaling-real-esrgan-x4.onnx",
            "upscaling-partial.onnx.crdownload",
            "correction-gfpgan.onnx",
            "correction/correction-codeformer.onnx",
            "lora/b-lora.safetensors",
            "lora/a-lora.safetensors",
            "lora/.hidden.safetensors",
            "inversion/cubex.pt",
            "control/canny.onnx",
            "diffusion-c.tmp",
        ] {
            touch(&root.join(file), "x");
        }
        touch(
            &root.join("extras.json"),
            r#"{"diffusion": [{"name": "a", "source": "x", "label": "Model A", "hash": "ABC"}],
                "networks": [{"name": "a-lora", "source": "x", "type": "lora", "label": "A LoRA", "tokens": ["shiny", "bright"]}],
                "strings": {"en": {"translation": {"hello": "Hello"}}}}"#,
        );
        let catalog = Catalog::load(&root, &[root.join("extras.json")]);
        let models = catalog.models_json();
        assert_eq!(
            models["diffusion"],
            json!([
                "diffusion-a",
                "diffusion-b",
                "stable-diffusion-onnx-v1-5",
                "sub-model"
            ])
        );
        assert_eq!(
            models["upscaling"],
            json!(["upscaling-real-esrgan-x4", "upscaling-stable-diffusion-x4"])
        );
        assert_eq!(
            models["correction"],
            json!(["correction-gfpgan", "correction-codeformer"])
        );
        let networks: Vec<(String, String)> = models["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["type"].as_str().unwrap().into(),
                    n["name"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            networks,
            vec![
                ("control".into(), "canny".into()),
                ("inversion".into(), "cubex".into()),
                ("lora".into(), "a-lora".into()),
                ("lora".into(), "b-lora".into()),
            ]
        );
        assert_eq!(models["networks"][2]["tokens"], json!(["shiny", "bright"]));
        assert_eq!(models["networks"][2]["label"], json!("A LoRA"));
        assert_eq!(models["networks"][1]["token"], json!("cubex"));
        assert_eq!(models["networks"][3]["tokens"], json!([]));

        // Subfolder models resolve inside their folder; unknown names do not resolve.
        assert_eq!(
            catalog.resolve_diffusion_model("sub-model"),
            Some(root.join("diffusion/sub-model").as_path())
        );
        assert!(catalog.resolve_diffusion_model("../etc").is_none());
        assert!(catalog.resolve_diffusion_model("not-a-model").is_none());
        assert_eq!(
            catalog.resolve_model_dir("upscaling-real-esrgan-x4"),
            Some(root.join("upscaling-real-esrgan-x4.onnx"))
        );
        assert_eq!(
            catalog.network_file("lora", "a-lora"),
            Some(root.join("lora/a-lora.safetensors"))
        );
        assert_eq!(catalog.network_file("lora", "missing"), None);

        // Labels and hashes from extras; every other model gets a readable label.
        assert_eq!(
            catalog.strings_json(),
            json!({"en": {"translation": {"hello": "Hello", "model": {
                "diffusion-a": "Model A",
                "lora.a-lora": "A LoRA",
                "diffusion-b": "B",
                "stable-diffusion-onnx-v1-5": "Stable Diffusion Onnx V1 5",
                "sub-model": "Sub Model",
                "upscaling-real-esrgan-x4": "Real Esrgan X4",
                "upscaling-stable-diffusion-x4": "Stable Diffusion X4",
                "correction-gfpgan": "Gfpgan",
                "correction-codeformer": "Codeformer",
                "control.canny": "Canny",
                "inversion.cubex": "Cubex",
                "lora.b-lora": "B Lora"}}}})
        );
        assert_eq!(models["networks"][3]["label"], json!("B Lora"));
        assert_eq!(
            catalog.model_hash("diffusion-a", &root.join("diffusion-a")),
            "ABC"
        );
        touch(&root.join("diffusion-b/hash.txt"), "1234abcd,. \nrest");
        assert_eq!(
            catalog.model_hash("diffusion-b", &root.join("diffusion-b")),
            "1234abcd"
        );
        assert_eq!(
            catalog.model_hash(
                "stable-diffusion-onnx-v1-5",
                &root.join("stable-diffusion-onnx-v1-5")
            ),
            "unknown"
        );
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn readable_labels() {
        for (name, label) in [
            ("diffusion-tiny-demo", "Tiny Demo"),
            (
                "upscaling-realesr-animevideov3-x4",
                "Realesr Animevideov3 X4",
            ),
            ("correction_gfpgan_v1.4", "Gfpgan V1.4"),
            ("stable-diffusion-onnx-v1-5", "Stable Diffusion Onnx V1 5"),
            ("my_lora-SDXL", "My Lora SDXL"),
            ("diffusion-", "Diffusion"),
            ("--", "--"),
        ] {
            assert_eq!(readable_label(name), label, "{name}");
        }
    }

    #[test]
    fn strings_without_extras() {
        let extras = load_extras(&[]);
        assert_eq!(
            extras.strings,
            json!({"en": {"translation": {"model": {}}}})
        );
    }

    #[test]
    fn extras_yaml_and_conflicts() {
        let root = temp_dir("extras");
        touch(
            &root.join("one.yaml"),
            "strings:\n  en:\n    translation:\n      x: One\nnetworks:\n  - name: n\n    source: s\n    type: lora\n    tokens: [t]\n",
        );
        // Conflicts with one.yaml: nothing of this file is used.
        touch(
            &root.join("two.json"),
            r#"{"strings": {"en": {"translation": {"x": "Two"}}}, "networks": [{"name": "m", "source": "s", "type": "lora", "tokens": ["u"]}]}"#,
        );
        touch(&root.join("bad.json"), "{not json: [");
        let extras = load_extras(&[
            root.join("one.yaml"),
            root.join("two.json"),
            root.join("bad.json"),
        ]);
        assert_eq!(extras.strings["en"]["translation"]["x"], json!("One"));
        assert_eq!(extras.tokens.get("n"), Some(&vec!["t".to_owned()]));
        assert!(!extras.tokens.contains_key("m"));
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn wildcard_files() {
        let root = temp_dir("wildcards");
        touch(
            &root.join("colors.txt"),
            "# comment\nred\n\n  green  \nblue\n",
        );
        touch(&root.join("fantasy/creatures.txt"), "dragon\nelf\n");
        touch(
            &root.join("styles.json"),
            r#"{"painters": ["a", "b"], "deep": {"x": ["c"]}, "bad": 3}"#,
        );
        touch(&root.join("more.yaml"), "animals:\n  - cat\n  - dog\n");
        touch(&root.join("colors.yaml"), "[purple]");
        let wildcards = load_wildcards(&root);
        assert_eq!(
            wildcards.keys(),
            [
                "colors",
                "fantasy/creatures",
                "more/animals",
                "styles/painters",
                "styles/deep/x"
            ]
        );
        assert_eq!(
            wildcards.get("colors").unwrap(),
            ["red", "green", "blue", "purple"]
        );
        std::fs::remove_dir_all(&root).ok();
        assert!(load_wildcards(Path::new("/nonexistent/wildcards"))
            .keys()
            .is_empty());
    }

    #[test]
    fn wildcard_expansion() {
        let wildcards = Wildcards::from_lists(&[
            ("color", &["red", "green"]),
            ("thing", &["a __color__ ball"]),
            ("one", &["x"]),
        ]);
        let out = wildcards
            .expand("__thing__ and __color__, __missing__!", 7)
            .unwrap();
        assert!(
            out == "a red ball and green, !" || out == "a green ball and red, !",
            "{out}"
        );
        // Seeded: the same seed gives the same picks.
        assert_eq!(
            wildcards.expand("__color__ __color__", 1).unwrap(),
            wildcards.expand("__color__ __color__", 1).unwrap()
        );
        assert!(wildcards
            .expand("__one__ __one__", 1)
            .unwrap_err()
            .contains("one"));
        assert_eq!(wildcards.expand("no tokens", 1).unwrap(), "no tokens");
        // Greedy key, as the Python regex: `__a__b__` is the key `a__b`.
        assert_eq!(wildcards.expand("__one__b__", 1).unwrap(), "");
    }

    #[test]
    fn network_token_names() {
        assert_eq!(
            network_tokens(
                "<lora:add-detail:0.5> x <inversion:cubex:1.0> <embeddings:e:-1> <lora:bad>"
            ),
            vec![
                ("lora", "add-detail".to_owned()),
                ("inversion", "cubex".to_owned()),
                ("inversion", "e".to_owned())
            ]
        );
    }
}
