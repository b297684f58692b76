//! `onnx-web generate`: from a prompt to PNG files without a server.
//!
//! The options become the query string the server would get (`prompt`, `model`, `steps`,
//! `width`/`height`, `seed`, `scheduler`, `batch`...), which goes through the server's own
//! parsing, job building ([`images_routes::prepare_txt2img`] and friends), pipeline runner and
//! output writer, in this process. The same parameters give the same pixels, names and metadata
//! as `POST /api/txt2img` (`/api/img2img` with `--init`, `/api/inpaint` with `--mask`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use onnx_web_pipelines::{Pipelines, Progress};
use onnx_web_server::config::ServerConfig;
use onnx_web_server::error::ApiError;
use onnx_web_server::images_routes::{
    prepare_img2img, prepare_inpaint, prepare_txt2img, PreparedJob,
};
use onnx_web_server::jobs::{JobQueue, JobRunner};
use onnx_web_server::naming::unix_time_now;
use onnx_web_server::outputs::OutputWriter;
use onnx_web_server::params::Query;
use onnx_web_server::state::{usable_devices, AppState};
use onnx_web_server::uploads::Uploads;
use onnx_web_server::worker::PipelineRunner;

const EXAMPLES: &str = "\
Examples:
  onnx-web --models ./models generate \"a red cube\" --model diffusion-sd-v1-5 \\
      --steps 20 --size 512x512 --seed 42 --scheduler euler-a -n 2 -o out/
  onnx-web generate \"a blue sphere\" --init photo.png --strength 0.6 -o out/
  onnx-web generate \"a garden\" --init photo.png --mask mask.png --model diffusion-inpaint -o out/
  onnx-web generate \"a cat\" --param eta=0.5 --param tiled_vae=true

Server options (--models, --params, --extra-models, --server-version, --threads...) go before
`generate`, or come from their environment variables. Options left out take the server's
defaults from params.json, so a request with the same parameters makes the same pixels, file
names and PNG metadata as the server. The files written are printed, one per line.";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct GenerateArgs {
    /// The prompt (wildcards and <lora:...>/<inversion:...> tokens work as on the server).
    pub prompt: String,
    /// Negative prompt. [default: none]
    #[arg(long)]
    pub negative_prompt: Option<String>,
    /// Diffusion model: a folder name from `onnx-web models`. [default: params.json's model, or
    /// the first diffusion model]
    #[arg(long)]
    pub model: Option<String>,
    /// Denoising steps. [default: params.json's steps (25)]
    #[arg(long)]
    pub steps: Option<u32>,
    /// Image size, WIDTHxHEIGHT (txt2img only: --init images keep their own size). [default:
    /// params.json's width and height (512x512)]
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
    /// Seed; -1 draws one, as the server does. [default: -1]
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<i64>,
    /// Scheduler (ddim, euler, euler-a, pndm...). [default: params.json's scheduler]
    #[arg(long)]
    pub scheduler: Option<String>,
    /// Classifier-free guidance scale. [default: params.json's cfg (6)]
    #[arg(long)]
    pub cfg: Option<f64>,
    /// Images to make, in one batch (the server's `batch`).
    #[arg(short = 'n', long = "count", default_value_t = 1)]
    pub count: u32,
    /// Output folder, created if missing. [default: --outputs / ONNX_WEB_OUTPUT_PATH, `outputs`]
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Source image: img2img (or inpaint with --mask) instead of txt2img.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Inpaint mask (white is repainted); needs --init.
    #[arg(long, requires = "init")]
    pub mask: Option<PathBuf>,
    /// How much of the --init image is repainted, 0 to 1. [default: params.json's strength]
    #[arg(long)]
    pub strength: Option<f64>,
    /// Platform to run on (cpu, cuda...). [default: --default-platform / params.json's]
    #[arg(long)]
    pub platform: Option<String>,
    /// Any other request parameter, by the server's query name (e.g. `eta=0.5`,
    /// `sourceFilter=canny`, `upscale=true`); repeatable, and sent after the options above.
    /// img2img sends `sourceFilter=none` unless this sets it.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub params: Vec<(String, String)>,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (width, height) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {text:?}"))?;
    let number = |side: &str| {
        side.trim()
            .parse::<u32>()
            .map_err(|_| format!("expected WIDTHxHEIGHT, got {text:?}"))
    };
    Ok((number(width)?, number(height)?))
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

impl GenerateArgs {
    /// The query string the server would get for these options.
    pub fn query(&self) -> Query {
        let mut pairs: Vec<(String, String)> = vec![("prompt".into(), self.prompt.clone())];
        let mut push = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((key.to_owned(), value));
            }
        };
        push("negativePrompt", self.negative_prompt.clone());
        push("model", self.model.clone());
        push("steps", self.steps.map(|s| s.to_string()));
        push("width", self.size.map(|(w, _)| w.to_string()));
        push("height", self.size.map(|(_, h)| h.to_string()));
        push("seed", self.seed.map(|s| s.to_string()));
        push("scheduler", self.scheduler.clone());
        push("cfg", self.cfg.map(|c| c.to_string()));
        push("batch", Some(self.count.to_string()));
        push("strength", self.strength.map(|s| s.to_string()));
        push("platform", self.platform.clone());
        let sets_filter = self.params.iter().any(|(k, _)| k == "sourceFilter");
        if self.init.is_some() && self.mask.is_none() && !sets_filter {
            push("sourceFilter", Some("none".into()));
        }
        pairs.extend(self.params.iter().cloned());
        Query::from_pairs(pairs)
    }
}

fn api_error(error: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", error.message())
}

