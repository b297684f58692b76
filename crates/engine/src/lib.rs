//! The inference layer: loading ONNX Runtime, choosing execution providers (platforms), building
//! sessions and caching them. Everything above talks to models through [`Engine::load`].

mod cache;
mod error;
pub mod library;
mod model;
pub mod onnx_weights;
pub mod platform;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cache::{ModelCache, METRIC_CACHE_BYTES, METRIC_CACHE_MODELS};
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
    /// Threads running independent operators in parallel; 0 lets ONNX Runtime choose (sequential
    /// execution). More than 1 turns on ONNX Runtime's parallel execution mode.
    pub inter_threads: usize,
    /// Models kept loaded (sessions, one per file and platform).
    pub cache_limit: usize,
    /// Bytes of model files kept loaded; the least recently used go first. 0 = no budget.
    pub cache_bytes: u64,
    pub graph_optimization: GraphOptimization,
    /// onnx-web's `onnx-low-memory`: no CPU memory arena and no memory pattern planning.
    pub low_memory: bool,
    /// onnx-web's `onnx-deterministic-compute`.
    pub deterministic: bool,
    /// CUDA `gpu_mem_limit` in bytes (onnx-web's ONNX_WEB_MEMORY_LIMIT).
    pub gpu_memory_limit: Option<usize>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            library: None,
            intra_threads: 0,
            inter_threads: 0,
            cache_limit: 16,
            cache_bytes: 0,
            graph_optimization: GraphOptimization::All,
            low_memory: false,
            deterministic: false,
            gpu_memory_limit: None,
        }
    }
}

/// ONNX Runtime's graph optimization levels, named as onnx-web's `onnx-graph-*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphOptimization {
    Disable,
    Basic,
    Extended,
    All,
}

impl EngineOptions {
    /// Applies onnx-web's `ONNX_WEB_OPTIMIZATIONS` flags that concern sessions. The first
    /// `onnx-graph-*` flag in onnx-web's order (disable, basic, extended, all) wins. Returns the
    /// flags this layer does not handle, for the caller to apply or report.
    pub fn apply_optimizations<'f>(&mut self, flags: &[&'f str]) -> Vec<&'f str> {
        let graph_levels = [
            ("onnx-graph-disable", GraphOptimization::Disable),
            ("onnx-graph-basic", GraphOptimization::Basic),
            ("onnx-graph-extended", GraphOptimization::Extended),
            ("onnx-graph-all", GraphOptimization::All),
        ];
        if let Some((_, level)) = graph_levels.iter().find(|(flag, _)| flags.contains(flag)) {
            self.graph_optimization = *level;
        }
        self.low_memory |= flags.contains(&"onnx-low-memory");
        self.deterministic |= flags.contains(&"onnx-deterministic-compute");
        flags
            .iter()
            .copied()
            .filter(|f| {
                !graph_levels.iter().any(|(g, _)| g == f)
                    && *f != "onnx-low-memory"
                    && *f != "onnx-deterministic-compute"
            })
            .collect()
    }
}

impl GraphOptimization {
    fn level(self) -> GraphOptimizationLevel {
        match self {
            Self::Disable => GraphOptimizationLevel::Disable,
            Self::Basic => GraphOptimizationLevel::Level1,
            Self::Extended => GraphOptimizationLevel::Level2,
            // `All`, not `Level3`: Level3 maps to a layout level that some libraries reject.
            Self::All => GraphOptimizationLevel::All,
        }
    }
}

/// Counter of models served from the cache, by platform (the `metrics` facade: a no-op unless
/// the server installed a recorder).
pub const METRIC_CACHE_HITS: &str = "onnx_web_model_cache_hits_total";
/// Counter of models loaded into ONNX Runtime (cache misses), by platform.
pub const METRIC_CACHE_LOADS: &str = "onnx_web_model_cache_loads_total";

fn cache_hit(platform: &str) {
    metrics::counter!(METRIC_CACHE_HITS, "platform" => platform.to_owned()).increment(1);
}

