//! txt2img on the real engine and the tiny models, below the HTTP layer.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use onnx_web_engine::{Engine, EngineOptions};
use onnx_web_pipelines::{ImageParams, PipelineError, Pipelines, Progress, Size};

fn pipelines() -> &'static Pipelines {
    static PIPELINES: OnceLock<Pipelines> = OnceLock::new();
    PIPELINES.get_or_init(|| {
        Pipelines::new(
            Engine::new(EngineOptions::default()).expect("ONNX Runtime (scripts/setup.sh)"),
        )
    })
}

fn params(scheduler: &str, steps: u32, cfg: f32) -> ImageParams {
    let models = std::env::var_os("ONNX_WEB_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    let model_dir = models.join("diffusion-tiny-demo");
    assert!(
        model_dir.is_dir(),
        "run scripts/setup.sh first: {} is missing",
        model_dir.display()
    );
    ImageParams {
        model_dir,
        pipeline: "txt2img".into(),
        scheduler: scheduler.into(),
        prompt: "a red cube".into(),
        negative_prompt: None,
        cfg,
        seed: 11,
        steps,
        eta: 0.0,
        batch: 1,
    }
}

const SIZE: Size = Size {
    width: 64,
    height: 48,
};

#[test]
fn counts_one_step_per_unet_call_and_accounts_for_runtime_time() {
    let progress = Progress::new();
    let output = pipelines()
        .txt2img(&params("euler", 5, 6.0), SIZE, "cpu", &progress)
        .unwrap();
    assert_eq!(progress.steps(), 5);
    assert_eq!(output.stats.unet_calls, 5);
    assert!(output.stats.in_unet <= output.stats.in_runtime);
    assert!(output.stats.in_runtime <= output.stats.total);
    assert_eq!(output.images.len(), 1);
    assert_eq!(output.images[0].dimensions(), (64, 48));
}

#[test]
fn guidance_changes_the_result_and_cfg_one_turns_it_off() {
    let run = |cfg: f32| {
        pipelines()
            .txt2img(&params("ddim", 4, cfg), SIZE, "cpu", &Progress::new())
            .unwrap()
            .images
    };
    let unguided = run(1.0);
    assert_eq!(unguided, run(0.5), "cfg <= 1 means no guidance at all");
    assert_ne!(unguided, run(7.5));
}

#[test]
fn a_cancel_from_another_thread_stops_the_loop_at_the_next_step() {
    let progress = Arc::new(Progress::new());
    let watcher = {
        let progress = Arc::clone(&progress);
        std::thread::spawn(move || {
            while progress.steps() < 2 {
                std::thread::yield_now();
            }
            progress.cancel();
        })
    };
    let result = pipelines().txt2img(
        &params("euler-a", 300, 6.0),
        Size {
            width: 128,
            height: 128,
        },
        "cpu",
        &progress,
    );
    watcher.join().unwrap();
    assert!(
        matches!(result, Err(PipelineError::Cancelled(_))),
        "{:?}",
        result.err()
    );
    assert!(
        progress.steps() < 300,
        "stopped after {} steps",
        progress.steps()
    );
}

#[test]
fn sizes_that_are_not_multiples_of_eight_are_refused() {
    let result = pipelines().txt2img(
        &params("euler", 2, 6.0),
        Size {
            width: 60,
            height: 64,
        },
        "cpu",
        &Progress::new(),
    );
    assert!(
        matches!(result, Err(PipelineError::InvalidSize(_))),
        "{:?}",
        result.err()
    );
}
