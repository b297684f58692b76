//! The state shared by every request: configuration, `params.json`, the model catalog, the
//! platform list and the job queue.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::config::ServerConfig;
use crate::jobs::JobQueue;
use crate::models::Catalog;
use crate::params::{available_schedulers, ParamsConfig, ParseContext, IMPLEMENTED_SCHEDULERS};

/// What `POST /api/restart` runs to unload models.
pub type RecycleHook = Box<dyn Fn() + Send + Sync>;

/// A file's size, modification time and SHA-256.
type CachedHash = (u64, Option<SystemTime>, String);

pub struct AppState {
    pub config: ServerConfig,
    /// `params.json`, as served and as used for defaults and bounds.
    pub params: ParamsConfig,
    /// The served platform list: `any` (if enabled), the devices, `cpu` last; blocked ones left out.
    pub platforms: Vec<String>,
    /// Implemented schedulers, in onnx-web's order.
    pub schedulers: Vec<&'static str>,
    pub queue: Arc<JobQueue>,
    /// The admin token (configured, or random and logged at start-up).
    pub admin_token: String,
    /// Job requests being handled, for the queue limits.
    pub in_flight: crate::limits::InFlight,
    catalog: RwLock<Arc<Catalog>>,
    /// Unloads the workers' models, for `POST /api/restart` (set by the binary).
    recycle_hook: Option<RecycleHook>,
    /// SHA-256 of network files, keyed by path and checked against size and mtime.
    file_hashes: Mutex<HashMap<PathBuf, CachedHash>>,
}

/// The platform list of `/api/settings/platforms`: `any` first (when enabled), then the devices
/// except `cpu`, then `cpu` last, without blocked names or duplicates.
pub fn platform_list(devices: &[String], any_platform: bool, blocked: &[String]) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if !blocked.iter().any(|b| b == name) && !list.iter().any(|p| p == name) {
            list.push(name.to_owned());
        }
    };
    if any_platform {
        push("any");
    }
    for device in devices
        .iter()
        .filter(|d| d.as_str() != "cpu" && d.as_str() != "any")
    {
        push(device);
    }
    if devices.iter().any(|d| d == "cpu") {
        push("cpu");
    }
    list
}

/// The engine's devices minus the blocked ones: what the job queue should be created with.
pub fn usable_devices(devices: &[String], config: &ServerConfig) -> Vec<String> {
    let blocked = config.blocked_platforms();
    devices
        .iter()
        .filter(|d| !blocked.contains(d))
        .cloned()
        .collect()
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    hex::encode(bytes)
}

impl AppState {
    /// Loads `params.json`, the models, extras and wildcards. `devices` are the engine's usable
    /// platforms (e.g. `["cpu"]`); the job queue should run on the same (unblocked) devices.
    pub fn new(
        config: ServerConfig,
        devices: Vec<String>,
        queue: Arc<JobQueue>,
    ) -> anyhow::Result<Self> {
        let mut params = ParamsConfig::load(&config.params, config.default_platform.as_deref())
            .context("loading params.json")?;
        let catalog = Catalog::load(&config.models, &config.extra_model_files());
        let platforms = platform_list(&devices, config.any_platform, &config.blocked_platforms());
        params.use_available_platform(&platforms);
        tracing::info!("available platforms: {}", platforms.join(", "));
        let admin_token = match &config.admin_token {
            Some(token) if !token.is_empty() => token.clone(),
            _ => {
                let token = random_token();
                tracing::info!("admin token: {token}");
                token
            }
        };
        Ok(Self {
            params,
            platforms,
            schedulers: available_schedulers(IMPLEMENTED_SCHEDULERS),
            queue,
            admin_token,
            in_flight: Default::default(),
            catalog: RwLock::new(Arc::new(catalog)),
            recycle_hook: None,
            file_hashes: Mutex::new(HashMap::new()),
            config,
        })
    }

    /// Sets what `recycle` runs (the binary unloads the engine's model cache).
    pub fn with_recycle_hook(mut self, hook: RecycleHook) -> Self {
        self.recycle_hook = Some(hook);
        self
    }

    /// Unloads loaded models; jobs that hold a model keep it until they end.
    pub fn recycle(&self) {
        if let Some(hook) = &self.recycle_hook {
            hook();
        }
    }

