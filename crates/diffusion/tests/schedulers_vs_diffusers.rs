//! Every scheduler against diffusers itself: `tests/fixtures/schedulers/<name>.json` holds the
//! trajectories diffusers' classes produce (written by `tools/scheduler_fixtures.py`) for a fixed
//! fake model and fixed noise; each case is replayed here through `create_scheduler` and must
//! agree: timesteps exactly, sigmas / init_noise_sigma / input scales to float32 rounding, and the
//! sample after every step to 1e-4 relative error (max |ours - theirs| over the tensor, divided by
//! max |theirs|).

use std::path::PathBuf;

use onnx_web_diffusion::schedulers::{
    create_scheduler, NoiseSource, SchedulerConfig, SchedulerOptions, ONNX_WEB_SCHEDULERS,
    SCHEDULER_NAMES,
};
use serde_json::Value;

const SAMPLE_TOLERANCE: f64 = 1e-4;

/// Timesteps that diffusers derives through transcendental functions of float32 values (the
/// `_sigma_to_t` of Karras sigmas and of the KDPM2 / DPM-SDE midpoints, IPNDM's `atan2`) depend on
/// numpy's and torch's vectorised float32 `log` / `exp` / `pow`, which are not correctly rounded
/// (and differ between CPUs): those match to this fraction of the largest timestep. All others
/// (every spacing rule) match exactly.
const DERIVED_TIMESTEP_TOLERANCE: f64 = 1e-6;

fn exact_timestep(name: &str, karras: bool, index: usize) -> bool {
    let midpoints = matches!(name, "k-dpm-2" | "k-dpm-2-a" | "dpm-sde");
    !karras && name != "ipndm" && !(midpoints && index % 2 == 1)
}

/// Replays the noise tensors diffusers drew, in order.
struct ReplayNoise {
    draws: Vec<Vec<f32>>,
    next: usize,
}

impl NoiseSource for ReplayNoise {
    fn fill_standard_normal(&mut self, out: &mut [f32]) {
        let draw = self.draws.get(self.next).unwrap_or_else(|| {
            panic!(
                "the scheduler drew noise {} times, diffusers fewer",
                self.next + 1
            )
        });
        assert_eq!(
            draw.len(),
            out.len(),
            "noise draw {} has another size",
            self.next
        );
        out.copy_from_slice(draw);
        self.next += 1;
    }
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schedulers")
}

fn f32s(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number") as f32)
        .collect()
}

fn f64s(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

/// The fixtures' fake model, over the scaled model input.
fn fake_model(input: &[f32], timestep: f64, out: &mut [f32]) {
    for (i, (o, &x)) in out.iter_mut().zip(input).enumerate() {
        *o = (0.1 * x as f64 + (timestep / 100.0 + 0.1 * i as f64).sin()) as f32;
    }
}

fn relative_error(ours: &[f32], theirs: &[f32]) -> f64 {
    let scale = theirs
        .iter()
        .map(|v| (*v as f64).abs())
        .fold(0.0, f64::max)
        .max(1e-12);
    let diff = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .fold(0.0, f64::max);
    diff / scale
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-30) || a == b
}

struct CaseResult {
    max_error: f64,
    calls: usize,
}

