//! `onnx-web`: the server binary, plus `onnx-web generate`, `onnx-web models` and
//! `onnx-web bench`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use onnx_web_engine::{Engine, EngineOptions};
use onnx_web_pipelines::Pipelines;
use onnx_web_server::config::ServerConfig;
use onnx_web_server::jobs::JobQueue;
use onnx_web_server::outputs::OutputWriter;
use onnx_web_server::state::AppState;
use onnx_web_server::worker::PipelineRunner;

mod bench;
mod generate;
mod models_command;

#[derive(Parser, Debug)]
#[command(
    name = "onnx-web",
    version,
    about = "Stable Diffusion server compatible with onnx-web 0.12",
    long_about = "Stable Diffusion server compatible with onnx-web 0.12.\n\n\
        Without a subcommand it serves the API and the GUI. Every option can also be set by \
        the environment variable shown beside it; server options go before the subcommand.",
    after_help = "Examples:\n  \
        onnx-web --models ./models --outputs ./outputs --port 5000\n  \
        onnx-web --models ./models generate \"a red cube\" --steps 20 --seed 42 -o out/\n  \
        onnx-web --models ./models models"
)]
struct Cli {
    #[command(flatten)]
    server: ServerConfig,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args, Debug, Clone)]
struct EngineArgs {
    /// libonnxruntime to load. [default: the ORT_DYLIB_PATH environment variable, else
    /// third_party/onnxruntime, else python3's onnxruntime package]
    #[arg(long, global = true)]
    ort_lib: Option<std::path::PathBuf>,
    /// Threads per ONNX Runtime operator; 0 = one per core.
    #[arg(long, env = "ONNX_WEB_THREADS", default_value_t = 0, global = true)]
    threads: usize,
    /// Threads running independent operators in parallel; 0 = sequential (ONNX Runtime's default).
    #[arg(
        long,
        env = "ONNX_WEB_INTER_THREADS",
        default_value_t = 0,
        global = true
    )]
    inter_threads: usize,
    /// onnx-web's optimization flags, comma separated (onnx-graph-*, onnx-low-memory,
    /// onnx-deterministic-compute).
    #[arg(
        long,
        env = "ONNX_WEB_OPTIMIZATIONS",
        default_value = "",
        global = true
    )]
    optimizations: String,
    /// MiB of model files kept loaded; least recently used models are dropped past it. 0 = no budget.
    #[arg(
        long,
        env = "ONNX_WEB_CACHE_MEMORY_MB",
        default_value_t = 0,
        global = true
    )]
    cache_memory_mb: u64,
    /// CUDA memory limit in bytes (gpu_mem_limit). [default: no limit]
    #[arg(long, env = "ONNX_WEB_MEMORY_LIMIT", global = true)]
    memory_limit: Option<usize>,
}

impl EngineArgs {
    fn options(&self, cache_models: usize) -> EngineOptions {
        let mut options = EngineOptions {
            library: self.ort_lib.clone(),
            intra_threads: self.threads,
            inter_threads: self.inter_threads,
            // Each diffusion model is several sessions (text encoder, UNet, VAE...).
            cache_limit: cache_models * 4,
            cache_bytes: self.cache_memory_mb * 1024 * 1024,
            gpu_memory_limit: self.memory_limit,
            ..EngineOptions::default()
        };
        let flags: Vec<&str> = self
            .optimizations
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        for flag in options.apply_optimizations(&flags) {
            tracing::warn!("optimization {flag:?} does not apply to this server; ignored");
        }
        options
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Make images from a prompt without a server (txt2img; img2img with --init; inpaint with
    /// --init and --mask), with the server's pixels, names and PNG metadata.
    Generate(generate::GenerateArgs),
    /// List what the models folder holds and what would fail to load, and why.
    Models(models_command::ModelsArgs),
    /// Time txt2img on the models folder and print where the time goes.
    Bench(bench::BenchArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,ort=warn".into()),
        )
        .with_writer(std::io::stderr)
        // A log that cannot be written (a full disk) must not panic whatever was logging.
        .log_internal_errors(false)
        .init();
    let cli = Cli::parse();
    if let Err(error) = run(cli) {
        eprintln!("onnx-web: {error:#}");
        std::process::exit(1);
    }
}

fn run(mut cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Generate(args)) => {
            if let Some(output) = &args.output {
                cli.server.outputs = output.clone();
            }
            cli.server.validate()?;
        }
        // Only reads the models folder: no output folder is made.
        Some(Command::Models(_)) => {
            if !cli.server.models.is_dir() {
                anyhow::bail!(
                    "model path {} does not exist or is not a folder (set --models or ONNX_WEB_MODEL_PATH)",
                    cli.server.models.display()
                );
            }
        }
        _ => cli.server.validate()?,
    }
    // Before anything records: the engine's cache counters go to the same recorder.
    onnx_web_server::metrics::handle();
    let engine = Engine::new(cli.engine.options(cli.server.cache_models))?;
    let pipelines =
        Arc::new(Pipelines::new(Arc::clone(&engine)).with_models_root(cli.server.models.clone()));
    match cli.command {
        Some(Command::Bench(args)) => bench::run(&cli.server, &pipelines, args),
        Some(Command::Generate(args)) => generate::run(&cli.server, &pipelines, args),
        Some(Command::Models(args)) => models_command::run(&cli.server, &pipelines, args),
        None => serve(cli.server, pipelines),
    }
}

