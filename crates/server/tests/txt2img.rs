//! txt2img end to end: real HTTP against the real server, real ONNX sessions on the tiny models,
//! real PNG files decoded.

mod common;

use common::TestServer;
use serde_json::Value;

const BASE: &str = "prompt=a+red+cube&steps=4&cfg=6&model=diffusion-tiny-demo";

fn png_text(bytes: &[u8]) -> Vec<(String, String)> {
    onnx_web_imageops::read_png_text(bytes).expect("PNG text chunks")
}

#[test]
fn txt2img_answers_with_the_job_then_serves_a_png_of_the_asked_size() {
    let server = TestServer::start();
    let job = server.txt2img("prompt=a+red+cube&steps=4&width=64&height=64&seed=42");

    // onnx-web's job description, key for key.
    let mut keys: Vec<&str> = job
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "highres",
            "input_size",
            "outputs",
            "params",
            "size",
            "upscale"
        ]
    );
    let params = &job["params"];
    let mut param_keys: Vec<&str> = params
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    param_keys.sort();
    assert_eq!(
        param_keys,
        [
            "batch",
            "cfg",
            "control",
            "denoise",
            "eta",
            "input_negative_prompt",
            "input_prompt",
            "loopback",
            "model",
            "negative_prompt",
            "pipeline",
            "prompt",
            "scheduler",
            "seed",
            "steps",
            "tiled_vae",
            "unet_overlap",
            "unet_tile",
            "vae_overlap",
            "vae_tile"
        ]
    );
    assert_eq!(params["seed"], 42);
    assert_eq!(params["steps"], 4);
    assert_eq!(params["prompt"], "a red cube");
    assert_eq!(params["negative_prompt"], Value::Null);
    assert_eq!(job["size"], serde_json::json!({"width": 64, "height": 64}));
    assert_eq!(
        job["input_size"],
        serde_json::json!({"width": 64, "height": 64})
    );
    let outputs = job["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1);
    let name = outputs[0].as_str().unwrap();
    assert!(
        name.starts_with("txt2img_42_") && name.ends_with("_0.png"),
        "{name}"
    );

    let seen = server.wait(name);
    let last = seen.last().unwrap();
    assert_eq!(
        *last,
        serde_json::json!({"cancelled": false, "failed": false, "pending": false, "progress": 4, "ready": true})
    );
    // Every intermediate answer has the five keys and a sane state.
    for status in &seen {
        assert_eq!(status.as_object().unwrap().len(), 5, "{status}");
        assert!(status["progress"].as_u64().unwrap() <= 4);
        if status["pending"] == true {
            assert_eq!(status["progress"], 0);
        }
    }

    let bytes = server.output_bytes(name);
    let image = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (64, 64));
    // Random weights still make a picture, not a flat colour.
    let first = image.get_pixel(0, 0);
    assert!(
        image.pixels().any(|p| p != first),
        "image is one flat colour"
    );

    // onnx-web's metadata: PNG text chunks and the JSON sidecar.
    let text = png_text(&bytes);
    let chunk = |key: &str| text.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(chunk("make").as_deref(), Some("onnx-web"));
    let maker_note: Value = serde_json::from_str(&chunk("maker note").unwrap()).unwrap();
    assert_eq!(maker_note["outputs"], serde_json::json!([name]));
    assert_eq!(maker_note["params"]["seed"], 42);
    let parameters = chunk("parameters").unwrap();
    assert!(
        parameters.starts_with("a red cube\nNegative prompt: \nSteps: 4, "),
        "{parameters}"
    );
    assert!(
        parameters.contains("Seed: 42") && parameters.contains("Size: 64x64"),
        "{parameters}"
    );
    let sidecar: Value = server.get(&format!("/output/{name}.json")).json().unwrap();
    assert_eq!(sidecar["outputs"], Value::String(name.to_owned()));
    assert_eq!(sidecar["params"], maker_note["params"]);
}

#[test]
fn batch_of_two_at_a_wide_size_makes_two_different_images() {
    let server = TestServer::start();
    let job = server.txt2img(&format!("{BASE}&width=128&height=64&batch=2&seed=5"));
    assert_eq!(job["outputs"].as_array().unwrap().len(), 2);
    assert_eq!(job["params"]["batch"], 2);
    let images = server.images(&job);
    assert_eq!(images.len(), 2);
    for image in &images {
        assert_eq!(image.dimensions(), (128, 64));
    }
    assert_ne!(
        images[0], images[1],
        "batch items share one latent tensor but not one slice of it"
    );
}

#[test]
fn the_same_seed_gives_the_same_pixels_and_another_seed_does_not() {
    let server = TestServer::start();
    for scheduler in ["euler", "euler-a"] {
        let query =
            |seed: u32| format!("{BASE}&width=64&height=64&scheduler={scheduler}&seed={seed}");
        let first = server.images(&server.txt2img(&query(7)));
        let again = server.images(&server.txt2img(&query(7)));
        let other = server.images(&server.txt2img(&query(8)));
        assert_eq!(first, again, "{scheduler}: same seed, different pixels");
        assert_ne!(first, other, "{scheduler}: another seed, same pixels");
    }
}

