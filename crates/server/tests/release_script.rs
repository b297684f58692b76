//! onnx-web 0.12's own release test (`api/scripts/test-release.py` of v0.12.0), request by
//! request, against this server: the same endpoints, query fields, values and uploads, with the
//! model names the script uses aliased (symlinked) to the tiny demo models.
//!
//! To keep the run short, sizes shrink: the script's images are 512 px (its default size) and
//! up; here every `width`/`height` and outpaint border is an eighth (a missing size, 512 in the
//! script, is sent as 64), the uploaded sources and masks are an eighth of the script's reference
//! images, and `steps` (25 by default in the script, 5 or 10 in some cases) is 2. Every other field
//! is sent as the script sends it.
//!
//! The script sends two names that are not in the lists, `scheduler=deis` and
//! `upscaling=correction-gfpgan` (a correction model): onnx-web runs them through its fallback,
//! and so does this server, saying so in the response's `warnings` (`crate::names`).

mod common;
mod upload;

use std::path::Path;

use common::{models_dir, TestServer};
use image::{GrayImage, Luma};
use serde_json::Value;
use upload::{picture, png, post_files};

/// The script's model names → the demo model each stands for.
const MODEL_ALIASES: &[(&str, &str)] = &[
    ("stable-diffusion-onnx-v1-5", "diffusion-tiny-demo"),
    ("stable-diffusion-onnx-v2-1", "diffusion-tiny-demo"),
    ("diffusion-openjourney", "diffusion-tiny-demo"),
    ("diffusion-knollingcase", "diffusion-tiny-demo"),
    (
        "stable-diffusion-onnx-v1-inpainting",
        "diffusion-tiny-inpaint",
    ),
    ("diffusion-sdxl-base", "diffusion-tiny-sdxl"),
    ("diffusion-sdxl-turbo", "diffusion-tiny-sdxl"),
    (
        "upscaling-real-esrgan-x2-plus.onnx",
        "upscaling-tiny-x2.onnx",
    ),
    (
        "upscaling-real-esrgan-x4-plus.onnx",
        "upscaling-tiny-x4.onnx",
    ),
    (
        "upscaling-swinir-real-large-x4.onnx",
        "upscaling-tiny-x4.onnx",
    ),
    (
        "upscaling-stable-diffusion-x4",
        "upscaling-stable-diffusion-x4-tiny",
    ),
    (
        "correction-codeformer.onnx",
        "correction-tiny-codeformer.onnx",
    ),
    ("correction-gfpgan.onnx", "correction-tiny-face.onnx"),
    ("lora/taters.safetensors", "lora/tiny-lora.safetensors"),
    ("lora/lcm.safetensors", "lora/tiny-lora.safetensors"),
    ("lora/sdxl-lcm.safetensors", "lora/tiny-lora.safetensors"),
    (
        "inversion/cloud.safetensors",
        "inversion/tiny-inversion.safetensors",
    ),
];

