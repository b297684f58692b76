//! The engine against the real ONNX Runtime library and the generated tiny models.

mod common;

use common::{engine, models};

use onnx_web_engine::ort::value::{TensorElementType, TensorRef};
use onnx_web_engine::EngineError;

#[test]
fn finds_the_library_and_offers_cpu_last() {
    let engine = engine();
    assert!(engine.library().is_file());
    assert_eq!(engine.platforms().last().map(String::as_str), Some("cpu"));
    let name = engine.library().file_name().unwrap().to_string_lossy();
    assert!(name.contains("onnxruntime"), "{name}");
}

#[test]
fn reads_model_interfaces_of_both_layouts() {
    let engine = engine();
    let demo = engine
        .load(&models().join("diffusion-tiny-demo/unet/model.onnx"), "cpu")
        .unwrap();
    let names: Vec<&str> = demo.inputs().iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["sample", "timestep", "encoder_hidden_states"]);
    assert_eq!(
        demo.input("timestep").unwrap().element_type,
        Some(TensorElementType::Float32)
    );
    assert_eq!(demo.input("sample").unwrap().shape.len(), 4);
    assert_eq!(demo.outputs()[0].name, "out_sample");
    let int64 = engine
        .load(
            &models().join("diffusion-tiny-int64/unet/model.onnx"),
            "cpu",
        )
        .unwrap();
    assert_eq!(
        int64.input("timestep").unwrap().element_type,
        Some(TensorElementType::Int64)
    );
}

#[test]
fn runs_a_model_and_counts_the_time_inside_it() {
    let engine = engine();
    let decoder = engine
        .load(
            &models().join("diffusion-tiny-demo/vae_decoder/model.onnx"),
            "cpu",
        )
        .unwrap();
    let runs_before = decoder.runs();
    let latents = vec![0.1f32; 4 * 8 * 8];
    let input = TensorRef::from_array_view(([1usize, 4, 8, 8], &latents[..])).unwrap();
    let (shape, finite) = decoder
        .run(
            onnx_web_engine::ort::inputs!["latent_sample" => input],
            |outputs| {
                let (shape, data) = outputs[0].try_extract_tensor::<f32>()?;
                Ok((shape.to_vec(), data.iter().all(|x| x.is_finite())))
            },
        )
        .unwrap();
    assert_eq!(shape, [1, 3, 64, 64]);
    assert!(finite);
    assert!(decoder.runs() > runs_before);
    assert!(!decoder.time_in_run().is_zero());
}

#[test]
fn bad_models_and_platforms_are_errors_not_crashes() {
    let engine = engine();
    let missing = engine.load(&models().join("nothing/here.onnx"), "cpu");
    assert!(
        matches!(missing, Err(EngineError::ModelMissing { .. })),
        "{missing:?}"
    );

    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), b"this is not an onnx model").unwrap();
    let broken = engine.load(garbage.path(), "cpu");
    assert!(
        matches!(broken, Err(EngineError::ModelLoad { .. })),
        "{broken:?}"
    );

    let model = models().join("diffusion-tiny-demo/vae_decoder/model.onnx");
    let unknown = engine.load(&model, "abacus");
    assert!(
        matches!(unknown, Err(EngineError::UnknownPlatform(_))),
        "{unknown:?}"
    );
}
