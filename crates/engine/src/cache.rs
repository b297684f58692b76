//! Loaded models, reused across jobs: loading a real UNet takes seconds, so a session is built
//! once per (file, platform). Past the count limit or the byte budget, the least recently used
//! models are dropped (a job still holding one keeps it alive until it finishes).

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::model::Model;

type Key = (PathBuf, String);

struct Entry {
    key: Key,
    model: Arc<Model>,
    bytes: u64,
}

/// Gauge of the models in the cache.
pub const METRIC_CACHE_MODELS: &str = "onnx_web_model_cache_models";
/// Gauge of the bytes of model files in the cache.
pub const METRIC_CACHE_BYTES: &str = "onnx_web_model_cache_bytes";

fn record_size(entries: &[Entry]) {
    metrics::gauge!(METRIC_CACHE_MODELS).set(entries.len() as f64);
    metrics::gauge!(METRIC_CACHE_BYTES).set(entries.iter().map(|e| e.bytes).sum::<u64>() as f64);
}

pub struct ModelCache {
    limit: usize,
    byte_budget: u64,
    // Most recently used last. A handful of entries: a Vec beats a map here.
    entries: Mutex<Vec<Entry>>,
}

impl ModelCache {
    /// At most `limit` models (0 disables caching) and, when `byte_budget` > 0, at most that
    /// many bytes of model files.
    pub fn new(limit: usize, byte_budget: u64) -> Self {
        Self {
            limit,
            byte_budget,
            entries: Mutex::new(Vec::new()),
        }
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Model>> {
        let mut entries = self.entries.lock();
        let index = entries.iter().position(|e| e.key == *key)?;
        let entry = entries.remove(index);
        let model = Arc::clone(&entry.model);
        entries.push(entry);
        Some(model)
    }

    /// Adds a model of `bytes` size, evicting the least recently used past the limits. The new
    /// model itself always stays, even when it alone exceeds the budget.
    pub fn insert(&self, key: Key, model: Arc<Model>, bytes: u64) {
        if self.limit == 0 {
            return;
        }
        let mut entries = self.entries.lock();
        entries.retain(|e| e.key != key);
        entries.push(Entry { key, model, bytes });
        let over_budget = |entries: &[Entry]| {
            self.byte_budget > 0 && entries.iter().map(|e| e.bytes).sum::<u64>() > self.byte_budget
        };
        while entries.len() > 1 && (entries.len() > self.limit || over_budget(&entries)) {
            entries.remove(0);
        }
        record_size(&entries);
    }

    /// The cached models, least recently used first (e.g. to read their time in ONNX Runtime).
    pub fn models(&self) -> Vec<Arc<Model>> {
        self.entries
            .lock()
            .iter()
            .map(|e| Arc::clone(&e.model))
            .collect()
    }

    pub fn clear(&self) {
        let mut entries = self.entries.lock();
        entries.clear();
        record_size(&entries);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of model files currently cached.
    pub fn bytes(&self) -> u64 {
        self.entries.lock().iter().map(|e| e.bytes).sum()
    }
}