    /// `/api/settings/params` (and the GUI's `config.json`): `params.json` with its `model`
    /// default replaced by the model a request without `model` gets, when the file names one that
    /// is not here (onnx-web's own file says `stable-diffusion-onnx-v1-5`, and its GUI sends that
    /// default from tabs without a model menu, such as Blend).
    pub fn served_params(&self) -> serde_json::Value {
        let mut served = self.params.served().clone();
        let catalog = self.catalog();
        let names = catalog.diffusion_names();
        let configured = self.params.default_str("model");
        if !configured.is_some_and(|name| names.contains(&name)) {
            if let (Some(first), Some(serde_json::Value::Object(entry))) =
                (names.first(), served.get_mut("model"))
            {
                entry.insert("default".into(), serde_json::Value::from(*first));
            }
        }
        served
    }

    /// The current model catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read())
    }

    /// Re-reads the models folder, extras and wildcards (for `PUT /api/extras`).
    pub fn reload_catalog(&self) {
        let catalog = Catalog::load(&self.config.models, &self.config.extra_model_files());
        *self.catalog.write() = Arc::new(catalog);
    }

    /// What the request parsers need, borrowed from this state and a catalog snapshot.
    pub fn parse_context<'a>(&'a self, catalog: &'a Catalog) -> ParseContext<'a> {
        ParseContext {
            params: &self.params,
            catalog,
            platforms: &self.platforms,
            schedulers: &self.schedulers,
        }
    }

    /// Upper-case SHA-256 of a file, cached while its size and mtime stay the same. Blocking.
    pub fn file_hash(&self, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let key = (meta.len(), meta.modified().ok());
        if let Some((len, modified, hash)) = self.file_hashes.lock().get(path) {
            if (*len, *modified) == key {
                return Ok(hash.clone());
            }
        }
        let mut file = std::fs::File::open(path)?;
        let mut sha = Sha256::new();
        std::io::copy(&mut file, &mut sha)?;
        let hash = hex::encode_upper(sha.finalize());
        self.file_hashes
            .lock()
            .insert(path.to_owned(), (key.0, key.1, hash.clone()));
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn platform_ordering() {
        assert_eq!(
            platform_list(&names(&["cpu"]), true, &[]),
            names(&["any", "cpu"])
        );
        assert_eq!(
            platform_list(&names(&["cpu", "cuda", "rocm"]), true, &[]),
            names(&["any", "cuda", "rocm", "cpu"])
        );
        assert_eq!(
            platform_list(&names(&["cpu", "cuda"]), false, &names(&["cuda"])),
            names(&["cpu"])
        );
        assert_eq!(
            platform_list(&names(&["cuda", "cpu", "cuda"]), true, &names(&["any"])),
            names(&["cuda", "cpu"])
        );
    }

    #[test]
    fn usable_devices_drop_blocked() {
        let mut config = ServerConfig::with_paths("m".into(), "o".into());
        config.block_platforms = Some("cuda, rocm".into());
        assert_eq!(
            usable_devices(&names(&["cuda", "cpu"]), &config),
            names(&["cpu"])
        );
    }

    #[test]
    fn state_loads_and_hashes_files() {
        let root = std::env::temp_dir().join(format!("onnx-web-state-{}", std::process::id()));
        std::fs::create_dir_all(root.join("models/diffusion-x")).unwrap();
        std::fs::write(root.join("models/file.bin"), b"abc").unwrap();
        let mut config = ServerConfig::with_paths(root.join("models"), root.join("outputs"));
        config.params = root.clone();
        config.admin_token = Some("secret".into());
        let state = AppState::new(config, names(&["cpu"]), JobQueue::new(names(&["cpu"]))).unwrap();
        assert_eq!(state.admin_token, "secret");
        assert_eq!(state.platforms, names(&["any", "cpu"]));
        assert_eq!(state.catalog().diffusion_names(), vec!["diffusion-x"]);
        let hash = state.file_hash(&root.join("models/file.bin")).unwrap();
        assert_eq!(
            hash,
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
        assert_eq!(
            state.file_hash(&root.join("models/file.bin")).unwrap(),
            hash
        );
        std::fs::remove_dir_all(&root).ok();
    }
}
