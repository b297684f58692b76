//! Image pipelines: txt2img today; img2img, inpaint, upscale and chains build on the same parts.

pub mod error;
pub mod params;
pub mod progress;
pub mod txt2img;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use onnx_web_diffusion::tokenizer::ClipTokenizer;
use onnx_web_diffusion::StableDiffusion;
use onnx_web_engine::Engine;
use parking_lot::Mutex;

pub use error::{PipelineError, Result};
pub use params::{ImageParams, Size};
pub use progress::{Cancelled, Progress};

/// Shared by all workers: the engine (with its session cache) and parsed tokenizers.
pub struct Pipelines {
    engine: Arc<Engine>,
    tokenizers: Mutex<HashMap<PathBuf, Arc<ClipTokenizer>>>,
}

impl Pipelines {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            tokenizers: Mutex::new(HashMap::new()),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn tokenizer(&self, model_dir: &Path) -> Result<Arc<ClipTokenizer>> {
        if let Some(tokenizer) = self.tokenizers.lock().get(model_dir) {
            return Ok(Arc::clone(tokenizer));
        }
        let tokenizer = Arc::new(ClipTokenizer::from_dir(&model_dir.join("tokenizer"))?);
        self.tokenizers
            .lock()
            .insert(model_dir.to_path_buf(), Arc::clone(&tokenizer));
        Ok(tokenizer)
    }

    /// The Stable Diffusion parts of `model_dir` on `platform`.
    pub fn stable_diffusion(&self, model_dir: &Path, platform: &str) -> Result<StableDiffusion> {
        let tokenizer = self.tokenizer(model_dir)?;
        Ok(StableDiffusion::load(
            &self.engine,
            model_dir,
            platform,
            tokenizer,
        )?)
    }

    /// Loads the model and runs txt2img.
    pub fn txt2img(
        &self,
        params: &ImageParams,
        size: Size,
        platform: &str,
        progress: &Progress,
    ) -> Result<txt2img::Txt2ImgOutput> {
        let models = self.stable_diffusion(&params.model_dir, platform)?;
        progress.check()?;
        txt2img::run(&models, params, size, progress)
    }
}
