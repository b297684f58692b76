//! txt2txt end to end on the tiny GPT-2 export: queued like image jobs, greedy and sampled
//! decoding, the token limit, with and without past key values, and 400s naming the field.

mod common;

use common::TestServer;
use serde_json::Value;

fn generate(server: &TestServer, query: &str) -> (Value, String, Value) {
    let response = server.post(&format!("/api/txt2txt?{query}"));
    assert_eq!(response.status(), 200);
    let job: Value = response.json().unwrap();
    let name = job["outputs"][0].as_str().unwrap().to_owned();
    assert!(
        name.starts_with("txt2txt_") && name.ends_with(".txt"),
        "{name}"
    );
    let last = server.wait(&name).pop().unwrap();
    assert_eq!(last["failed"], false, "{}", server.log());
    let text = String::from_utf8(server.output_bytes(&name)).unwrap();
    (job, text, last)
}

#[test]
fn greedy_and_sampled_generation() {
    let server = TestServer::start();
    let (job, greedy, last) = generate(&server, "prompt=the+cat&max_tokens=6&temperature=0&seed=1");
    assert_eq!(job["params"]["model"], "text-tiny-gpt2");
    assert_eq!(job["params"]["max_tokens"], 6);
    assert!(greedy.starts_with("the cat"), "{greedy:?}");
    assert!(greedy.len() > "the cat".len(), "{greedy:?}");
    // One model call per generated token (at most max_tokens).
    let calls = last["progress"].as_u64().unwrap();
    assert!((1..=6).contains(&calls), "{last}");
    // Greedy decoding does not depend on the seed.
    let (_, again, _) = generate(&server, "prompt=the+cat&max_tokens=6&temperature=0&seed=2");
    assert_eq!(again, greedy);
    // Sampling does.
    let samples: Vec<String> = (1..=4)
        .map(|seed| {
            generate(
                &server,
                &format!("prompt=the+cat&max_tokens=12&temperature=1.5&top_k=0&seed={seed}"),
            )
            .1
        })
        .collect();
    assert!(samples.iter().any(|s| s != &samples[0]), "{samples:?}");
    let (_, repeat, _) = generate(
        &server,
        "prompt=the+cat&max_tokens=12&temperature=1.5&top_k=0&seed=1",
    );
    assert_eq!(repeat, samples[0]);
}

#[test]
fn without_past_key_values_the_result_is_the_same() {
    let models = tempfile::tempdir().unwrap();
    let source = common::models_dir().join("text-tiny-gpt2");
    let copy = models.path().join("text-tiny-gpt2");
    std::fs::create_dir(&copy).unwrap();
    for file in ["decoder_model.onnx", "tokenizer.json", "config.json"] {
        std::fs::copy(source.join(file), copy.join(file)).unwrap();
    }
    let with_past = TestServer::start();
    let without = TestServer::start_in(models.path(), &[], &[]);
    let query = "prompt=a+painting+of&max_tokens=10&temperature=0&seed=3";
    assert_eq!(generate(&with_past, query).1, generate(&without, query).1);
}

#[test]
fn bad_requests_name_the_field() {
    let server = TestServer::start();
    for (query, field) in [
        ("max_tokens=4", "prompt"),
        ("prompt=hi&model=nope", "model"),
        ("prompt=hi&max_tokens=many", "max_tokens"),
        ("prompt=hi&temperature=hot", "temperature"),
        ("prompt=hi&seed=x", "seed"),
    ] {
        let response = server.post(&format!("/api/txt2txt?{query}"));
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().unwrap();
        assert!(
            body["error"].as_str().unwrap().starts_with(field),
            "{query}: {body}"
        );
    }
}