fn serve(config: ServerConfig, pipelines: Arc<Pipelines>) -> anyhow::Result<()> {
    let devices = pipelines.engine().platforms().to_vec();
    prepare_process(config.limits.max_connections);
    onnx_web_server::limits::install(&config.limits);
    if !onnx_web_server::auth::is_loopback_host(&config.host) && config.api_token.is_none() {
        tracing::warn!(
            "listening on {} without --api-token: anyone who can reach it may queue jobs",
            config.host
        );
    }
    // Blocked platforms get no worker; the served platform list leaves them out too.
    let queue = JobQueue::new(onnx_web_server::state::usable_devices(&devices, &config));
    let store = Arc::new(onnx_web_server::persist::JobStore::open(
        &config.jobs_db_path(),
    )?);
    onnx_web_server::persist::warn_if_history_lost(&store, &config)?;
    queue.attach_store(Arc::clone(&store))?;
    let writer = OutputWriter::new(config.outputs.clone(), config.server_version.clone());
    let engine = Arc::clone(pipelines.engine());
    let workers = queue.start_workers(Arc::new(PipelineRunner::new(pipelines, writer)));
    let state = Arc::new(
        AppState::new(config.clone(), devices, Arc::clone(&queue))?
            .with_recycle_hook(Box::new(move || engine.clear_cache())),
    );
    let app = onnx_web_server::routes::router(state);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Jobs left unfinished by the last run go back in the queue before anything new.
        onnx_web_server::persist::resume(app.clone(), &queue).await?;
        let address: SocketAddr = format!("{}:{}", config.host, config.port)
            .parse()
            .or_else(|_| {
                std::net::ToSocketAddrs::to_socket_addrs(&(config.host.as_str(), config.port))
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or(())
            })
            .map_err(|_| anyhow::anyhow!("--host {:?} is not an address", config.host))?;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        // Scripts and tests read this line to learn the port (`--port 0` picks a free one).
        println!("onnx-web listening on http://{}", listener.local_addr()?);
        let stop_grace = Duration::from_secs(config.stop_grace_secs);
        onnx_web_server::listener::serve(
            listener,
            app,
            config.limits.connections(stop_grace),
            stop_signal(),
        )
        .await;
        anyhow::Ok(())
    })?;
    // No job starts any more; the running one finishes within the grace time or is kept,
    // pending, for the next start.
    queue.stop(Duration::from_secs(config.stop_grace_secs));
    for worker in workers {
        let _ = worker.join();
    }
    store.checkpoint()?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM as systemd, Docker and Kubernetes send it.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("stopping: no new connections; open requests and the running job may finish");
}

/// Process settings a long-running server wants on Unix: a file size limit fails the write
/// (an error the job reports) instead of killing the process with SIGXFSZ, and the soft limit
/// on open files is raised so `--max-connections` fits.
#[cfg(unix)]
fn prepare_process(max_connections: usize) {
    // SAFETY: setting a signal to be ignored and reading/raising our own rlimit have no
    // memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut files = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut files) == 0 {
            let wanted = (max_connections as libc::rlim_t).saturating_add(256);
            if files.rlim_cur < wanted {
                files.rlim_cur = wanted.min(files.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &files);
            }
            if files.rlim_cur < wanted {
                tracing::warn!(
                    "only {} files may be open; lower --max-connections below {}",
                    files.rlim_cur,
                    files.rlim_cur.saturating_sub(256)
                );
            }
        }
    }
}

#[cfg(not(unix))]
fn prepare_process(_max_connections: usize) {}
