//! `POST /api/chain` end to end: every stage type, the example pipelines, bad chains, and the
//! `source-url` address policy, through the real server on the tiny models.

mod common;
mod moto;
mod upload;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::{workspace_root, TestServer};
use image::{Rgb, RgbImage};
use moto::Moto;
use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};
use upload::{picture, png, rect_mask};

/// POSTs a JSON chain; returns the status and the body.
pub fn post_chain(server: &TestServer, chain: &Value) -> (u16, Value) {
    server.post_json("/api/chain", chain)
}

/// POSTs a chain as the multipart field `chain` (JSON or YAML text), with stage images.
fn post_chain_form(server: &TestServer, chain: &str, files: &[(String, Vec<u8>)]) -> (u16, Value) {
    let mut form = Form::new().text("chain", chain.to_owned());
    for (name, bytes) in files {
        form = form.part(
            name.clone(),
            Part::bytes(bytes.clone())
                .file_name("image.png")
                .mime_str("image/png")
                .unwrap(),
        );
    }
    let response = server
        .client
        .post(server.url("/api/chain"))
        .multipart(form)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

/// Waits for the job and returns its final status.
fn finish(server: &TestServer, job: &Value) -> Value {
    let key = job["outputs"][0].as_str().expect("an output name");
    server.wait(key).pop().unwrap()
}

/// Waits for a job that must succeed and decodes its first `count` outputs.
fn outputs(server: &TestServer, job: &Value, count: usize) -> Vec<RgbImage> {
    let status = finish(server, job);
    assert_eq!(
        status["failed"],
        false,
        "job failed: {status}\n{}",
        server.log()
    );
    job["outputs"].as_array().unwrap()[..count]
        .iter()
        .map(|name| {
            let bytes = server.output_bytes(name.as_str().unwrap());
            image::load_from_memory(&bytes).unwrap().to_rgb8()
        })
        .collect()
}

/// A 64×64 txt2img start stage on the tiny model.
fn start(name: &str) -> Value {
    json!({"name": name, "type": "source-txt2img", "params": {
        "model": "diffusion-tiny-demo", "prompt": "a red fox", "width": 64, "height": 64,
        "steps": 2, "seed": 7}})
}

fn save() -> Value {
    json!({"name": "save", "type": "persist-disk", "params": {"tiles": "hd8k"}})
}

fn mean(image: &RgbImage) -> f64 {
    image.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / image.as_raw().len() as f64
}

/// One stage type after a 64×64 source: the stage's JSON, extra uploads, and the size the
/// saved image must have.
struct Case {
    stage: Value,
    files: Vec<(String, Vec<u8>)>,
    size: (u32, u32),
    /// Output names the response must announce (onnx-web's `outputs()` count).
    names: usize,
}

fn case(kind: &str, params: Value, size: (u32, u32)) -> Case {
    Case {
        stage: json!({"name": "stage", "type": kind, "params": params}),
        files: Vec::new(),
        size,
        names: 1,
    }
}

#[test]
fn every_stage_type_runs_through_the_chain_endpoint() {
    let server = TestServer::start();
    let white = png(&RgbImage::from_pixel(64, 64, Rgb([255, 255, 255])));
    let mut cases = vec![
        case("blend-denoise", json!({"strength": 3}), (64, 64)),
        case(
            "blend-denoise-fastnlmeans",
            json!({"strength": 5}),
            (64, 64),
        ),
        case(
            "blend-denoise-localstd",
            json!({"strength": 5, "range": 4}),
            (64, 64),
        ),
        Case {
            names: 2, // onnx-web counts one more for blend-img2img
            ..case(
                "blend-img2img",
                json!({"model": "diffusion-tiny-demo", "strength": 0.5, "steps": 2}),
                (64, 64),
            )
        },
        case(
            "blend-inpaint",
            json!({"model": "diffusion-tiny-inpaint", "left": 16, "right": 16, "steps": 2}),
            (96, 64),
        ),
        case(
            "upscale-outpaint",
            json!({"model": "diffusion-tiny-inpaint", "top": 8, "bottom": 24, "steps": 2,
                   "noise_source": "fill-edge", "fill_color": "#808080"}),
            (64, 96),
        ),
        Case {
            files: vec![("source:stage".into(), white.clone())],
            ..case("blend-linear", json!({"alpha": 0.5}), (64, 64))
        },
        Case {
            files: vec![
                ("source:stage".into(), white.clone()),
                ("mask:stage".into(), png(&rect_mask(64, 64, 0, 0, 32, 64))),
            ],
            ..case("blend-mask", json!({}), (64, 64))
        },
        case("correct-codeformer", json!({}), (64, 64)),
        case(
            "correct-gfpgan",
            json!({"correction": "correction-tiny-face", "faceOutscale": 2}),
            (128, 128),
        ),
        case(
            "reduce-crop",
            json!({"left": 8, "top": 16, "width": 32, "height": 24}),
            (32, 24),
        ),
        case(
            "reduce-thumbnail",
            json!({"width": 32, "height": 32}),
            (32, 32),
        ),
        Case {
            names: 2,
            ..case(
                "source-noise",
                json!({"noise_source": "uniform", "width": 64, "height": 64}),
                (64, 64),
            )
        },
        // Tiled: 32-pixel tiles of the 64-pixel image, blended at twice the size.
        case(
            "upscale-bsrgan",
            json!({"upscaling": "upscaling-tiny-x2", "outscale": 2, "tiles": 32}),
            (128, 128),
        ),
        case(
            "upscale-swinir",
            json!({"upscaling": "upscaling-tiny-x2", "outscale": 2}),
            (128, 128),
        ),
        case(
            "upscale-resrgan",
            json!({"upscaling": "upscaling-tiny-x4", "scale": 4, "outscale": 4}),
            (256, 256),
        ),
        case(
            "upscale-simple",
            json!({"method": "lanczos", "scale": 2}),
            (128, 128),
        ),
        case(
            "upscale-stable-diffusion",
            json!({"upscaling": "upscaling-stable-diffusion-x4-tiny", "outscale": 4, "steps": 2}),
            (256, 256),
        ),
        case(
            "upscale-highres",
            json!({"model": "diffusion-tiny-demo", "highresScale": 2, "highresStrength": 0.5,
                   "highresIterations": 1, "steps": 2}),
            (128, 128),
        ),
    ];
    // blend-grid: two sources in a 2×1 grid, saved after them.
    cases.push(Case {
        names: 3,
        ..case("blend-grid", json!({"width": 2, "height": 1}), (128, 64))
    });
    for case in &cases {
        let kind = case.stage["type"].as_str().unwrap();
        let mut stages = vec![start("start")];
        if kind == "blend-grid" {
            let mut second = start("second");
            second["params"]["seed"] = json!(8);
            stages.push(second);
        }
        stages.push(case.stage.clone());
        stages.push(save());
        let chain = json!({"defaults": {"model": "diffusion-tiny-demo", "width": 64, "height": 64},
                           "stages": stages});
        let (status, job) = post_chain_form(&server, &chain.to_string(), &case.files);
        assert_eq!(status, 200, "{kind}: {job}");
        assert_eq!(
            job["outputs"].as_array().unwrap().len(),
            case.names,
            "{kind}: {job}"
        );
        let index = if kind == "blend-grid" { 2 } else { 0 };
        let images = outputs(&server, &job, index + 1);
        let image = &images[index];
        assert_eq!(image.dimensions(), case.size, "{kind}");
        // The response names the size the chain makes (onnx-web: always the default 512x512).
        assert_eq!(
            job["size"],
            json!({"width": case.size.0, "height": case.size.1}),
            "{kind}: the response's size"
        );
        match kind {
            // White over the source at 0.5: every channel at least half white.
            "blend-linear" => assert!(image.pixels().all(|p| p.0.iter().all(|&c| c >= 127))),
            // The white half of the mask takes the white upload, the rest keeps the source.
            "blend-mask" => {
                assert!((0..32).all(|x| image.get_pixel(x, 10).0 == [255, 255, 255]));
                assert!((32..64).any(|x| image.get_pixel(x, 10).0 != [255, 255, 255]));
            }
            "blend-grid" => {
                // The first cell is the first image.
                let first = &outputs(&server, &job, 1)[0];
                assert_eq!(image.get_pixel(5, 5), first.get_pixel(5, 5));
            }
            _ => assert!(mean(image) > 0.0, "{kind}: black image"),
        }
    }
    // Progress counted every stage: diffusion steps plus one per non-diffusion stage/tile.
    let (_, job) = post_chain(
        &server,
        &json!({"stages": [start("start"),
            {"name": "up", "type": "upscale-bsrgan", "params": {"upscaling": "upscaling-tiny-x2", "outscale": 2, "tiles": 32}},
            save()]}),
    );
    let status = finish(&server, &job);
    // 2 txt2img steps + 9 spiral tiles (32 px, overlap 0.5, 64 px image) + persist.
    assert_eq!(status["progress"], 2 + 9 + 1, "{status}");
    // onnx-web's steps: txt2img's, BSRGAN's (512 / 64)² for its default 512×512 size, 1 to save.
    assert_eq!(job["params"]["steps"], 2 + 64 + 1, "{job}");
}

#[test]
fn example_pipelines_run() {
    let server = TestServer::start();
    for (file, size) in [("codeformer", (128, 128)), ("outpaint", (128, 64))] {
        let text = std::fs::read_to_string(
            workspace_root().join(format!("crates/chain/pipelines/{file}.json")),
        )
        .unwrap();
        let chain: Value = serde_json::from_str(&text).unwrap();
        let (status, job) = post_chain(&server, &chain);
        assert_eq!(status, 200, "{file}: {job}");
        let image = &outputs(&server, &job, 1)[0];
        assert_eq!(image.dimensions(), size, "{file}");
    }
    // complex.json ends with persist-s3: it runs in the S3 test below.
}

#[test]
fn yaml_bodies_and_the_grid_of_the_gui() {
    let server = TestServer::start();
    let yaml = "defaults:\n  model: diffusion-tiny-demo\n  width: 64\n  height: 64\nstages:\n\
        - name: cell-0\n  type: source-txt2img\n  params: {model: diffusion-tiny-demo, width: 64, height: 64, steps: 2, seed: 1, tiles: 8192}\n\
        - name: cell-1\n  type: source-txt2img\n  params: {model: diffusion-tiny-demo, width: 64, height: 64, steps: 2, seed: 2, tiles: 8192}\n\
        - name: grid\n  type: blend-grid\n  params: {width: 1, height: 2, tiles: 8192}\n\
        - name: save\n  type: persist-disk\n  params: {tiles: 8192}\n";
    let (status, job) = post_chain_form(&server, yaml, &[]);
    assert_eq!(status, 200, "{job}");
    // cells + 1 names, the grid last; steps = both cells' steps + grid + save.
    assert_eq!(job["outputs"].as_array().unwrap().len(), 3);
    assert_eq!(job["params"]["steps"], 6);
    // The size of the grid the chain makes (onnx-web names its default size instead).
    assert_eq!(job["size"], json!({"width": 64, "height": 128}));
    assert!(job.get("upscale").is_none() && job.get("highres").is_none());
    let images = outputs(&server, &job, 3);
    assert_eq!(images[2].dimensions(), (64, 128));
    assert_eq!(images[2].get_pixel(3, 70), images[1].get_pixel(3, 6));
    assert_ne!(images[0], images[1]);
}

#[test]
fn unknown_names_in_chains_fall_back_with_warnings() {
    let server = TestServer::start();
    let mut stage = start("s");
    stage["params"]["model"] = json!("missing");
    stage["params"]["scheduler"] = json!("DPM++ 2M Karras");
    let (status, job) = post_chain(
        &server,
        &json!({"defaults": {"scheduler": "unipc", "platform": "quantum"}, "stages": [stage, save()]}),
    );
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["params"]["scheduler"], "unipc-multi");
    assert_eq!(
        job["warnings"],
        json!([
            "defaults: platform: \"quantum\" is not a platform here; ran on any platform",
            "defaults: scheduler: \"unipc\" is not a scheduler here; ran \"unipc-multi\", the name it stands for",
            "stage 0 \"s\" (source-txt2img): params.model: \"missing\" is not a diffusion model here; \
             ran the default model \"diffusion-tiny-demo\" instead",
            "stage 0 \"s\" (source-txt2img): params.scheduler: \"DPM++ 2M Karras\" is not a scheduler here; \
             ran \"dpm-multi\", the name it stands for",
        ]),
        "{job}"
    );
    let _ = outputs(&server, &job, 1);
}

