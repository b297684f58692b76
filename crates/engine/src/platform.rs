//! onnx-web's platforms: names for ONNX Runtime execution providers. A platform is offered only
//! when the loaded library has its provider and the provider really registers.

use ort::ep::{self, ArenaExtendStrategy, ExecutionProvider, ExecutionProviderDispatch};

use crate::EngineOptions;

/// Platform names in the order onnx-web lists them (cpu last, added by the caller).
pub const GPU_PLATFORMS: &[&str] = &["cuda", "directml", "migraphx", "rocm", "tensorrt"];

/// The execution providers for a platform, most preferred first, with CPU as the fallback for
/// operators the GPU provider does not take.
pub fn execution_providers(
    platform: &str,
    options: &EngineOptions,
) -> Option<Vec<ExecutionProviderDispatch>> {
    let cpu = ep::CPU::default()
        .with_arena_allocator(!options.low_memory)
        .build();
    let mut cuda = ep::CUDA::default();
    if let Some(limit) = options.gpu_memory_limit {
        cuda = cuda
            .with_memory_limit(limit)
            .with_arena_extend_strategy(ArenaExtendStrategy::SameAsRequested);
    }
    let providers = match platform {
        "cpu" => vec![cpu],
        "cuda" => vec![cuda.build().error_on_failure(), cpu],
        "tensorrt" => vec![
            ep::TensorRT::default().build().error_on_failure(),
            ep::CUDA::default().build(),
            cpu,
        ],
        "rocm" => vec![ep::ROCm::default().build().error_on_failure(), cpu],
        "migraphx" => vec![ep::MIGraphX::default().build().error_on_failure(), cpu],
        "directml" => vec![ep::DirectML::default().build().error_on_failure(), cpu],
        _ => return None,
    };
    Some(providers)
}

/// Whether the loaded library was built with the platform's provider.
fn provider_built_in(platform: &str) -> bool {
    let available = match platform {
        "cuda" => ep::CUDA::is_available(),
        "tensorrt" => ep::TensorRT::is_available(),
        "rocm" => ep::ROCm::is_available(),
        "migraphx" => ep::MIGraphX::is_available(),
        "directml" => ep::DirectML::is_available(),
        _ => Ok(false),
    };
    available.unwrap_or(false)
}

/// The platforms that work on this machine: GPU platforms whose provider registers, then `cpu`.
pub fn detect(env: &ort::environment::Environment, options: &EngineOptions) -> Vec<String> {
    let mut platforms = Vec::new();
    for &platform in GPU_PLATFORMS {
        if !provider_built_in(platform) {
            continue;
        }
        // Registering the provider loads its shared library and the GPU runtime it needs; a
        // package built with CUDA on a machine without a GPU fails here, not in a user's job.
        let registered = ort::session::Session::builder(env)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                b.with_execution_providers(
                    execution_providers(platform, options).unwrap_or_default(),
                )
                .map_err(|e| e.to_string())
            });
        match registered {
            Ok(_) => platforms.push(platform.to_owned()),
            Err(error) => tracing::info!("platform {platform} is not usable: {error}"),
        }
    }
    platforms.push("cpu".to_owned());
    platforms
}
