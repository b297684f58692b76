//! `onnx-web models`: what the models folder holds, as the server's catalog sees it, and what
//! would fail to load and why: missing parts, ONNX files ONNX Runtime cannot open, tokenizers
//! and network files that do not parse. Nothing is run.

use std::path::{Path, PathBuf};

use onnx_web_diffusion::networks::read_safetensors;
use onnx_web_diffusion::sdxl::is_sdxl;
use onnx_web_diffusion::stable_diffusion::part_path;
use onnx_web_pipelines::Pipelines;
use onnx_web_server::config::ServerConfig;
use onnx_web_server::models::Catalog;
use onnx_web_server::pipeline_routes::text_models;

const EXAMPLES: &str = "\
Examples:
  onnx-web --models ./models models
  onnx-web --models ./models models --files-only

Every model is opened with ONNX Runtime on --platform, one at a time, as a job would load it
(use --files-only to only look for the files). The table lists each model with `ok` or `FAILS`
and the reason; the command exits 0 either way.";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ModelsArgs {
    /// Only check that the files a model needs are there; do not open them with ONNX Runtime.
    #[arg(long)]
    pub files_only: bool,
    /// Platform to open the models on.
    #[arg(long, default_value = "cpu")]
    pub platform: String,
}

/// One line of the table.
#[derive(Debug)]
pub struct Row {
    pub kind: &'static str,
    pub name: String,
    /// Why it would fail to load; `None` when it loads.
    pub problem: Option<String>,
    pub note: String,
}

struct Checker<'a> {
    pipelines: &'a Pipelines,
    platform: &'a str,
    files_only: bool,
}

impl Checker<'_> {
    /// Creates the sessions of `load` unless `--files-only`, then unloads them.
    fn open<T, E: std::fmt::Display>(&self, load: impl FnOnce() -> Result<T, E>) -> Option<String> {
        if self.files_only {
            return None;
        }
        let outcome = load().err().map(|e| one_line(&e.to_string()));
        self.pipelines.engine().clear_cache();
        outcome
    }

    fn onnx_file(&self, path: &Path) -> Option<String> {
        if !path.is_file() {
            return Some(format!("{} is missing", path.display()));
        }
        self.open(|| self.pipelines.engine().load(path, self.platform))
    }

    fn diffusion(&self, dir: &Path) -> (Option<String>, String) {
        if !dir.is_dir() {
            return (Some("not a folder".into()), String::new());
        }
        let sdxl = is_sdxl(dir);
        let mut parts = vec!["unet", "text_encoder", "vae_decoder"];
        let mut tokenizers = vec!["tokenizer"];
        if sdxl {
            parts.push("text_encoder_2");
            tokenizers.push("tokenizer_2");
        }
        let mut missing: Vec<String> = parts
            .iter()
            .filter(|part| !part_path(dir, part).is_file())
            .map(|part| format!("{part}/model.onnx"))
            .collect();
        for tokenizer in tokenizers {
            let folder = dir.join(tokenizer);
            let has_json = folder.join("tokenizer.json").is_file();
            let has_bpe =
                folder.join("vocab.json").is_file() && folder.join("merges.txt").is_file();
            if !has_json && !has_bpe {
                missing.push(format!(
                    "{tokenizer}/ (tokenizer.json or vocab.json + merges.txt)"
                ));
            }
        }
        let mut notes = vec![if sdxl { "SDXL" } else { "SD" }.to_owned()];
        let has_encoder = part_path(dir, "vae_encoder").is_file();
        if !has_encoder {
            notes.push("no vae_encoder: txt2img only".into());
        }
        if dir.join("cnet").is_dir() {
            notes.push("ControlNet UNet".into());
        }
        let note = notes.join(", ");
        if !missing.is_empty() {
            return (Some(format!("missing {}", missing.join(", "))), note);
        }
        let problem = self
            .open(|| {
                if sdxl {
                    self.pipelines
                        .stable_diffusion_xl(dir, self.platform)
                        .map(drop)
                } else {
                    self.pipelines
                        .stable_diffusion(dir, self.platform)
                        .map(drop)
                }
            })
            .or_else(|| {
                has_encoder
                    .then(|| self.open(|| self.pipelines.vae_encoder(dir, self.platform)))
                    .flatten()
            });
        (problem, note)
    }

    fn image_model(&self, path: &Path) -> (Option<String>, String) {
        if path.is_dir() {
            let problem = missing_onnx(&path.join("unet/model.onnx"))
                .or_else(|| self.open(|| self.pipelines.sd_upscaler(path, self.platform)));
            return (problem, "Stable Diffusion upscaler".into());
        }
        if path.extension().is_none_or(|e| e != "onnx") {
            return (
                Some("not an .onnx file; convert it to ONNX first".into()),
                String::new(),
            );
        }
        let problem = self.open(|| self.pipelines.image_model(path, self.platform));
        (problem, size_note(path))
    }

    fn network(&self, kind: &str, path: &Path) -> (Option<String>, String) {
        match kind {
            "control" => {
                let file = if path.is_dir() {
                    path.join("model.onnx")
                } else {
                    path.to_owned()
                };
                (self.onnx_file(&file), size_note(&file))
            }
            _ => {
                let problem = if self.files_only {
                    None
                } else {
                    read_safetensors(path)
                        .err()
                        .map(|e| one_line(&e.to_string()))
                };
                (problem, size_note(path))
            }
        }
    }
}

