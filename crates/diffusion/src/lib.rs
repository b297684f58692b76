//! The diffusion layer: tokenizer, text encoding, schedulers, noise and the model parts of a
//! Stable Diffusion pipeline.

pub mod controlnet;
pub mod error;
pub mod float16;
pub mod image_model;
pub mod latents;
pub mod long_prompt;
pub mod networks;
pub mod noise;
pub mod prompt;
pub mod prompt_parser;
pub mod schedulers;
pub mod sd_upscaler;
pub mod sdxl;
pub mod stable_diffusion;
pub mod text_encoder;
pub mod text_generation;
pub mod tokenizer;
pub mod unet;
pub mod vae;
pub mod vae_encoder;

pub use error::{DiffusionError, Result};
pub use stable_diffusion::StableDiffusion;