fn cache_load(platform: &str) {
    metrics::counter!(METRIC_CACHE_LOADS, "platform" => platform.to_owned()).increment(1);
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
        let platforms = platform::detect(&env, &options);
        tracing::info!(
            "ONNX Runtime from {} ({}); platforms: {}",
            library.display(),
            ort::info(),
            platforms.join(", ")
        );
        Ok(Arc::new(Self {
            cache: ModelCache::new(options.cache_limit, options.cache_bytes),
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
            cache_hit(platform);
            return Ok(model);
        }
        let model = Arc::new(self.load_uncached(path, platform, Vec::new())?);
        cache_load(platform);
        self.cache
            .insert(key, Arc::clone(&model), model_file_bytes(path));
        Ok(model)
    }

    /// A variant of the model at `path` whose initializers `overrides` replaces by name (LoRA
    /// and Textual Inversion blends), cached under `variant` (e.g. the sorted network list), so
    /// `overrides` only runs on a cache miss. An empty `variant` is the plain model.
    pub fn load_variant<E: From<EngineError>>(
        &self,
        path: &Path,
        platform: &str,
        variant: &str,
        overrides: impl FnOnce() -> std::result::Result<Vec<(String, onnx_weights::F32Tensor)>, E>,
    ) -> std::result::Result<Arc<Model>, E> {
        if variant.is_empty() {
            return Ok(self.load(path, platform)?);
        }
        // The cache keys on (file, text): the variant rides in the text after the platform.
        let key = (path.to_path_buf(), format!("{platform}\n{variant}"));
        if let Some(model) = self.cache.get(&key) {
            cache_hit(platform);
            return Ok(model);
        }
        let replaced = overrides()?;
        let model = Arc::new(self.load_uncached(path, platform, replaced)?);
        cache_load(platform);
        self.cache
            .insert(key, Arc::clone(&model), model_file_bytes(path));
        Ok(model)
    }

    /// Drops every cached session (e.g. before a retry after an out-of-memory error).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    fn load_uncached(
        &self,
        path: &Path,
        platform: &str,
        overrides: Vec<(String, onnx_weights::F32Tensor)>,
    ) -> Result<Model> {
        if !path.is_file() {
            return Err(EngineError::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        let providers = platform::execution_providers(platform, &self.options)
            .ok_or_else(|| EngineError::UnknownPlatform(platform.to_owned()))?;
        let load_error = |message: String| EngineError::ModelLoad {
            path: path.to_path_buf(),
            message,
        };
        let started = std::time::Instant::now();
        let mut builder = Session::builder(&self.env)
            .map_err(|e| load_error(e.to_string()))?
            .with_optimization_level(self.options.graph_optimization.level())
            .map_err(|e| load_error(e.to_string()))?
            .with_execution_providers(providers)
            .map_err(|e| load_error(e.to_string()))?;
        if self.options.low_memory {
            builder = builder
                .with_memory_pattern(false)
                .map_err(|e| load_error(e.to_string()))?;
        }
        if self.options.deterministic {
            builder = builder
                .with_deterministic_compute(true)
                .map_err(|e| load_error(e.to_string()))?;
        }
        if self.options.intra_threads > 0 {
            builder = builder
                .with_intra_threads(self.options.intra_threads)
                .map_err(|e| load_error(e.to_string()))?;
        }
        if self.options.inter_threads > 0 {
            builder = builder
                .with_inter_threads(self.options.inter_threads)
                .map_err(|e| load_error(e.to_string()))?;
            if self.options.inter_threads > 1 {
                builder = builder
                    .with_parallel_execution(true)
                    .map_err(|e| load_error(e.to_string()))?;
            }
        }
        for (name, tensor) in overrides {
            let value = ort::value::Tensor::from_array((tensor.dims, tensor.data))
                .map_err(|e| load_error(format!("initializer {name}: {e}")))?;
            builder = builder
                .with_initializer(&name, Arc::new(value.into_dyn()))
                .map_err(|e| load_error(format!("initializer {name}: {e}")))?;
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

/// Size of a model on disk: the `.onnx` file plus the external weight files beside it
/// (`model.onnx_data`, `weights.pb`), a fair estimate of the memory its session takes.
fn model_file_bytes(path: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let external = path
        .parent()
        .map(|dir| {
            ["model.onnx_data", "weights.pb"]
                .iter()
                .map(|f| size(&dir.join(f)))
                .sum()
        })
        .unwrap_or(0);
    size(path) + external
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_web_optimization_flags_set_session_options() {
        let mut options = EngineOptions::default();
        let rest = options.apply_optimizations(&[
            "onnx-graph-basic",
            "onnx-graph-all",
            "onnx-low-memory",
            "diffusers-attention-slicing",
        ]);
        // onnx-web checks disable, basic, extended, all in that order: basic wins.
        assert_eq!(options.graph_optimization, GraphOptimization::Basic);
        assert!(options.low_memory);
        assert!(!options.deterministic);
        assert_eq!(rest, ["diffusers-attention-slicing"]);
    }
}