/// A models folder holding only the script's names.
fn release_models() -> tempfile::TempDir {
    let source = models_dir();
    let dir = tempfile::tempdir().unwrap();
    for sub in ["lora", "inversion"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    for (name, target) in MODEL_ALIASES {
        std::os::unix::fs::symlink(source.join(target), dir.path().join(name)).unwrap();
    }
    dir
}

/// One request of the script: its name, the query after `/api/`, the uploads.
struct Case {
    name: &'static str,
    query: String,
    files: Vec<(&'static str, Vec<u8>)>,
}

/// The script's query with sizes and steps shrunk as the module says.
fn shrink(query: &str) -> String {
    let (path, fields) = query.split_once('?').unwrap();
    let mut out = Vec::new();
    let (mut width, mut height, mut steps) = (false, false, false);
    for field in fields.split('&') {
        let (key, value) = field.split_once('=').unwrap();
        let value = match key {
            "width" | "height" | "top" | "bottom" | "left" | "right" => {
                width |= key == "width";
                height |= key == "height";
                (value.parse::<u32>().unwrap() / 8).to_string()
            }
            "steps" => {
                steps = true;
                "2".to_owned()
            }
            _ => value.to_owned(),
        };
        out.push(format!("{key}={value}"));
    }
    for (present, field) in [
        (width, "width=64"),
        (height, "height=64"),
        (steps, "steps=2"),
    ] {
        if !present {
            out.push(field.to_owned());
        }
    }
    format!("{path}?{}", out.join("&"))
}

/// The script's reference images, an eighth of their size.
struct Refs {
    square: Vec<u8>,
    tall: Vec<u8>,
    panorama: Vec<u8>,
    v2: Vec<u8>,
    mask_white: Vec<u8>,
    mask_black: Vec<u8>,
    mask_blend: Vec<u8>,
}

fn refs() -> Refs {
    let gray = |f: &dyn Fn(u32) -> u8| png(&GrayImage::from_fn(64, 64, |x, _| Luma([f(x)])));
    let mut v2 = picture(64, 64);
    image::imageops::flip_horizontal_in_place(&mut v2);
    Refs {
        square: png(&picture(64, 64)),
        tall: png(&picture(64, 96)),
        panorama: png(&picture(128, 96)),
        v2: png(&v2),
        mask_white: gray(&|_| 255),
        mask_black: gray(&|_| 0),
        mask_blend: gray(&|x| (x * 4).min(255) as u8),
    }
}

/// Every request of the script's `TEST_DATA`, in its order.
fn cases(refs: &Refs) -> Vec<Case> {
    let no_files = Vec::new;
    let source = |image: &Vec<u8>| vec![("source", image.clone())];
    let inpaint = |mask: &Vec<u8>| vec![("source", refs.square.clone()), ("mask", mask.clone())];
    let blend = |mask: &Vec<u8>| {
        vec![
            ("mask", mask.clone()),
            ("source:0", refs.square.clone()),
            ("source:1", refs.v2.clone()),
        ]
    };
    let case = |name, query: &str, files| Case {
        name,
        query: shrink(query),
        files,
    };
    vec![
        case("txt2img-sd-v1-5-256-muffin", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=ddim&width=256&height=256", no_files()),
        case("txt2img-sd-v1-5-512-muffin", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=ddim", no_files()),
        case("txt2img-sd-v1-5-512-muffin-deis", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=deis", no_files()),
        case("txt2img-sd-v1-5-512-muffin-dpm", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=dpm-multi", no_files()),
        case("txt2img-sd-v1-5-512-muffin-heun", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=heun", no_files()),
        case("txt2img-sd-v1-5-512-muffin-unipc", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=unipc-multi", no_files()),
        case("txt2img-sd-v2-1-512-muffin", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v2-1", no_files()),
        case("txt2img-sd-v2-1-768-muffin", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v2-1&width=768&height=768&unet_tile=768", no_files()),
        case("txt2img-openjourney-256-muffin", "txt2img?prompt=mdjrny-v4+style+a+giant+muffin&seed=0&scheduler=ddim&model=diffusion-openjourney&width=256&height=256", no_files()),
        case("txt2img-openjourney-512-muffin", "txt2img?prompt=mdjrny-v4+style+a+giant+muffin&seed=0&scheduler=ddim&model=diffusion-openjourney", no_files()),
        case("txt2img-knollingcase-512-muffin", "txt2img?prompt=knollingcase+display+case+with+a+giant+muffin&seed=0&scheduler=ddim&model=diffusion-knollingcase", no_files()),
        case("img2img-sd-v1-5-512-pumpkin", "img2img?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&sourceFilter=none", source(&refs.square)),
        case("img2img-sd-v1-5-256-pumpkin", "img2img?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&sourceFilter=none&unet_tile=256", source(&refs.square)),
        case("inpaint-v1-512-white", "inpaint?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v1-inpainting", inpaint(&refs.mask_white)),
        case("inpaint-v1-512-black", "inpaint?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v1-inpainting", inpaint(&refs.mask_black)),
        case("outpaint-even-256", "inpaint?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v1-inpainting&noise=fill-mask&top=256&bottom=256&left=256&right=256", inpaint(&refs.mask_black)),
        case("outpaint-vertical-512", "inpaint?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v1-inpainting&noise=fill-mask&top=512&bottom=512&left=0&right=0", inpaint(&refs.mask_black)),
        case("outpaint-horizontal-512", "inpaint?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v1-inpainting&noise=fill-mask&top=0&bottom=0&left=512&right=512", inpaint(&refs.mask_black)),
        case("upscale-resrgan-x2-1024-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-real-esrgan-x2-plus&scale=2&outscale=2&upscale=true", source(&refs.square)),
        case("upscale-resrgan-x4-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-real-esrgan-x4-plus&scale=4&outscale=4&upscale=true", source(&refs.square)),
        case("blend-512-muffin-black", "blend?prompt=a+giant+pumpkin&seed=0&scheduler=ddim", blend(&refs.mask_black)),
        case("blend-512-muffin-white", "blend?prompt=a+giant+pumpkin&seed=0&scheduler=ddim", blend(&refs.mask_white)),
        case("blend-512-muffin-blend", "blend?prompt=a+giant+pumpkin&seed=0&scheduler=ddim", blend(&refs.mask_blend)),
        case("txt2img-sd-v1-5-512-muffin-taters", "txt2img?prompt=<lora:taters:1.0>+a+giant+muffin+made+of+mashed+potatoes&seed=0&scheduler=unipc-multi", no_files()),
        case("txt2img-sd-v1-5-512-muffin-cloud", "txt2img?prompt=<inversion:cloud:1.0>+a+giant+muffin+made+of+cloud-all&seed=0&scheduler=unipc-multi", no_files()),
        case("upscale-swinir-x4-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-swinir-real-large-x4&scale=4&outscale=4&upscale=true", source(&refs.square)),
        case("upscale-codeformer-512-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&correction=correction-codeformer&faces=true&faceOutscale=1&faceStrength=1.0", source(&refs.square)),
        case("upscale-gfpgan-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=correction-gfpgan&faces=true&faceOutscale=1&faceStrength=1.0", source(&refs.square)),
        case("upscale-sd-x4-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-stable-diffusion-x4&scale=4&outscale=4&upscale=true", source(&refs.square)),
        case("outpaint-panorama-even-256", "inpaint?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v1-inpainting&noise=fill-mask&top=256&bottom=256&left=256&right=256&pipeline=panorama", inpaint(&refs.mask_black)),
        case("outpaint-panorama-vertical-512", "inpaint?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v1-inpainting&noise=histogram&top=512&bottom=512&left=0&right=0&pipeline=panorama", inpaint(&refs.mask_black)),
        case("outpaint-panorama-horizontal-512", "inpaint?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&model=stable-diffusion-onnx-v1-inpainting&noise=histogram&top=0&bottom=0&left=512&right=512&pipeline=panorama", inpaint(&refs.mask_black)),
        case("upscale-resrgan-x4-codeformer-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-real-esrgan-x4-plus&scale=4&outscale=4&correction=correction-codeformer&faces=true&faceOutscale=1&faceStrength=1.0&upscale=true", source(&refs.square)),
        case("upscale-resrgan-x4-gfpgan-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-real-esrgan-x4-plus&scale=4&outscale=4&correction=correction-gfpgan&faces=true&faceOutscale=1&faceStrength=1.0&upscale=true", source(&refs.square)),
        case("upscale-swinir-x4-codeformer-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-swinir-real-large-x4&scale=4&outscale=4&correction=correction-codeformer&faces=true&faceOutscale=1&faceStrength=1.0&upscale=true", source(&refs.square)),
        case("upscale-swinir-x4-gfpgan-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-swinir-real-large-x4&scale=4&outscale=4&correction=correction-gfpgan&faces=true&faceOutscale=1&faceStrength=1.0&upscale=true", source(&refs.square)),
        case("upscale-sd-x4-codeformer-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-stable-diffusion-x4&scale=4&outscale=4&correction=correction-codeformer&faces=true&faceOutscale=1&faceStrength=1.0&upscale=true", source(&refs.square)),
        case("upscale-sd-x4-gfpgan-2048-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-stable-diffusion-x4&scale=4&outscale=4&correction=correction-gfpgan&faces=true&faceOutscale=1&faceStrength=1.0&upscale=true", source(&refs.square)),
        case("txt2img-panorama-1024x768-muffin", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=ddim&width=1024&height=768&pipeline=panorama&tiled_vae=true", no_files()),
        case("img2img-panorama-1024x768-pumpkin", "img2img?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&sourceFilter=none&pipeline=panorama&tiled_vae=true", source(&refs.panorama)),
        case("txt2img-sd-v1-5-tall-muffin", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=ddim&width=512&height=768&unet_tile=768", no_files()),
        case("upscale-resrgan-x4-tall-muffin", "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscaling=upscaling-real-esrgan-x4-plus&scale=4&outscale=4&correction=correction-gfpgan&faces=false&faceOutscale=1&faceStrength=1.0&upscale=true", source(&refs.tall)),
        case("txt2img-sdxl-muffin", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=ddim&width=1024&height=1024&unet_tile=1024&pipeline=txt2img-sdxl&model=diffusion-sdxl-base", no_files()),
        case("txt2img-sdxl-lcm-muffin", "txt2img?prompt=<lora:sdxl-lcm:1.0>+a+giant+muffin&seed=0&scheduler=lcm&width=1024&height=1024&unet_tile=1024&pipeline=txt2img-sdxl&model=diffusion-sdxl-base&cfg=1.5&steps=10", no_files()),
        case("txt2img-sdxl-turbo-muffin", "txt2img?prompt=a+giant+muffin&seed=0&scheduler=dpm-sde&width=512&height=512&unet_tile=512&pipeline=txt2img-sdxl&model=diffusion-sdxl-turbo&cfg=1&steps=5", no_files()),
        case("txt2img-sd-v1-5-lcm-muffin", "txt2img?prompt=<lora:lcm:1.0>+a+giant+muffin&seed=0&scheduler=lcm&width=512&height=512&unet_tile=512&pipeline=txt2img&cfg=1.5&steps=10", no_files()),
    ]
}

/// The query as the script's `requests.post` sends it: `<` and `>` percent-encoded.
fn encode(query: &str) -> String {
    query.replace('<', "%3C").replace('>', "%3E")
}

/// POSTs like the script (multipart, with or without files) and returns the job description.
fn post(server: &TestServer, case: &Case) -> Value {
    let path = format!("/api/{}", encode(&case.query));
    let (status, body) = post_files(server, &path, &case.files);
    assert_eq!(status, 200, "{}: {path}: {body}", case.name);
    assert!(
        body["outputs"].as_array().is_some_and(|o| !o.is_empty()),
        "{}: {body}",
        case.name
    );
    body
}

/// Waits like the script's `check_ready` (ready, neither cancelled nor failed), then downloads
/// and decodes every output like its `download_images`.
fn finish(server: &TestServer, name: &str, job: &Value) -> Vec<image::RgbImage> {
    let outputs = job["outputs"].as_array().unwrap();
    let key = outputs[0].as_str().unwrap();
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["ready"], true, "{name}: {last}");
    assert_eq!(last["cancelled"], false, "{name}: {last}");
    assert_eq!(
        last["failed"],
        false,
        "{name} failed: {last}\n{}",
        server.log()
    );
    outputs
        .iter()
        .map(|output| {
            let bytes = server.output_bytes(output.as_str().unwrap());
            image::load_from_memory(&bytes)
                .unwrap_or_else(|e| panic!("{name}: {output}: {e}"))
                .to_rgb8()
        })
        .collect()
}

fn warnings(job: &Value) -> Vec<String> {
    job.get("warnings")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|w| w.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_request_of_the_release_script_is_accepted_and_finishes() {
    let models = release_models();
    let server = TestServer::start_in(models.path(), &[], &[]);
    let refs = refs();
    let cases = cases(&refs);
    assert_eq!(cases.len(), 46, "the script's TEST_DATA");
    // One at a time, as the script runs them (post, poll `ready`, download).
    let mut sizes = std::collections::HashMap::new();
    for case in &cases {
        let job = &post(&server, case);
        let images = finish(&server, case.name, job);
        sizes.insert(case.name, images[0].dimensions());
        assert!(!images.is_empty(), "{}", case.name);
        let replaced = warnings(job);
        match case.name {
            // `deis` is short for `deis-multi`: that runs, and the response says so.
            "txt2img-sd-v1-5-512-muffin-deis" => {
                assert_eq!(job["params"]["scheduler"], "deis-multi", "{job}");
                assert_eq!(
                    replaced,
                    ["scheduler: \"deis\" is not a scheduler here; ran \"deis-multi\", the name it stands for"]
                );
                // The sidecar shares the response's builder.
                let name = job["outputs"][0].as_str().unwrap();
                let sidecar: Value = server.get(&format!("/output/{name}.json")).json().unwrap();
                assert_eq!(sidecar["warnings"], job["warnings"]);
                assert_eq!(sidecar["params"]["scheduler"], "deis-multi");
            }
            // A correction model as `upscaling`: the first upscaling model, as in onnx-web.
            "upscale-gfpgan-muffin" => {
                assert_eq!(
                    job["upscale"]["upscale_model"], "upscaling-real-esrgan-x2-plus",
                    "{job}"
                );
                assert_eq!(job["upscale"]["correction_model"], "correction-codeformer");
                assert_eq!(
                    replaced,
                    [
                        "upscaling: \"correction-gfpgan\" is not an upscaling model here; \
                      ran the first upscaling model \"upscaling-real-esrgan-x2-plus\" instead"
                    ]
                );
                // `upscale` is off (the script does not send it): the corrected source.
                assert_eq!(images[0].dimensions(), (64, 64));
            }
            name => assert!(replaced.is_empty(), "{name}: {replaced:?}"),
        }
        // What ran is named: the script's model names (symlinked folders keep their names).
        let model = job["params"]["model"].as_str().unwrap();
        assert!(
            MODEL_ALIASES.iter().any(|(alias, _)| *alias == model),
            "{}: {model}",
            case.name
        );
    }
    // A few sizes, to be sure the shrunken requests ran the stages they ask for.
    let size = |name: &str| sizes[name];
    assert_eq!(size("txt2img-sd-v2-1-768-muffin"), (96, 96));
    assert_eq!(size("outpaint-even-256"), (128, 128));
    assert_eq!(size("outpaint-vertical-512"), (64, 192));
    assert_eq!(size("upscale-resrgan-x4-2048-muffin"), (256, 256));
    assert_eq!(size("upscale-sd-x4-2048-muffin"), (256, 256));
    assert_eq!(size("txt2img-panorama-1024x768-muffin"), (128, 96));
    assert_eq!(size("txt2img-sdxl-muffin"), (128, 128));
    let log = server.log();
    assert!(log.contains("is not a scheduler here"), "{log}");
    assert!(log.contains("is not an upscaling model here"), "{log}");
}

#[test]
fn unknown_upscaling_and_correction_models_fall_back_with_a_warning() {
    let models = release_models();
    let server = TestServer::start_in(models.path(), &[], &[]);
    let refs = refs();
    let case = Case {
        name: "unknown names",
        query: "upscale?prompt=a+giant+pumpkin&seed=0&scheduler=ddim&upscale=true\
                &upscaling=upscaling-nonexistent&scale=2&outscale=2\
                &correction=nonexistent&faces=true&faceOutscale=1&faceStrength=1.0&steps=2"
            .to_owned(),
        files: vec![("source", refs.square.clone())],
    };
    let job = post(&server, &case);
    assert_eq!(
        job["upscale"]["upscale_model"],
        "upscaling-real-esrgan-x2-plus"
    );
    assert_eq!(job["upscale"]["correction_model"], "correction-codeformer");
    assert_eq!(
        warnings(&job),
        [
            "upscaling: \"upscaling-nonexistent\" is not an upscaling model here; \
             ran the first upscaling model \"upscaling-real-esrgan-x2-plus\" instead",
            "correction: \"nonexistent\" is not a correction model here; \
             ran the first correction model \"correction-codeformer\" instead",
        ]
    );
    let images = finish(&server, case.name, &job);
    // The x2 fallback model ran.
    assert_eq!(images[0].dimensions(), (128, 128));

    // Every other onnx-web list follows the same rule: an alias or a fallback, with a warning.
    let job = server.txt2img(
        "prompt=a+cube&seed=1&steps=2&width=64&height=64&model=stable-diffusion-v9\
         &scheduler=Euler+a&pipeline=teleport&platform=quantum&highresMethod=magic",
    );
    assert_eq!(job["params"]["model"], "stable-diffusion-onnx-v1-5");
    assert_eq!(job["params"]["scheduler"], "euler-a");
    assert_eq!(job["params"]["pipeline"], "txt2img");
    assert_eq!(job["highres"]["method"], "bilinear");
    let fields: Vec<String> = warnings(&job)
        .iter()
        .map(|w| w.split(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        [
            "platform",
            "model",
            "pipeline",
            "scheduler",
            "highresMethod"
        ]
    );
    finish(&server, "fallbacks", &job);

    // Values that are not names at all are still a 400 naming the field.
    let response = server.post("/api/txt2img?prompt=x&model=..%2F..%2Fetc");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert!(
        body["error"].as_str().unwrap().starts_with("model: "),
        "{body}"
    );
}

#[test]
fn the_test_models_folder_lists_the_script_names() {
    let models = release_models();
    let server = TestServer::start_in(models.path(), &[], &[]);
    let listed = server.get_json("/api/settings/models");
    let names = |kind: &str| -> Vec<String> {
        listed[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names("diffusion").contains(&"stable-diffusion-onnx-v1-inpainting".to_owned()));
    assert_eq!(
        names("upscaling"),
        [
            "upscaling-real-esrgan-x2-plus",
            "upscaling-real-esrgan-x4-plus",
            "upscaling-stable-diffusion-x4",
            "upscaling-swinir-real-large-x4"
        ]
    );
    assert_eq!(
        names("correction"),
        ["correction-codeformer", "correction-gfpgan"]
    );
    assert!(Path::new(&models.path().join("lora/taters.safetensors")).exists());
}
