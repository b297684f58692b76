//! `onnx-web generate` and `onnx-web models`: the command line against the real server, on the
//! tiny models. The same parameters must give the same pixels, names (but for the time) and PNG
//! metadata as the HTTP endpoints.

mod common;
mod upload;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{models_dir, TestServer};
use image::RgbImage;
use upload::{picture, png, rect_mask, result, submit};

/// Runs the binary with `args` after `--models models`; the environment cannot point elsewhere.
fn onnx_web(models: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onnx-web"))
        .arg("--models")
        .arg(models)
        .args(args)
        .env_remove("ONNX_WEB_MODEL_PATH")
        .env_remove("ONNX_WEB_OUTPUT_PATH")
        .env("RUST_LOG", "warn")
        .output()
        .expect("running onnx-web")
}

/// `onnx-web generate PROMPT ARGS -o OUT`; the files it printed.
fn generate(out: &Path, prompt: &str, args: &[&str]) -> Vec<PathBuf> {
    let mut all = vec!["generate", prompt, "-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = onnx_web(&models_dir(), &all);
    assert!(
        output.status.success(),
        "generate {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let files: Vec<PathBuf> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    for file in &files {
        assert!(
            file.is_file(),
            "{} was printed but not written",
            file.display()
        );
        assert!(file.starts_with(out));
    }
    files
}

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .expect("a PNG")
        .to_rgb8()
}

/// The PNG's `parameters` text chunk.
fn parameters(bytes: &[u8]) -> String {
    onnx_web_imageops::read_png_text(bytes)
        .expect("PNG text chunks")
        .into_iter()
        .find(|(key, _)| key == "parameters")
        .map(|(_, value)| value)
        .expect("a parameters chunk")
}