#[test]
fn bad_chains_are_400_naming_the_stage() {
    let server = TestServer::start();
    let bad = |chain: Value, needle: &str| {
        let (status, body) = post_chain(&server, &chain);
        assert_eq!(status, 400, "{chain}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    };
    bad(
        json!({"stages": [start("a"), {"name": "refine", "type": "blend-img2img", "params": {}}]}),
        "stage 1 \"refine\" (blend-img2img): params.strength",
    );
    bad(
        json!({"stages": [{"name": "x", "type": "no-such", "params": {}}]}),
        "stage 0 \"x\"",
    );
    // A listed model this stage cannot run (the SD upscaler folder). An unknown name falls
    // back to the default upscaler with a warning (`unknown_names_in_chains_fall_back_...`).
    bad(
        json!({"stages": [start("a"), {"name": "up", "type": "upscale-resrgan", "params": {"upscaling": "upscaling-stable-diffusion-x4-tiny"}}]}),
        "\"up\" (upscale-resrgan): params.upscaling: \"upscaling-stable-diffusion-x4-tiny\" is not an \
         .onnx upscaling model",
    );
    bad(
        json!({"stages": [{"name": "s", "type": "source-txt2img", "params": {"steps": "many"}}]}),
        "\"s\" (source-txt2img): params.steps",
    );
    bad(
        json!({"stages": [{"name": "s", "type": "source-txt2img", "params": {"model": "../missing"}}]}),
        "\"s\" (source-txt2img): params.model",
    );
    bad(
        json!({"stages": [{"name": "s", "type": "source-txt2img", "params": {"tiles": "galaxy"}}]}),
        "params.tiles",
    );
    bad(
        json!({"stages": [{"name": "m", "type": "blend-mask", "params": {}}]}),
        "source:m",
    );
    bad(
        json!({"stages": [{"name": "s", "type": "source-txt2img", "params": {"list": [1, 2]}}]}),
        "params.list",
    );
    bad(
        json!({"defaults": {"model": "../missing"}, "stages": [start("a")]}),
        "defaults: model",
    );
    bad(json!({"stages": []}), "stages");
    // Not JSON, no body, a form without the field.
    let response = server
        .client
        .post(server.url("/api/chain"))
        .header("content-type", "application/json")
        .body("{\"stages\": [")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let (status, body) = post_chain_form(&server, "", &[]);
    assert_eq!(status, 400, "{body}");
    let form = Form::new().text("other", "x");
    let response = server
        .client
        .post(server.url("/api/chain"))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"], "chain pipeline must have a body");
}

/// A one-shot HTTP server on loopback that answers every request with `body` as a PNG.
fn serve_png(body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/picture.png", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        // Serve until the test is done with it (two requests at most here).
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    (url, handle)
}

#[test]
fn source_url_refuses_private_addresses_unless_allowed() {
    let image = picture(48, 40);
    let (url, handle) = serve_png(png(&image));
    let chain = json!({"stages": [
        {"name": "fetch", "type": "source-url", "params": {"source_urls": [url]}},
        save()]});

    // Refused by default: the job fails and nothing is fetched or saved.
    let server = TestServer::start();
    let (status, job) = post_chain(&server, &chain);
    assert_eq!(status, 200, "{job}");
    let status = finish(&server, &job);
    assert_eq!(status["failed"], true, "{status}");
    assert!(
        server.log().contains("--allow-private-urls"),
        "{}",
        server.log()
    );
    drop(server);

    // Allowed by the flag: the image arrives unchanged.
    let server = TestServer::start_with(&["--allow-private-urls"], &[]);
    let (status, job) = post_chain(&server, &chain);
    assert_eq!(status, 200, "{job}");
    let fetched = &outputs(&server, &job, 1)[0];
    assert_eq!(fetched, &image);
    handle.join().unwrap();

    // Other schemes never.
    let (_, job) = post_chain(
        &server,
        &json!({"stages": [{"name": "f", "type": "source-url", "params": {"source_urls": "file:///etc/passwd"}}, save()]}),
    );
    assert_eq!(finish(&server, &job)["failed"], true);
}

#[test]
fn s3_stages_round_trip_through_a_real_s3_server() {
    let moto = Moto::start("127.0.0.1");
    moto.create_bucket("chain-outputs");
    let env = [
        ("ONNX_WEB_S3_ENDPOINT", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let server = TestServer::start_with(&[], &env);

    // complex.json: txt2img → img2img → SD x4 → disk → S3.
    let text =
        std::fs::read_to_string(workspace_root().join("crates/chain/pipelines/complex.json"))
            .unwrap();
    let (status, job) = post_chain(&server, &serde_json::from_str(&text).unwrap());
    assert_eq!(status, 200, "{job}");
    let saved = outputs(&server, &job, 1).remove(0);
    assert_eq!(saved.dimensions(), (256, 256));
    let key = job["outputs"][0].as_str().unwrap().to_owned();

    // The object is there, a PNG of the same pixels as the file on disk (read back with boto3,
    // a client that is not ours; like onnx-web, the upload carries no metadata chunks).
    let object = moto.get_object("chain-outputs", &key);
    assert!(object.starts_with(b"\x89PNG"));
    assert_eq!(image::load_from_memory(&object).unwrap().to_rgb8(), saved);

    // source-s3 reads it back into a chain unchanged.
    let (status, job) = post_chain(
        &server,
        &json!({"stages": [
            {"name": "load", "type": "source-s3", "params": {"bucket": "chain-outputs", "source_keys": [key]}},
            save()]}),
    );
    assert_eq!(status, 200, "{job}");
    assert_eq!(outputs(&server, &job, 1).remove(0), saved);

    // A missing key fails the job.
    let (_, job) = post_chain(
        &server,
        &json!({"stages": [{"name": "load", "type": "source-s3", "params": {"bucket": "chain-outputs", "source_keys": "missing.png"}}, save()]}),
    );
    assert_eq!(finish(&server, &job)["failed"], true);
}
