//! A bounded load test on loopback: 100 concurrent clients submit mixed txt2img, img2img and
//! upscale jobs to the real server (tiny models, tiny sizes, few steps), retrying on the
//! configured 429s, then poll and fetch their outputs. No other error may happen, every accepted
//! job completes, and each client gets its own image (size and prompt), never another's.

mod common;
mod upload;

use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::Value;
use upload::{picture, png};

const CLIENTS: usize = 100;

/// What one client asks for and must get back.
struct Plan {
    path: String,
    source: Option<(u32, u32)>,
    expected: (u32, u32),
    prompt: String,
}

fn plan(client: usize) -> Plan {
    let prompt = format!("client {client} cube");
    let encoded = format!("client+{client}+cube");
    match client % 3 {
        0 => Plan {
            path: format!("/api/txt2img?prompt={encoded}&steps=2&width=64&height=64&seed={client}"),
            source: None,
            expected: (64, 64),
            prompt,
        },
        1 => {
            let size = (64 + 8 * (client as u32 % 4), 64);
            Plan {
                path: format!(
                    "/api/img2img?prompt={encoded}&steps=2&strength=0.5&sourceFilter=none&seed={client}"
                ),
                source: Some(size),
                expected: size,
                prompt,
            }
        }
        _ => {
            let size = (16 + client as u32 % 7, 8 + client as u32 % 5);
            Plan {
                path: format!(
                    "/api/upscale?prompt={encoded}&upscale=true&upscaling=upscaling-tiny-x2&scale=2&outscale=2"
                ),
                source: Some(size),
                expected: (size.0 * 2, size.1 * 2),
                prompt,
            }
        }
    }
}

/// Submits (retrying on 429 only), waits, fetches; returns how many 429s it saw.
async fn run_client(client: usize, base: String, http: reqwest::Client) -> Result<usize, String> {
    let plan = plan(client);
    let mut refusals = 0;
    let job: Value = loop {
        let mut request = http.post(format!("{base}{}", plan.path));
        if let Some((w, h)) = plan.source {
            let part = reqwest::multipart::Part::bytes(png(&picture(w, h)))
                .file_name("source.png")
                .mime_str("image/png")
                .unwrap();
            request = request.multipart(reqwest::multipart::Form::new().part("source", part));
        }
        let response = request.send().await.map_err(|e| format!("{client}: {e}"))?;
        match response.status().as_u16() {
            200 => break response.json().await.map_err(|e| e.to_string())?,
            429 => {
                let body: Value = response.json().await.map_err(|e| e.to_string())?;
                if body["error"].as_str().is_none() {
                    return Err(format!("{client}: 429 without a JSON error"));
                }
                refusals += 1;
                tokio::time::sleep(Duration::from_millis(100 + (client as u64 % 10) * 20)).await;
            }
            other => {
                let text = response.text().await.unwrap_or_default();
                return Err(format!("{client}: {other} {text}"));
            }
        }
    };
    let key = job["outputs"][0].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status: Value = http
            .get(format!("{base}/api/ready?output={key}"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if status["ready"] == true {
            if status["failed"] != false {
                return Err(format!("{client}: job failed {status}"));
            }
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{client}: job {key} did not finish"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bytes = http
        .get(format!("{base}/output/{key}"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .bytes()
        .await
        .map_err(|e| e.to_string())?;
    let image = image::load_from_memory(&bytes).map_err(|e| format!("{client}: {e}"))?;
    if (image.width(), image.height()) != plan.expected {
        return Err(format!(
            "{client}: got a {}x{} image, expected {:?}",
            image.width(),
            image.height(),
            plan.expected
        ));
    }
    let sidecar: Value = http
        .get(format!("{base}/output/{key}.json"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if sidecar["params"]["prompt"] != plan.prompt.as_str() {
        return Err(format!(
            "{client}: the output belongs to {}",
            sidecar["params"]["prompt"]
        ));
    }
    Ok(refusals)
}

#[test]
fn a_hundred_concurrent_clients_get_their_own_outputs_and_only_429s() {
    let server =
        TestServer::start_with(&["--max-queue", "30", "--max-queue-per-client", "30"], &[]);
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let results: Vec<Result<usize, String>> = runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|client| tokio::spawn(run_client(client, server.base.clone(), http.clone())))
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    drop(runtime);
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", server.log());
    let refusals: usize = results.iter().map(|r| *r.as_ref().unwrap()).sum();
    let elapsed = started.elapsed();
    eprintln!("load: {CLIENTS} clients in {elapsed:.1?}, {refusals} refusals (429)");
    assert!(
        refusals > 0,
        "100 clients against a queue of 30 must see 429s"
    );
    assert!(elapsed < Duration::from_secs(120), "took {elapsed:?}");
}