fn read_upload(name: &str, path: &PathBuf) -> anyhow::Result<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((name.to_owned(), bytes))
}

/// Parses the options as the server would and builds the job.
fn prepare(state: &AppState, args: &GenerateArgs) -> anyhow::Result<PreparedJob> {
    let query = args.query();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let prepared = match (&args.init, &args.mask) {
        (None, _) => prepare_txt2img(state, &query),
        (Some(init), None) => {
            let uploads = Arc::new(Uploads::from_files([read_upload("source", init)?]));
            runtime.block_on(prepare_img2img(state, &query, uploads))
        }
        (Some(init), Some(mask)) => {
            let uploads = Arc::new(Uploads::from_files([
                read_upload("source", init)?,
                read_upload("mask", mask)?,
            ]));
            runtime.block_on(prepare_inpaint(state, &query, uploads))
        }
    };
    let prepared = prepared.map_err(api_error)?;
    // The command line is strict: a name that is not in its list is an error here, where the
    // onnx-web API falls back with a warning.
    let warnings = prepared.warnings();
    if !warnings.is_empty() {
        anyhow::bail!("{}", warnings.join("; "));
    }
    Ok(prepared)
}

/// Runs `onnx-web generate` with the server's configuration (its `outputs` already set to `-o`).
pub fn run(
    config: &ServerConfig,
    pipelines: &Arc<Pipelines>,
    args: GenerateArgs,
) -> anyhow::Result<()> {
    onnx_web_server::limits::install(&config.limits);
    let devices = pipelines.engine().platforms().to_vec();
    let usable = usable_devices(&devices, config);
    if usable.is_empty() {
        bail!("every platform is blocked (--block-platforms)");
    }
    let mut config = config.clone();
    // Never served: a fixed token keeps AppState from making and logging a random one.
    config.admin_token = Some("onnx-web-generate".into());
    let state = AppState::new(config.clone(), devices, JobQueue::new(usable.clone()))?;
    let prepared = prepare(&state, &args)?;
    let parameters = prepared.parameters(&state);
    // As the server: the first second whose names are free.
    let mut time = unix_time_now();
    let (job, _response) = loop {
        let (job, response) = prepared.build(&state, &parameters, time);
        if !config.outputs.join(&job.key).exists() {
            break (job, response);
        }
        time += 1;
    };
    // As the queue picks: the platform asked for when it is a device, else the first one.
    let device = job
        .platform
        .as_deref()
        .filter(|p| usable.iter().any(|d| d == p))
        .unwrap_or(&usable[0])
        .to_owned();
    let base = prepared.base();
    let size = prepared.size();
    tracing::info!(
        model = %base.model,
        seed = base.seed,
        device = %device,
        "{} {}x{}, {} image(s)",
        prepared.mode(),
        size.width,
        size.height,
        base.batch
    );

    let runner = PipelineRunner::new(
        Arc::clone(pipelines),
        OutputWriter::new(config.outputs.clone(), config.server_version.clone()),
    );
    let progress = Arc::new(Progress::new());
    let bar = progress_bar(u64::from(base.steps.max(1)), base.batch);
    let outcome = std::thread::scope(|scope| {
        let worker = scope.spawn(|| runner.run(&device, &job, &progress));
        while !worker.is_finished() {
            let steps = u64::from(progress.steps());
            if steps > bar.length().unwrap_or(0) {
                bar.set_length(steps);
            }
            bar.set_position(steps);
            std::thread::sleep(Duration::from_millis(50));
        }
        worker.join()
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow::anyhow!("the pipeline panicked")),
    };
    if let Err(error) = outcome {
        bar.abandon_with_message("failed");
        return Err(error.context(format!("{} failed", prepared.mode())));
    }
    let steps = u64::from(progress.steps());
    bar.set_length(steps.max(bar.length().unwrap_or(0)));
    bar.set_position(bar.length().unwrap_or(steps));
    let written: Vec<PathBuf> = job
        .outputs
        .iter()
        .map(|name| config.outputs.join(name))
        .filter(|path| path.is_file())
        .collect();
    bar.finish_with_message(format!(
        "{}/{} images saved",
        written.len(),
        job.outputs.len()
    ));
    if !bar.is_hidden() {
        // The bar leaves the cursor on its line; the file names start on the next.
        eprintln!();
    }
    for path in &written {
        println!("{}", path.display());
    }
    Ok(())
}

/// A bar over the UNet steps of the job (a batch makes all its images in the same steps).
fn progress_bar(steps: u64, images: u32) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40.cyan/blue} {pos}/{len} steps · {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(format!(
        "{images} image{}",
        if images == 1 { "" } else { "s" }
    ));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: GenerateArgs,
    }

    #[test]
    fn options_become_the_servers_query() {
        let args = Wrapper::parse_from([
            "x",
            "a red cube",
            "--size",
            "64x48",
            "--seed",
            "-1",
            "-n",
            "2",
            "--init",
            "a.png",
            "--param",
            "eta=0.5",
        ])
        .args;
        let query = args.query();
        assert_eq!(query.get("prompt"), Some("a red cube"));
        assert_eq!(query.get("width"), Some("64"));
        assert_eq!(query.get("height"), Some("48"));
        assert_eq!(query.get("seed"), Some("-1"));
        assert_eq!(query.get("batch"), Some("2"));
        assert_eq!(query.get("sourceFilter"), Some("none"));
        assert_eq!(query.get("eta"), Some("0.5"));
        assert_eq!(query.get("model"), None);
        assert!(parse_size("64").is_err());
        assert!(parse_pair("eta").is_err());
    }
}
