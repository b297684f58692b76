//! `onnx-web bench`: where the time of a request goes, on any models folder: txt2img's denoising
//! loop, every pipeline through the worker's stage runner, and the HTTP server (start time,
//! `/api/ready` latency under load, requests/s, memory over many jobs).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onnx_web_imageops::{
    encode_png_with_text, GrayImage, Luma, MaskFilter, NoiseSource, Rgb, RgbImage,
};
use onnx_web_pipelines::inpaint::InpaintOptions;
use onnx_web_pipelines::txt2img::{self, RunStats};
use onnx_web_pipelines::{
    Border, HighresOptions, ImageParams, JobContext, Pipelines, Progress, Size, TileOptions,
    UpscaleOptions,
};
use onnx_web_server::config::ServerConfig;
use onnx_web_server::jobs::JobQueue;
use onnx_web_server::outputs::OutputWriter;
use onnx_web_server::routes::router;
use onnx_web_server::state::{usable_devices, AppState};
use onnx_web_server::worker::PipelineRunner;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Diffusion model folder names to time (default: every folder with a unet/model.onnx).
    #[arg(long = "model")]
    models: Vec<String>,
    /// Square image sizes in pixels.
    #[arg(long = "size", default_values_t = [64u32, 256])]
    sizes: Vec<u32>,
    /// Denoising steps per run.
    #[arg(long, default_value_t = 10)]
    steps: u32,
    /// Images per run (one batch).
    #[arg(long, default_value_t = 1)]
    batch: u32,
    /// Scheduler of every run.
    #[arg(long, default_value = "euler")]
    scheduler: String,
    /// Timed runs per row, after one warm-up run.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Platform to run on.
    #[arg(long, default_value = "cpu")]
    platform: String,
    /// Pipelines to time through the worker's stage runner (none: `--pipeline none`).
    #[arg(
        long = "pipeline",
        default_values_t = ["txt2img", "img2img", "inpaint", "upscale", "highres", "tiled"].map(String::from)
    )]
    pipelines: Vec<String>,
    /// Skip the in-process HTTP server measurements.
    #[arg(long)]
    no_server: bool,
    /// Sequential jobs through the HTTP server, for memory flatness (0: skip).
    #[arg(long, default_value_t = 20)]
    jobs: u32,
    /// Concurrent HTTP clients for requests/s.
    #[arg(long, default_value_t = 8)]
    clients: u32,
    /// `/api/ready` requests while a job runs, and per client for requests/s.
    #[arg(long, default_value_t = 200)]
    requests: u32,
    /// Image side of the server's jobs.
    #[arg(long, default_value_t = 64)]
    server_size: u32,
    /// Steps of the server's jobs.
    #[arg(long, default_value_t = 4)]
    server_steps: u32,
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