fn missing_onnx(path: &Path) -> Option<String> {
    (!path.is_file()).then(|| format!("missing {}", path.display()))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn size_note(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            let bytes = meta.len();
            if bytes >= 1 << 20 {
                format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
            } else if bytes >= 1024 {
                format!("{:.1} KiB", bytes as f64 / 1024.0)
            } else {
                format!("{bytes} bytes")
            }
        }
        _ => String::new(),
    }
}

/// Checks every model the catalog of `root` lists, plus the text models.
pub fn check(
    root: &Path,
    extra_files: &[PathBuf],
    pipelines: &Pipelines,
    args: &ModelsArgs,
) -> Vec<Row> {
    let catalog = Catalog::load(root, extra_files);
    let checker = Checker {
        pipelines,
        platform: &args.platform,
        files_only: args.files_only,
    };
    let mut rows = Vec::new();
    let mut push = |kind: &'static str, name: &str, (problem, note): (Option<String>, String)| {
        rows.push(Row {
            kind,
            name: name.to_owned(),
            problem,
            note,
        });
    };
    for entry in &catalog.models.diffusion {
        push("diffusion", &entry.name, checker.diffusion(&entry.path));
    }
    for entry in &catalog.models.upscaling {
        push("upscaling", &entry.name, checker.image_model(&entry.path));
    }
    for entry in &catalog.models.correction {
        push("correction", &entry.name, checker.image_model(&entry.path));
    }
    for network in &catalog.models.networks {
        push(
            network.kind,
            &network.name,
            checker.network(network.kind, &network.path),
        );
    }
    for (name, dir) in text_models(root) {
        let file = dir.join("decoder_model.onnx");
        push("text", &name, (checker.onnx_file(&file), size_note(&file)));
    }
    rows
}

/// The table `onnx-web models` prints.
pub fn table(rows: &[Row]) -> String {
    let status = |row: &Row| if row.problem.is_some() { "FAILS" } else { "ok" };
    let kind_width = rows.iter().map(|r| r.kind.len()).max().unwrap_or(0).max(4);
    let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(4);
    let mut out = format!(
        "{:kind_width$}  {:name_width$}  {:6} DETAILS\n",
        "KIND", "NAME", "STATUS"
    );
    for row in rows {
        let details = match &row.problem {
            Some(problem) if row.note.is_empty() => problem.clone(),
            Some(problem) => format!("{problem} ({})", row.note),
            None => row.note.clone(),
        };
        out.push_str(
            format!(
                "{:kind_width$}  {:name_width$}  {:6} {details}",
                row.kind,
                row.name,
                status(row)
            )
            .trim_end(),
        );
        out.push('\n');
    }
    let failing = rows.iter().filter(|r| r.problem.is_some()).count();
    out.push_str(&format!(
        "{} models, {failing} would fail to load\n",
        rows.len()
    ));
    out
}

/// Runs `onnx-web models`: prints the table; exits 0 whatever it finds.
pub fn run(config: &ServerConfig, pipelines: &Pipelines, args: ModelsArgs) -> anyhow::Result<()> {
    let rows = check(
        &config.models,
        &config.extra_model_files(),
        pipelines,
        &args,
    );
    print!("{}", table(&rows));
    Ok(())
}