#[test]
fn identical_requests_in_the_same_second_get_their_own_jobs() {
    let server = TestServer::start();
    let query = format!("{BASE}&width=64&height=64&seed=21");
    let first = server.txt2img(&query);
    let second = server.txt2img(&query);
    let third = server.txt2img(&query);
    let keys: Vec<&str> = [&first, &second, &third]
        .iter()
        .map(|job| job["outputs"][0].as_str().unwrap())
        .collect();
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[1], keys[2]);
    assert_ne!(keys[0], keys[2]);
    let images: Vec<_> = [&first, &second, &third]
        .iter()
        .map(|job| server.images(job))
        .collect();
    assert_eq!(images[0], images[1]);
    assert_eq!(images[1], images[2]);
}

#[test]
fn a_random_seed_is_reported_and_reproduces_the_image() {
    let server = TestServer::start();
    let job = server.txt2img(&format!("{BASE}&width=64&height=64&seed=-1"));
    let seed = job["params"]["seed"].as_u64().unwrap();
    assert!(seed < 2_147_483_647, "{seed}");
    let images = server.images(&job);
    let again = server.images(&server.txt2img(&format!("{BASE}&width=64&height=64&seed={seed}")));
    assert_eq!(images, again);
}

#[test]
fn every_implemented_scheduler_runs_and_both_model_layouts_load() {
    let server = TestServer::start();
    let schedulers: Vec<Value> = server
        .get_json("/api/settings/schedulers")
        .as_array()
        .unwrap()
        .clone();
    assert!(schedulers.len() >= 4, "{schedulers:?}");
    let mut images = Vec::new();
    for scheduler in &schedulers {
        let scheduler = scheduler.as_str().unwrap();
        let job = server.txt2img(&format!(
            "{BASE}&width=64&height=64&seed=3&scheduler={scheduler}"
        ));
        assert_eq!(job["params"]["scheduler"], scheduler);
        images.push(server.images(&job).remove(0));
    }
    // The int64-timestep, inline-weights layout of optimum exports, without guidance.
    let job = server.txt2img(
        "prompt=a+cube&steps=3&cfg=1&width=64&height=64&seed=3&model=diffusion-tiny-int64",
    );
    assert_eq!(job["params"]["model"], "diffusion-tiny-int64");
    assert_eq!(server.images(&job)[0].dimensions(), (64, 64));
    // A negative prompt changes the guided result.
    let plain =
        server.images(&server.txt2img(&format!("{BASE}&width=64&height=64&seed=3&scheduler=ddim")));
    let negative = server.images(&server.txt2img(&format!(
        "{BASE}&width=64&height=64&seed=3&scheduler=ddim&negativePrompt=blurry"
    )));
    assert_ne!(plain, negative);
}

#[test]
fn schedulers_that_call_the_model_twice_count_every_call() {
    let server = TestServer::start();
    // Heun and the DPM-2 family run 2n-1 UNet calls for n steps, as diffusers does; onnx-web's
    // progress counts calls too, so a finished 4-step job reports 7.
    for scheduler in ["heun", "k-dpm-2", "k-dpm-2-a", "dpm-sde"] {
        let job = server.txt2img(&format!(
            "{BASE}&width=64&height=64&seed=4&scheduler={scheduler}"
        ));
        let key = job["outputs"][0].as_str().unwrap();
        let last = server.wait(key).pop().unwrap();
        assert_eq!(last["failed"], false, "{scheduler}: {last}");
        assert_eq!(last["progress"], 7, "{scheduler}: {last}");
    }
    // A cancel lands between the two calls of a step as well as anywhere else.
    let job = server.txt2img(
        "prompt=x&steps=150&width=256&height=256&seed=1&scheduler=heun&model=diffusion-tiny-demo",
    );
    let key = job["outputs"][0].as_str().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while server.ready(key)["progress"].as_u64().unwrap() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "heun job never progressed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    server.cancel(key);
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["cancelled"], true);
    assert!(last["progress"].as_u64().unwrap() < 299, "{last}");
}

#[test]
fn cancel_removes_a_pending_job_and_stops_a_running_one() {
    let server = TestServer::start();
    // A long job keeps the only worker busy: 300 steps at 256x256.
    let long = server
        .txt2img("prompt=slow&steps=300&width=256&height=256&seed=1&model=diffusion-tiny-demo");
    let long_key = long["outputs"][0].as_str().unwrap().to_owned();
    let queued = server.txt2img(&format!("{BASE}&width=64&height=64&seed=2"));
    let queued_key = queued["outputs"][0].as_str().unwrap().to_owned();
    assert_eq!(server.ready(&queued_key)["pending"], true);

    // Pending: removed from the queue, reported cancelled, never run.
    let reply = server.cancel(&queued_key);
    assert_eq!(reply["cancelled"], true);
    let status = server.ready(&queued_key);
    assert_eq!(status["ready"], true);
    assert_eq!(status["cancelled"], true);
    assert_eq!(status["progress"], 0);

    // Running: stops at the next step.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while server.ready(&long_key)["progress"].as_u64().unwrap() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "long job never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(server.cancel(&long_key)["cancelled"], true);
    let last = server.wait(&long_key).pop().unwrap();
    assert_eq!(last["cancelled"], true);
    assert_eq!(last["failed"], true);
    assert!(last["progress"].as_u64().unwrap() < 300, "{last}");
    // Nothing was written for either job.
    assert_eq!(server.get(&format!("/output/{long_key}")).status(), 404);
    assert_eq!(server.get(&format!("/output/{queued_key}")).status(), 404);
    // A finished job cannot be cancelled, and the worker still serves.
    assert_eq!(server.cancel(&long_key)["cancelled"], false);
    let next = server.txt2img(&format!("{BASE}&width=64&height=64&seed=9"));
    assert_eq!(server.images(&next).len(), 1);
}