pub fn run(
    config: &ServerConfig,
    pipelines: &Arc<Pipelines>,
    args: BenchArgs,
) -> anyhow::Result<()> {
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
    let pipelines_to_time: Vec<&String> = args.pipelines.iter().filter(|p| *p != "none").collect();
    if !pipelines_to_time.is_empty() {
        pipeline_table(config, pipelines, &args, &models)?;
    }
    if !args.no_server {
        server_bench(config, pipelines, &args, &models[0])?;
    }
    let (rss, peak) = memory();
    println!();
    println!("memory: {rss:.0} MiB resident now, {peak:.0} MiB peak (VmRSS, VmHWM)");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Every pipeline, through the stage runner the worker uses.

/// Reads a `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`), in MiB.
fn proc_status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line[key.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn memory() -> (f64, f64) {
    (
        proc_status_mib("VmRSS").unwrap_or(0.0),
        proc_status_mib("VmHWM").unwrap_or(0.0),
    )
}

/// Time inside ONNX Runtime so far: every cached model, and the UNets among them.
fn runtime_times(pipelines: &Pipelines) -> (Duration, Duration) {
    let mut total = Duration::ZERO;
    let mut unet = Duration::ZERO;
    for model in pipelines.engine().cache().models() {
        total += model.time_in_run();
        let folder = model.path().parent().and_then(|p| p.file_name());
        if folder.is_some_and(|f| f == "unet") {
            unet += model.time_in_run();
        }
    }
    (total, unet)
}

/// A deterministic colourful source image and a mask with a white centre square.
fn test_images(size: u32) -> (RgbImage, GrayImage) {
    let source = RgbImage::from_fn(size, size, |x, y| {
        Rgb([
            (x * 255 / size.max(1)) as u8,
            (y * 255 / size.max(1)) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let mask = GrayImage::from_fn(size, size, |x, y| {
        let inside = |v: u32| v >= size / 4 && v < size * 3 / 4;
        Luma([if inside(x) && inside(y) { 255 } else { 0 }])
    });
    (source, mask)
}

/// The first Real-ESRGAN-style upscaler in the models folder, with its factor from the name.
fn find_upscaler(root: &Path) -> Option<(PathBuf, String, u32)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "onnx")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("upscaling"))
        })
        .collect();
    files.sort();
    let path = files.into_iter().next()?;
    let name = path.file_stem()?.to_str()?.to_owned();
    let scale = if name.contains("x2") { 2 } else { 4 };
    Some((path, name, scale))
}

/// Runs one pipeline request (and encodes its PNGs, timed into `png`); returns its UNet steps.
fn run_pipeline(
    pipelines: &Pipelines,
    platform: &str,
    kind: &str,
    params: &ImageParams,
    size: Size,
    upscaler: Option<&(PathBuf, String, u32)>,
    png: &mut Duration,
) -> anyhow::Result<u32> {
    let progress = Progress::new();
    let mut tiles = TileOptions::default();
    let mut upscale = UpscaleOptions::none();
    let mut highres = HighresOptions::disabled();
    match kind {
        "highres" => {
            highres = HighresOptions {
                enabled: true,
                iterations: 1,
                method: "bilinear".into(),
                scale: 2,
                strength: 0.3,
            }
        }
        "tiled" => {
            // MultiDiffusion views of half the image, and the tiled VAE.
            let half = (size.width.max(size.height) / 2).max(64);
            tiles.unet_tile = half;
            tiles.vae_tile = half;
            tiles.tiled_vae = true;
        }
        "upscale" => {
            let (path, name, scale) = upscaler
                .ok_or_else(|| anyhow::anyhow!("no upscaling-*.onnx model in the models folder"))?;
            upscale.upscale = true;
            upscale.upscale_model = Some(path.clone());
            upscale.upscale_name = Some(name.clone());
            upscale.scale = *scale;
            upscale.outscale = *scale;
        }
        _ => {}
    }
    let ctx = JobContext {
        pipelines,
        platform,
        params,
        tiles,
        upscale,
        highres,
        progress: &progress,
    };
    let (source, mask) = test_images(size.width);
    let images = match kind {
        "txt2img" | "highres" | "tiled" => ctx.txt2img(size, |models| {
            Ok(txt2img::run(models, params, size, &progress)?.images)
        })?,
        "img2img" => ctx.img2img(&source, 0.6, 0)?,
        "inpaint" => ctx.inpaint(
            &source,
            &mask,
            &InpaintOptions {
                border: Border::default(),
                fill: Rgb([0, 0, 0]),
                noise: NoiseSource::Histogram,
                filter: MaskFilter::None,
                fullres: false,
                fullres_padding: 0.0,
            },
        )?,
        "upscale" => vec![ctx.upscale(&source)?],
        other => anyhow::bail!("unknown pipeline {other:?}"),
    };
    let started = Instant::now();
    for image in &images {
        encode_png_with_text(image, &[("make", "onnx-web")])?;
    }
    *png += started.elapsed();
    Ok(progress.steps())
}

fn pipeline_table(
    config: &ServerConfig,
    pipelines: &Pipelines,
    args: &BenchArgs,
    models: &[String],
) -> anyhow::Result<()> {
    let upscaler = find_upscaler(&config.models);
    println!();
    println!(
        "Pipelines (the worker's stage runner; 'first' includes model loading; 'own' is the request's \
         time outside ONNX Runtime and PNG encoding, per UNet step and as a share of the request)"
    );
    println!(
        "{:<28} {:<8} {:>9} {:>9} {:>10} {:>10} {:>7} {:>11} {:>11} {:>8} {:>9} {:>9}",
        "model",
        "pipeline",
        "size",
        "first ms",
        "request ms",
        "in ORT ms",
        "PNG ms",
        "UNet ms/st",
        "own/step",
        "own %",
        "RSS MiB",
        "peak MiB"
    );
    for name in models {
        let dir = config.models.join(name);
        for &side in &args.sizes {
            let size = Size {
                width: side,
                height: side,
            };
            for kind in args.pipelines.iter().filter(|p| *p != "none") {
                if kind == "upscale" && upscaler.is_none() {
                    println!("{name:<28} {kind:<8} skipped: no upscaling-*.onnx model");
                    continue;
                }
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
                let started = Instant::now();
                let mut png = Duration::ZERO;
                if let Err(error) = run_pipeline(
                    pipelines,
                    &args.platform,
                    kind,
                    &params,
                    size,
                    upscaler.as_ref(),
                    &mut png,
                ) {
                    println!("{name:<28} {kind:<8} failed: {error:#}");
                    continue;
                }
                let first = started.elapsed();
                let (ort_before, unet_before) = runtime_times(pipelines);
                let mut request = Duration::ZERO;
                let mut png = Duration::ZERO;
                let mut steps = 0u32;
                let runs = args.runs.max(1);
                for _ in 0..runs {
                    let started = Instant::now();
                    steps += run_pipeline(
                        pipelines,
                        &args.platform,
                        kind,
                        &params,
                        size,
                        upscaler.as_ref(),
                        &mut png,
                    )?;
                    request += started.elapsed();
                }
                let (ort_after, unet_after) = runtime_times(pipelines);
                let in_ort = ort_after.saturating_sub(ort_before);
                let in_unet = unet_after.saturating_sub(unet_before);
                let own = request.saturating_sub(in_ort).saturating_sub(png);
                let (rss, peak) = memory();
                let per_step = |d: Duration| {
                    if steps == 0 {
                        None
                    } else {
                        Some(d / steps)
                    }
                };
                println!(
                    "{:<28} {:<8} {:>9} {:>9.1} {:>10.1} {:>10.1} {:>7.1} {:>11} {:>11} {:>7.2}% {:>9.0} {:>9.0}",
                    name,
                    kind,
                    format!("{side}x{side}"),
                    millis(first),
                    millis(request / runs),
                    millis(in_ort / runs),
                    millis(png / runs),
                    per_step(in_unet).map_or("-".into(), |d| format!("{:.2}", millis(d))),
                    per_step(own).map_or("-".into(), |d| format!("{:.1} µs", d.as_secs_f64() * 1e6)),
                    100.0 * own.as_secs_f64() / request.as_secs_f64().max(1e-9),
                    rss,
                    peak
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The HTTP server, in-process, on a loopback port.

/// One HTTP/1.1 request on a fresh connection; returns the status and the body.
fn http(address: SocketAddr, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no HTTP status in {text:.80}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

fn submit_txt2img(
    address: SocketAddr,
    model: &str,
    size: u32,
    steps: u32,
    seed: u32,
) -> anyhow::Result<String> {
    let path = format!(
        "/api/txt2img?model={model}&prompt=a+red+cube&steps={steps}&width={size}&height={size}&seed={seed}&scheduler=euler"
    );
    let (status, body) = http(address, "POST", &path)?;
    anyhow::ensure!(status == 200, "txt2img answered {status}: {body}");
    let value: serde_json::Value = serde_json::from_str(&body)?;
    value["outputs"][0]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no outputs in {body}"))
}

fn is_ready(address: SocketAddr, key: &str) -> anyhow::Result<(bool, bool)> {
    let (status, body) = http(address, "GET", &format!("/api/ready?output={key}"))?;
    anyhow::ensure!(status == 200, "ready answered {status}: {body}");
    let value: serde_json::Value = serde_json::from_str(&body)?;
    Ok((
        value["ready"].as_bool().unwrap_or(false),
        value["failed"].as_bool().unwrap_or(false),
    ))
}

/// Polls until the job is ready (bounded); fails when it failed.
fn wait_ready(address: SocketAddr, key: &str, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let (ready, failed) = is_ready(address, key)?;
        if ready {
            anyhow::ensure!(!failed, "job {key} failed");
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "job {key} not ready after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn percentile(sorted: &[Duration], at: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * at).round() as usize]
}

fn server_bench(
    config: &ServerConfig,
    pipelines: &Arc<Pipelines>,
    args: &BenchArgs,
    model: &str,
) -> anyhow::Result<()> {
    let outputs = std::env::temp_dir().join(format!("onnx-web-bench-{}", std::process::id()));
    let mut config = config.clone();
    config.outputs = outputs.clone();
    config.host = "127.0.0.1".into();
    config.port = 0;
    config.validate()?;
    let result = (|| {
        let started = Instant::now();
        let devices = pipelines.engine().platforms().to_vec();
        let queue = JobQueue::new(usable_devices(&devices, &config));
        let writer = OutputWriter::new(config.outputs.clone(), config.server_version.clone());
        let workers =
            queue.start_workers(Arc::new(PipelineRunner::new(Arc::clone(pipelines), writer)));
        let state = Arc::new(AppState::new(config.clone(), devices, Arc::clone(&queue))?);
        let app = router(state);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = runtime.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        // Until the first HTTP answer (a bound socket accepts before the server reads).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(http(address, "GET", "/api"), Ok((200, _))) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the server did not answer in 10 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let start_time = started.elapsed();
        let outcome = server_measurements(address, args, model, start_time);
        let _ = stop.send(());
        let _ = runtime.block_on(server);
        queue.shutdown();
        for worker in workers {
            let _ = worker.join();
        }
        outcome
    })();
    let _ = std::fs::remove_dir_all(&outputs);
    result
}

fn server_measurements(
    address: SocketAddr,
    args: &BenchArgs,
    model: &str,
    start_time: Duration,
) -> anyhow::Result<()> {
    let size = args.server_size;
    let steps = args.server_steps.max(1);
    println!();
    println!(
        "HTTP server (in-process, {address}, model {model}, jobs txt2img {size}x{size}, {steps} steps)"
    );
    println!(
        "  start until the first HTTP answer:   {:>10.1} ms",
        millis(start_time)
    );

    // A warm-up job loads the models.
    let key = submit_txt2img(address, model, size, steps, 1)?;
    wait_ready(address, &key, Duration::from_secs(600))?;

    // /api/ready latency while a longer job runs.
    let key = submit_txt2img(address, model, size, steps * 8, 2)?;
    let mut latencies = Vec::new();
    let mut while_running = 0;
    for _ in 0..args.requests {
        let started = Instant::now();
        let (ready, _) = is_ready(address, &key)?;
        latencies.push(started.elapsed());
        if !ready {
            while_running += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    latencies.sort();
    println!(
        "  /api/ready while a job runs:         {:>10.2} ms median, {:.2} ms p99, {:.2} ms max ({} requests, {} of them while the job ran)",
        millis(percentile(&latencies, 0.5)),
        millis(percentile(&latencies, 0.99)),
        millis(*latencies.last().unwrap_or(&Duration::ZERO)),
        latencies.len(),
        while_running
    );
    wait_ready(address, &key, Duration::from_secs(600))?;

    // Requests per second, `clients` concurrent connections, bounded in count and time.
    let clients = args.clients.max(1);
    let per_client = args.requests.max(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let started = Instant::now();
    let done: Vec<anyhow::Result<u32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let key = key.clone();
                scope.spawn(move || {
                    let mut done = 0;
                    for _ in 0..per_client {
                        if Instant::now() > deadline {
                            break;
                        }
                        is_ready(address, &key)?;
                        done += 1;
                    }
                    anyhow::Ok(done)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("client panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let mut total = 0;
    for count in done {
        total += count?;
    }
    println!(
        "  GET /api/ready, {clients} concurrent clients: {:>10.0} requests/s ({total} requests in {:.2} s, a new connection each)",
        f64::from(total) / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );

    // Memory flatness over sequential jobs.
    let jobs = args.jobs;
    if jobs > 0 {
        let started = Instant::now();
        let mut after_first = (0.0, 0.0);
        for job in 0..jobs {
            let key = submit_txt2img(address, model, size, steps, 100 + job)?;
            wait_ready(address, &key, Duration::from_secs(600))?;
            if job == 0 {
                after_first = memory();
            }
        }
        let elapsed = started.elapsed();
        let after_last = memory();
        println!(
            "  {jobs} sequential jobs:                {:>10.1} ms per job ({:.2} jobs/s)",
            millis(elapsed / jobs),
            f64::from(jobs) / elapsed.as_secs_f64()
        );
        println!(
            "  RSS after job 1 / after job {jobs}:     {:>10.1} MiB / {:.1} MiB ({:+.1} MiB); peak {:.1} MiB",
            after_first.0,
            after_last.0,
            after_last.0 - after_first.0,
            after_last.1
        );
    }
    Ok(())
}
