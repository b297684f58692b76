//! Loaded models, reused across jobs: loading a real UNet takes seconds, so a session is built
//! once per (file, platform) and the least recently used ones are dropped past the limit.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::model::Model;

type Key = (PathBuf, String);

pub struct ModelCache {
    limit: usize,
    // Most recently used last. A handful of entries: a Vec beats a map here.
    entries: Mutex<Vec<(Key, Arc<Model>)>>,
}

impl ModelCache {
    /// `limit` models at most; 0 disables caching.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            entries: Mutex::new(Vec::new()),
        }
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Model>> {
        let mut entries = self.entries.lock();
        let index = entries.iter().position(|(k, _)| k == key)?;
        let entry = entries.remove(index);
        let model = Arc::clone(&entry.1);
        entries.push(entry);
        Some(model)
    }

    pub fn insert(&self, key: Key, model: Arc<Model>) {
        if self.limit == 0 {
            return;
        }
        let mut entries = self.entries.lock();
        entries.retain(|(k, _)| *k != key);
        entries.push((key, model));
        let excess = entries.len().saturating_sub(self.limit);
        entries.drain(..excess);
    }

    pub fn clear(&self) {
        self.entries.lock().clear();
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
