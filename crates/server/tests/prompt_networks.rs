//! The prompt language end to end (§5): LoRA and Textual Inversion tokens really change the
//! model, wildcards are seeded, long and weighted prompts work. Real HTTP, real ONNX sessions on
//! the tiny models, real PNGs.

mod common;

use common::TestServer;
use image::RgbImage;

const BASE: &str = "steps=3&cfg=5&width=64&height=64&seed=7&model=diffusion-tiny-demo";

fn generate(server: &TestServer, prompt: &str) -> RgbImage {
    let query = format!("{BASE}&prompt={}", urlencode(prompt));
    let job = server.txt2img(&query);
    server.images(&job).remove(0)
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

#[test]
fn lora_at_weight_zero_changes_nothing_and_at_weight_one_changes_the_image() {
    let server = TestServer::start();
    let plain = generate(&server, "a red cube");
    let zero = generate(&server, "<lora:tiny-lora:0.0> a red cube");
    let one = generate(&server, "<lora:tiny-lora:1.0> a red cube");
    let again = generate(&server, "<lora:tiny-lora:1.0> a red cube");
    assert_eq!(
        plain, zero,
        "a LoRA at weight 0 must leave the image unchanged"
    );
    let changed = mean_difference(&plain, &one);
    assert!(
        changed > 1.0,
        "a LoRA at weight 1 must change the image (mean diff {changed})"
    );
    assert_eq!(
        one, again,
        "the blended model is deterministic (and cached)"
    );
    // The networks in the negative prompt are blended too (§5.10).
    let query = format!(
        "{BASE}&prompt=a+red+cube&negativePrompt={}",
        urlencode("<lora:tiny-lora:1.0>")
    );
    let negative = server.images(&server.txt2img(&query)).remove(0);
    assert_eq!(
        negative, one,
        "an empty negative prompt encodes like a token-only one"
    );
}

#[test]
fn inversion_tokens_change_the_image_only_when_used() {
    let server = TestServer::start();
    let plain = generate(&server, "a red cube");
    // Loading the inversion but not writing its token: the ids and embeddings are the same.
    let unused = generate(&server, "<inversion:tiny-inversion:1.0> a red cube");
    assert_eq!(plain, unused);
    let used = generate(
        &server,
        "<inversion:tiny-inversion:1.0> a tiny-inversion cube",
    );
    let without = generate(&server, "a tiny-inversion cube");
    assert!(mean_difference(&used, &without) > 0.5);
}

#[test]
fn unknown_networks_fail_the_job_with_their_name() {
    let server = TestServer::start();
    let job = server.txt2img(&format!("{BASE}&prompt=%3Clora%3Anope%3A1.0%3E+cube"));
    let key = job["outputs"][0].as_str().unwrap();
    let last = server.wait(key).pop().unwrap();
    assert_eq!(last["failed"], true);
    assert!(server.log().contains("nope"), "{}", server.log());
}

#[test]
fn wildcards_are_listed_and_seeded() {
    let server = TestServer::start();
    let keys = server.get_json("/api/settings/wildcards");
    assert!(
        keys.as_array().unwrap().iter().any(|k| k == "colors"),
        "{keys}"
    );
    let expand = |seed: u32| {
        let job = server.txt2img(&format!(
            "steps=1&width=64&height=64&seed={seed}&model=diffusion-tiny-demo&prompt=a+__colors__+cube+__colors__"
        ));
        job["params"]["prompt"].as_str().unwrap().to_owned()
    };
    let first = expand(11);
    assert!(!first.contains("__"), "{first}");
    assert_eq!(first, expand(11), "same seed, same pick");
    let words: Vec<&str> = first.split(' ').collect();
    assert_ne!(
        words[1], words[3],
        "picks within a prompt are without replacement"
    );
    let picks: std::collections::HashSet<String> = (0..8).map(expand).collect();
    assert!(
        picks.len() > 1,
        "different seeds pick differently: {picks:?}"
    );
}

#[test]
fn long_weighted_and_staged_prompts_generate() {
    let server = TestServer::start();
    let short = generate(&server, "a red cube");
    // 40 × 4 tokens: the last words are past the first 77-token chunk.
    let head = ["a red cube"; 40].join(", ");
    let long = generate(&server, &format!("{head}, a blue sphere"));
    let other_tail = generate(&server, &format!("{head}, a green pyramid"));
    assert_ne!(long, other_tail, "a prompt past 77 tokens keeps its tail");
    assert_ne!(short, long);
    // pipeline=lpw is the same long-prompt encoding.
    let query = format!(
        "{BASE}&pipeline=lpw&prompt={}",
        urlencode(&format!("{head}, a blue sphere"))
    );
    let job = server.txt2img(&query);
    assert_eq!(job["params"]["pipeline"], "lpw");
    assert_eq!(server.images(&job).remove(0), long);
    let weighted = generate(&server, "a (red:1.5) cube");
    assert!(mean_difference(&short, &weighted) > 0.1);
    // The base stage of txt2img uses prompt stage 0.
    let staged = generate(&server, "a red cube|| something else");
    let first_stage = generate(&server, "a red cube");
    assert_eq!(staged, first_stage);
}

#[test]
fn reseed_tokens_replace_the_starting_noise_of_their_region() {
    let server = TestServer::start();
    let plain = generate(&server, "a red cube");
    let reseeded = generate(&server, "a red cube <reseed:0:0:32:32:5>");
    assert_eq!(
        reseeded,
        generate(&server, "a red cube <reseed:0:0:32:32:5>")
    );
    // Only the top-left quarter's noise changes, so that is where the image changes most.
    let quarter_difference = |top: u32, left: u32| {
        let mut total = 0u64;
        for y in top..top + 32 {
            for x in left..left + 32 {
                let (a, b) = (plain.get_pixel(x, y), reseeded.get_pixel(x, y));
                total += (0..3).map(|c| u64::from(a[c].abs_diff(b[c]))).sum::<u64>();
            }
        }
        total
    };
    let top_left = quarter_difference(0, 0);
    assert!(top_left > 0);
    assert!(
        top_left > quarter_difference(32, 32),
        "the reseeded corner changes most"
    );
    // Pixel regions map to latent cells by floor division, as numpy slices them: 30 px covers
    // the same 3×3 cells as 24 px.
    assert_eq!(
        generate(&server, "a red cube <reseed:0:0:30:30:5>"),
        generate(&server, "a red cube <reseed:0:0:24:24:5>")
    );
    // A region that does not fit the image is skipped (numpy cannot assign it).
    assert_eq!(
        plain,
        generate(&server, "a red cube <reseed:0:0:128:128:5>")
    );
}

#[test]
fn region_prompts_guide_panorama_images() {
    let server = TestServer::start();
    let run = |prompt: &str, pipeline: &str| {
        let query = format!(
            "steps=4&cfg=5&width=128&height=64&seed=7&scheduler=ddim&model=diffusion-tiny-demo&pipeline={pipeline}&prompt={}",
            urlencode(prompt)
        );
        server.images(&server.txt2img(&query)).remove(0)
    };
    let plain = run("a red cube", "panorama");
    // A region over the whole image with the base prompt denoises exactly what the view does:
    // mixed at weight 1 (v + v) / 2 or replacing (weight 100), the picture stays the same.
    for weight in [1, 100] {
        let same = format!("a red cube <region:0:0:64:128:{weight}:0:a red cube>");
        assert_eq!(plain, run(&same, "panorama"), "weight {weight}");
    }
    // At weight 0 a region adds nothing.
    assert_eq!(
        plain,
        run(
            "a red cube <region:0:0:64:64:0:0:a blue sphere>",
            "panorama"
        )
    );
    // Its own prompt changes the picture, reproducibly; weight, feathering and `+` matter.
    let region = "a red cube <region:0:0:64:64:1:0:a blue sphere>";
    let guided = run(region, "panorama");
    assert!(mean_difference(&plain, &guided) > 0.1);
    assert_eq!(guided, run(region, "panorama"));
    for variant in [
        "a red cube <region:0:0:64:64:100:0:a blue sphere>",
        "a red cube <region:0:0:64:64:1:0.25_L:a blue sphere>",
        "a red cube <region:0:0:64:64:1:0:a blue sphere+>",
    ] {
        assert_ne!(guided, run(variant, "panorama"), "{variant}");
    }
    // Other pipelines take the token out of the prompt and ignore it, as onnx-web does.
    assert_eq!(run("a red cube", "txt2img"), run(region, "txt2img"));
}