/// `{mode}_{seed}_{hash}_{time}_{i}.png` without the time.
fn name_without_time(name: &str) -> String {
    let parts: Vec<&str> = name.split('_').collect();
    assert_eq!(parts.len(), 5, "{name}");
    format!("{}_{}_{}_{}", parts[0], parts[1], parts[2], parts[4])
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Compares the CLI's files with the server's outputs of `job`: pixels, metadata and names.
fn assert_same_as_server(server: &TestServer, job: &serde_json::Value, files: &[PathBuf]) {
    let outputs: Vec<&str> = job["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(files.len(), outputs.len(), "{files:?} vs {outputs:?}");
    let (server_images, _) = result(server, job);
    for ((file, name), server_image) in files.iter().zip(&outputs).zip(&server_images) {
        let ours = std::fs::read(file).unwrap();
        let theirs = server.output_bytes(name);
        assert_eq!(
            decode(&ours),
            *server_image,
            "{} differs from the server's {name}",
            file.display()
        );
        assert_eq!(parameters(&ours), parameters(&theirs));
        assert_eq!(name_without_time(&file_name(file)), name_without_time(name));
        // The JSON sidecar describes the same job (names aside).
        let sidecar: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{}.json", file.display())).unwrap())
                .unwrap();
        assert_eq!(sidecar["params"], job["params"]);
        assert_eq!(sidecar["size"], job["size"]);
    }
}

#[test]
fn generate_txt2img_matches_the_server_pixel_for_pixel() {
    let server = TestServer::start();
    let out = tempfile::tempdir().unwrap();
    let files = generate(
        out.path(),
        "a red cube",
        &[
            "--model",
            "diffusion-tiny-demo",
            "--steps",
            "4",
            "--size",
            "64x64",
            "--seed",
            "42",
            "--scheduler",
            "euler-a",
            "-n",
            "2",
        ],
    );
    // -n 2: two files.
    assert_eq!(files.len(), 2);
    let job = server.txt2img(
        "prompt=a+red+cube&model=diffusion-tiny-demo&steps=4&width=64&height=64&seed=42\
         &scheduler=euler-a&batch=2",
    );
    assert_same_as_server(&server, &job, &files);
    let first = decode(&std::fs::read(&files[0]).unwrap());
    assert_eq!(first.dimensions(), (64, 64));
    assert!(file_name(&files[0]).starts_with("txt2img_42_"));
    assert!(parameters(&std::fs::read(&files[0]).unwrap()).contains("Seed: 42"));

    // Another seed, another image.
    let other = generate(
        out.path(),
        "a red cube",
        &[
            "--model",
            "diffusion-tiny-demo",
            "--steps",
            "4",
            "--size",
            "64x64",
            "--seed",
            "43",
        ],
    );
    assert_ne!(decode(&std::fs::read(&other[0]).unwrap()), first);

    // No seed: one is drawn, as the server does, and named and recorded.
    let drawn = generate(
        out.path(),
        "a red cube",
        &[
            "--model",
            "diffusion-tiny-demo",
            "--steps",
            "1",
            "--size",
            "64x64",
        ],
    );
    assert_eq!(drawn.len(), 1);
    let seed = file_name(&drawn[0]).split('_').nth(1).unwrap().to_owned();
    assert!(seed.parse::<u32>().is_ok(), "{seed}");
    assert!(parameters(&std::fs::read(&drawn[0]).unwrap()).contains(&format!("Seed: {seed}")));
}

#[test]
fn generate_with_init_and_mask_matches_img2img_and_inpaint() {
    let server = TestServer::start();
    let inputs = tempfile::tempdir().unwrap();
    let source = png(&picture(64, 48));
    let mask = png(&rect_mask(64, 48, 16, 8, 48, 40));
    let init_path = inputs.path().join("init.png");
    let mask_path = inputs.path().join("mask.png");
    std::fs::write(&init_path, &source).unwrap();
    std::fs::write(&mask_path, &mask).unwrap();
    let out = tempfile::tempdir().unwrap();

    // img2img: the image keeps the source's size; no source filter output.
    let files = generate(
        out.path(),
        "a red cube",
        &[
            "--model",
            "diffusion-tiny-demo",
            "--steps",
            "8",
            "--strength",
            "0.5",
            "--seed",
            "7",
            "--init",
            init_path.to_str().unwrap(),
        ],
    );
    assert_eq!(files.len(), 1);
    assert!(file_name(&files[0]).starts_with("img2img_7_"));
    assert_eq!(
        decode(&std::fs::read(&files[0]).unwrap()).dimensions(),
        (64, 48)
    );
    let job = submit(
        &server,
        "/api/img2img?prompt=a+red+cube&model=diffusion-tiny-demo&steps=8&strength=0.5&seed=7\
         &batch=1&sourceFilter=none",
        &[("source", source.clone())],
    );
    assert_same_as_server(&server, &job, &files);

    // inpaint on the inpainting model.
    let files = generate(
        out.path(),
        "a red cube",
        &[
            "--model",
            "diffusion-tiny-inpaint",
            "--steps",
            "4",
            "--seed",
            "9",
            "--init",
            init_path.to_str().unwrap(),
            "--mask",
            mask_path.to_str().unwrap(),
        ],
    );
    assert_eq!(files.len(), 1);
    assert!(file_name(&files[0]).starts_with("inpaint_9_"));
    assert_eq!(
        decode(&std::fs::read(&files[0]).unwrap()).dimensions(),
        (64, 48)
    );
    let job = submit(
        &server,
        "/api/inpaint?prompt=a+red+cube&model=diffusion-tiny-inpaint&steps=4&seed=9&batch=1",
        &[("source", source), ("mask", mask)],
    );
    assert_same_as_server(&server, &job, &files);
}

#[test]
fn generate_refuses_what_the_server_refuses() {
    let out = tempfile::tempdir().unwrap();
    let output = onnx_web(
        &models_dir(),
        &[
            "generate",
            "a red cube",
            "--model",
            "no-such-model",
            "-o",
            out.path().to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-model"), "{stderr}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    // --mask needs --init.
    let output = onnx_web(&models_dir(), &["generate", "x", "--mask", "m.png"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--init"));
}

#[cfg(unix)]
#[test]
fn models_lists_the_tiny_models_and_says_why_broken_ones_fail() {
    let output = onnx_web(&models_dir(), &["models"]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    for name in [
        "diffusion-tiny-demo",
        "diffusion-tiny-inpaint",
        "diffusion-tiny-sdxl",
        "upscaling-tiny-x2",
        "correction-tiny-face",
        "canny",
        "tiny-lora",
    ] {
        let line = table
            .lines()
            .find(|line| line.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{table}"));
        assert_eq!(line.split_whitespace().nth(2), Some("ok"), "{line}");
    }
    assert!(table.contains(" 0 would fail to load"), "{table}");

    // A models folder with broken entries beside a good one.
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        models_dir().join("diffusion-tiny-demo"),
        root.path().join("diffusion-good"),
    )
    .unwrap();
    let broken = root.path().join("diffusion-no-unet");
    for part in ["text_encoder", "vae_decoder", "tokenizer"] {
        std::fs::create_dir_all(broken.join(part)).unwrap();
    }
    let good = models_dir().join("diffusion-tiny-demo");
    for file in [
        "text_encoder/model.onnx",
        "vae_decoder/model.onnx",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
    ] {
        if good.join(file).is_file() {
            std::fs::copy(good.join(file), broken.join(file)).unwrap();
        }
    }
    std::fs::write(
        root.path().join("upscaling-garbage.onnx"),
        b"this is not an onnx model at all",
    )
    .unwrap();
    std::fs::create_dir_all(root.path().join("lora")).unwrap();
    std::fs::write(root.path().join("lora/bad.safetensors"), b"\x01").unwrap();

    let output = onnx_web(root.path(), &["models"]);
    assert!(
        output.status.success(),
        "models must exit 0 on broken models"
    );
    let table = String::from_utf8(output.stdout).unwrap();
    let row = |name: &str| -> String {
        table
            .lines()
            .find(|line| line.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{table}"))
            .to_owned()
    };
    assert!(row("diffusion-good").contains(" ok "), "{table}");
    let no_unet = row("diffusion-no-unet");
    assert!(no_unet.contains("FAILS"), "{no_unet}");
    assert!(no_unet.contains("missing unet/model.onnx"), "{no_unet}");
    let garbage = row("upscaling-garbage");
    assert!(garbage.contains("FAILS"), "{garbage}");
    assert!(
        garbage.split("FAILS").nth(1).unwrap().trim().len() > 10,
        "{garbage}"
    );
    let bad_lora = row("bad");
    assert!(
        bad_lora.starts_with("lora") && bad_lora.contains("FAILS"),
        "{bad_lora}"
    );
    assert!(table.contains("4 models, 3 would fail to load"), "{table}");

    // --files-only does not open them: only the missing unet is found.
    let output = onnx_web(root.path(), &["models", "--files-only"]);
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("4 models, 1 would fail to load"), "{table}");
}

#[test]
fn help_shows_environment_variables_and_defaults() {
    let help = |args: &[&str]| -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_onnx-web"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let main = help(&["--help"]);
    for expected in [
        "[env: ONNX_WEB_PORT=]",
        "[default: 5000]",
        "[env: ONNX_WEB_MODEL_PATH=]",
        "[default: models]",
        "[env: ONNX_WEB_THREADS=]",
        "generate",
        "models",
        "bench",
    ] {
        assert!(
            main.contains(expected),
            "--help lacks {expected:?}:\n{main}"
        );
    }
    let generate = help(&["generate", "--help"]);
    for expected in [
        "--seed",
        "--init",
        "--mask",
        "[default: 1]",
        "Examples:",
        "-o",
    ] {
        assert!(
            generate.contains(expected),
            "generate --help lacks {expected:?}:\n{generate}"
        );
    }
    let models = help(&["models", "--help"]);
    assert!(models.contains("--files-only") && models.contains("[default: cpu]"));
}