fn run_case(name: &str, case: &Value) -> Result<CaseResult, String> {
    let case_name = case["name"].as_str().unwrap();
    let label = format!("{name} {case_name}");
    let config = SchedulerConfig::from_json_str(&case["config"].to_string())
        .map_err(|e| format!("{label}: config: {e}"))?;
    let mut scheduler = create_scheduler(name, &config, SchedulerOptions::default())
        .map_err(|e| format!("{label}: create: {e}"))?;
    let steps = case["steps"].as_u64().unwrap() as usize;
    scheduler.set_timesteps(steps, None);

    let want_timesteps = f64s(&case["timesteps"]);
    let timesteps = scheduler.timesteps().to_vec();
    let karras = case["config"]["use_karras_sigmas"] == Value::Bool(true);
    let top = want_timesteps.iter().fold(0f64, |m, t| m.max(t.abs()));
    let timesteps_match = timesteps.len() == want_timesteps.len()
        && timesteps
            .iter()
            .zip(&want_timesteps)
            .enumerate()
            .all(|(j, (&ours, &theirs))| {
                if exact_timestep(name, karras, j) {
                    ours == theirs
                } else {
                    (ours - theirs).abs() <= DERIVED_TIMESTEP_TOLERANCE * top
                }
            });
    if !timesteps_match {
        return Err(format!(
            "{label}: timesteps\n  ours   {timesteps:?}\n  theirs {want_timesteps:?}"
        ));
    }
    if !case["sigmas"].is_null() {
        let want = f32s(&case["sigmas"]);
        let ours = scheduler
            .sigmas()
            .ok_or_else(|| format!("{label}: diffusers has sigmas, we have none"))?;
        let ok = ours.len() == want.len()
            && ours
                .iter()
                .zip(&want)
                .all(|(a, b)| (a.is_nan() && b.is_nan()) || close(*a as f64, *b as f64, 2e-6));
        if !ok {
            return Err(format!(
                "{label}: sigmas\n  ours   {ours:?}\n  theirs {want:?}"
            ));
        }
    }
    let init_sigma = case["init_noise_sigma"].as_f64().unwrap();
    if !close(scheduler.init_noise_sigma() as f64, init_sigma, 2e-6) {
        return Err(format!(
            "{label}: init_noise_sigma {} vs {init_sigma}",
            scheduler.init_noise_sigma()
        ));
    }
    let scales = f64s(&case["input_scales"]);
    let samples: Vec<Vec<f32>> = case["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(f32s)
        .collect();
    assert_eq!(samples.len(), timesteps.len(), "{label}: fixture calls");
    let mut noise = ReplayNoise {
        draws: case["noise"].as_array().unwrap().iter().map(f32s).collect(),
        next: 0,
    };

    let mut sample = f32s(&case["initial"]);
    let init = scheduler.init_noise_sigma();
    sample.iter_mut().for_each(|x| *x *= init);
    let mut input = vec![0f32; sample.len()];
    let mut output = vec![0f32; sample.len()];
    let mut max_error = 0f64;
    for (index, &t) in timesteps.iter().enumerate() {
        let scale = scheduler.input_scale(index);
        if !close(scale as f64, scales[index], 2e-6) {
            return Err(format!(
                "{label}: input scale at call {index}: {scale} vs {}",
                scales[index]
            ));
        }
        for (i, &x) in input.iter_mut().zip(&sample) {
            *i = x * scale;
        }
        fake_model(&input, t, &mut output);
        scheduler.step(&output, index, &mut sample, &mut noise);
        let error = relative_error(&sample, &samples[index]);
        if error.is_nan() || error > SAMPLE_TOLERANCE {
            return Err(format!(
                "{label}: sample after call {index} (t = {t}): relative error {error:.3e}\n  ours   {:?}\n  theirs {:?}",
                &sample[..6],
                &samples[index][..6]
            ));
        }
        max_error = max_error.max(error);
    }
    if noise.next != noise.draws.len() {
        return Err(format!(
            "{label}: drew noise {} times, diffusers {}",
            noise.next,
            noise.draws.len()
        ));
    }
    Ok(CaseResult {
        max_error,
        calls: timesteps.len(),
    })
}

#[test]
fn every_scheduler_reproduces_diffusers() {
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    let mut total_cases = 0;
    for &name in SCHEDULER_NAMES {
        let path = fixtures_dir().join(format!("{name}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let fixture: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(fixture["scheduler"], name);
        let class = ONNX_WEB_SCHEDULERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .unwrap();
        assert_eq!(fixture["class"], class);
        let cases = fixture["cases"].as_array().unwrap();
        assert!(cases.len() >= 3, "{name}: {} cases", cases.len());
        let mut worst = 0f64;
        let mut calls = 0;
        for case in cases {
            total_cases += 1;
            match run_case(name, case) {
                Ok(result) => {
                    worst = worst.max(result.max_error);
                    calls += result.calls;
                }
                Err(message) => failures.push(message),
            }
        }
        summary.push(format!(
            "{name:>13}: {:>2} cases, {calls:>4} calls, max relative error {worst:.2e}",
            cases.len()
        ));
    }
    println!("{}", summary.join("\n"));
    assert!(total_cases > 100, "{total_cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {total_cases} cases differ from diffusers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
