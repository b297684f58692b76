//! `onnx-web bench`: where the time of a txt2img request goes, on any models folder.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use onnx_web_imageops::encode_png_with_text;
use onnx_web_pipelines::txt2img::{self, RunStats};
use onnx_web_pipelines::{ImageParams, Pipelines, Progress, Size};
use onnx_web_server::config::ServerConfig;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Diffusion model folder names to time (default: every folder with a unet/model.onnx).
    #[arg(long = "model")]
    models: Vec<String>,
    /// Square image sizes in pixels.
    #[arg(long = "size", default_values_t = [64u32, 256])]
    sizes: Vec<u32>,
    #[arg(long, default_value_t = 10)]
    steps: u32,
    #[arg(long, default_value_t = 1)]
    batch: u32,
    #[arg(long, default_value = "euler")]
    scheduler: String,
    /// Timed runs per row, after one warm-up run.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    #[arg(long, default_value = "cpu")]
    platform: String,
}

fn diffusion_models(root: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("unet/model.onnx").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(config: &ServerConfig, pipelines: &Pipelines, args: BenchArgs) -> anyhow::Result<()> {
    let models = if args.models.is_empty() {
        diffusion_models(&config.models)
    } else {
        args.models.clone()
    };
    anyhow::ensure!(
        !models.is_empty(),
        "no diffusion models in {}",
        config.models.display()
    );
    println!(
        "onnx-web bench: {} steps, batch {}, scheduler {}, platform {}, {} runs per row, ONNX Runtime from {}",
        args.steps,
        args.batch,
        args.scheduler,
        args.platform,
        args.runs,
        pipelines.engine().library().display()
    );
    println!(
        "{:<28} {:>9} {:>10} {:>12} {:>12} {:>12} {:>14} {:>10}",
        "model",
        "size",
        "load ms",
        "request ms",
        "in ORT ms",
        "UNet ms/step",
        "overhead/step",
        "overhead %"
    );
    for name in &models {
        let dir: PathBuf = config.models.join(name);
        let load_started = Instant::now();
        let loaded = pipelines.stable_diffusion(&dir, &args.platform)?;
        let load = load_started.elapsed();
        for &size in &args.sizes {
            let params = ImageParams {
                model_dir: dir.clone(),
                pipeline: "txt2img".into(),
                scheduler: args.scheduler.clone(),
                prompt: "a red cube on a wooden table".into(),
                negative_prompt: None,
                cfg: 6.0,
                seed: 42,
                steps: args.steps,
                eta: 0.0,
                batch: args.batch,
            };
            let size = Size {
                width: size,
                height: size,
            };
            let mut request = Duration::ZERO;
            let mut totals = RunStats::default();
            for run in 0..=args.runs {
                let started = Instant::now();
                let output = txt2img::run(&loaded, &params, size, &Progress::new())?;
                for image in &output.images {
                    encode_png_with_text(image, &[("make", "onnx-web")])?;
                }
                if run == 0 {
                    continue; // warm-up: arena growth and first-run allocations
                }
                request += started.elapsed();
                totals.in_runtime += output.stats.in_runtime;
                totals.in_unet += output.stats.in_unet;
                totals.denoise_loop += output.stats.denoise_loop;
                totals.unet_calls += output.stats.unet_calls;
            }
            let runs = args.runs.max(1);
            let unet_per_step = totals.in_unet / totals.unet_calls.max(1);
            let overhead = totals.overhead_per_step();
            let share = if unet_per_step.is_zero() {
                0.0
            } else {
                100.0 * overhead.as_secs_f64() / (unet_per_step + overhead).as_secs_f64()
            };
            println!(
                "{:<28} {:>9} {:>10.1} {:>12.1} {:>12.1} {:>12.2} {:>11.1} µs {:>9.2}%",
                name,
                format!("{}x{}", size.width, size.height),
                millis(load),
                millis(request / runs),
                millis(totals.in_runtime / runs),
                millis(unet_per_step),
                overhead.as_secs_f64() * 1e6,
                share
            );
        }
    }
    Ok(())
}
