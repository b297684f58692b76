//! The inference layer: loading ONNX Runtime, choosing execution providers (platforms), building
//! sessions and caching them. Everything above talks to models through [`Engine::load`].

mod cache;
mod error;
pub mod library;
mod model;
pub mod platform;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cache::ModelCache;
pub use error::{EngineError, Result};
pub use model::{Model, TensorInfo};
pub use ort;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

/// Session settings that come from the server's configuration.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Explicit library path; otherwise [`library::find`] searches.
    pub library: Option<PathBuf>,
    /// Threads inside one operator; 0 lets ONNX Runtime choose (one per core).
    pub intra_threads: usize,
    /// Models kept loaded (sessions, one per file and platform).
    pub cache_limit: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            library: None,
            intra_threads: 0,
            cache_limit: 16,
        }
    }
}

/// The one ONNX Runtime environment of the process, the platforms it can use and the model cache.
pub struct Engine {
    env: ort::environment::Environment,
    library: PathBuf,
    platforms: Vec<String>,
    options: EngineOptions,
    cache: ModelCache,
}

impl Engine {
    /// Finds and loads ONNX Runtime, then detects the usable platforms.
    pub fn new(options: EngineOptions) -> Result<Arc<Self>> {
        let library = library::find(options.library.as_deref())
            .map_err(|searched| EngineError::LibraryNotFound { searched })?;
        let load_error = |message: String| EngineError::LibraryLoad {
            path: library.clone(),
            message,
        };
        // init_from loads explicitly, so a missing or too old library is an error here rather
        // than a panic in ort's lazy loader at the first session.
        let env = ort::init_from(&library)
            .map_err(|e| load_error(e.to_string()))?
            .with_name("onnx-web")
            .with_telemetry(false)
            .build()
            .map_err(|e| load_error(e.to_string()))?;
        let platforms = platform::detect(&env);
        tracing::info!(
            "ONNX Runtime from {} ({}); platforms: {}",
            library.display(),
            ort::info(),
            platforms.join(", ")
        );
        Ok(Arc::new(Self {
            cache: ModelCache::new(options.cache_limit),
            env,
            library,
            platforms,
            options,
        }))
    }

    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Usable platforms, GPU ones first and `cpu` last.
    pub fn platforms(&self) -> &[String] {
        &self.platforms
    }

    pub fn cache(&self) -> &ModelCache {
        &self.cache
    }

    /// The model at `path` on `platform`, from the cache or freshly loaded.
    pub fn load(&self, path: &Path, platform: &str) -> Result<Arc<Model>> {
        let key = (path.to_path_buf(), platform.to_owned());
        if let Some(model) = self.cache.get(&key) {
            return Ok(model);
        }
        let model = Arc::new(self.load_uncached(path, platform)?);
        self.cache.insert(key, Arc::clone(&model));
        Ok(model)
    }

    fn load_uncached(&self, path: &Path, platform: &str) -> Result<Model> {
        if !path.is_file() {
            return Err(EngineError::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        let providers = platform::execution_providers(platform)
            .ok_or_else(|| EngineError::UnknownPlatform(platform.to_owned()))?;
        let load_error = |message: String| EngineError::ModelLoad {
            path: path.to_path_buf(),
            message,
        };
        let started = std::time::Instant::now();
        let mut builder = Session::builder(&self.env)
            .map_err(|e| load_error(e.to_string()))?
            // `All`, not `Level3`: Level3 maps to a layout level that some libraries reject.
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| load_error(e.to_string()))?
            .with_execution_providers(providers)
            .map_err(|e| load_error(e.to_string()))?;
        if self.options.intra_threads > 0 {
            builder = builder
                .with_intra_threads(self.options.intra_threads)
                .map_err(|e| load_error(e.to_string()))?;
        }
        let session = builder
            .commit_from_file(path)
            .map_err(|e| load_error(e.to_string()))?;
        tracing::debug!(
            "loaded {} on {platform} in {:.2?}",
            path.display(),
            started.elapsed()
        );
        Ok(Model::new(path, platform, session))
    }
}
