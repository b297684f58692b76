//! Bit-for-bit checks of the numpy generators against numpy itself.
//!
//! The fixtures in `tests/fixtures/numpy/` are written by `tools/numpy_fixtures.py` (numpy
//! 1.23.5, the version onnx-web 0.12 pins; numpy 2.4 gives the same files). Floats are compared
//! as bit patterns (`f32::to_bits`, `f64::to_bits`): first and last values and a weighted sum of
//! the bit patterns of every value.

use std::path::PathBuf;

use onnx_web_diffusion::latents::{
    latent_shape, latents_from_seed, tile_latents, tile_latents_sized,
};
use onnx_web_diffusion::noise::{NumpyGenerator, NumpyPcg64, RandomState, SeedSequence};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/numpy")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(value: &Value) -> u128 {
    let text = value.as_str().expect("hex string");
    u128::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

fn hexes(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| hex(v) as u64)
        .collect()
}

fn seed(value: &Value) -> u128 {
    match value {
        Value::String(text) => text.parse().unwrap(),
        other => other.as_u64().unwrap().into(),
    }
}

fn shape_len(value: &Value) -> usize {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .product()
}

/// The fixture tool's checksum: sum of `bits[i] * (2i + 1)`, wrapping at 2^64.
fn wsum(bits: &[u64]) -> u64 {
    bits.iter().enumerate().fold(0u64, |acc, (i, &b)| {
        acc.wrapping_add(b.wrapping_mul(2 * i as u64 + 1))
    })
}

/// Compares bit patterns with a fixture summary (`count`, `first`, `last`, `wsum`).
fn check_summary(bits: &[u64], summary: &Value, what: &str) {
    assert_eq!(
        bits.len() as u64,
        summary["count"].as_u64().unwrap(),
        "{what}: count"
    );
    let first = hexes(&summary["first"]);
    let last = hexes(&summary["last"]);
    assert_eq!(&bits[..first.len()], &first[..], "{what}: first values");
    assert_eq!(
        &bits[bits.len() - last.len()..],
        &last[..],
        "{what}: last values"
    );
    assert_eq!(
        wsum(bits),
        hex(&summary["wsum"]) as u64,
        "{what}: checksum of every value"
    );
}

fn f32_bits(values: &[f32]) -> Vec<u64> {
    values.iter().map(|v| u64::from(v.to_bits())).collect()
}

fn f64_bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn draw(seed: u128, dtype: &str, len: usize) -> Vec<u64> {
    let mut generator = NumpyGenerator::from_bit_generator(NumpyPcg64::new(seed));
    match dtype {
        "float64" => {
            let mut out = vec![0f64; len];
            generator.fill_standard_normal_f64(&mut out);
            f64_bits(&out)
        }
        "float32" => {
            let mut out = vec![0f32; len];
            generator.fill_standard_normal_f32(&mut out);
            f32_bits(&out)
        }
        other => panic!("dtype {other}"),
    }
}

#[test]
fn seed_sequence_and_pcg64_match_numpy() {
    let data = fixture("seed_sequence.json");
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let entropy = seed(&case["entropy"]);
        let what = format!("SeedSequence({entropy})");
        let sequence = SeedSequence::new(entropy);
        let pool: Vec<u64> = sequence.pool().iter().map(|&w| u64::from(w)).collect();
        assert_eq!(pool, hexes(&case["pool"]), "{what}: pool");
        let state: Vec<u64> = sequence
            .generate_state_u32(8)
            .iter()
            .map(|&w| u64::from(w))
            .collect();
        assert_eq!(
            state,
            hexes(&case["state_u32"]),
            "{what}: generate_state(8, uint32)"
        );
        assert_eq!(
            sequence.generate_state_u64(4),
            hexes(&case["state_u64"]),
            "{what}: generate_state(4, uint64)"
        );
        // numpy's PCG64 keeps the increment as (stream << 1) | 1.
        let words = sequence.generate_state_u64(4);
        let stream = (u128::from(words[2]) << 64) | u128::from(words[3]);
        assert_eq!(
            (stream << 1) | 1,
            hex(&case["pcg_inc"]),
            "{what}: PCG64 increment"
        );
        let mut pcg = NumpyPcg64::new(entropy);
        let raw: Vec<u64> = (0..6).map(|_| pcg.next_u64()).collect();
        assert_eq!(
            raw,
            hexes(&case["raw_u64"]),
            "PCG64({entropy}).random_raw(6)"
        );
    }
}

#[test]
fn default_rng_standard_normal_matches_numpy_bit_for_bit() {
    let data = fixture("default_rng.json");
    let cases = data["standard_normal"].as_array().unwrap();
    // 14 seeds x 3 shapes x 2 dtypes.
    assert_eq!(cases.len(), 84);
    for case in cases {
        let seed = seed(&case["seed"]);
        let dtype = case["dtype"].as_str().unwrap();
        let len = shape_len(&case["shape"]);
        let what = format!(
            "default_rng({seed}).standard_normal({}, {dtype})",
            case["shape"]
        );
        check_summary(&draw(seed, dtype, len), case, &what);
    }
}

#[test]
fn default_rng_long_streams_with_tails_match_numpy() {
    let data = fixture("default_rng.json");
    let cases = data["long"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let seed = seed(&case["seed"]);
        let dtype = case["dtype"].as_str().unwrap();
        let len = case["count"].as_u64().unwrap() as usize;
        let what = format!("default_rng({seed}).standard_normal({len}, {dtype})");
        let bits = draw(seed, dtype, len);
        // The tail beyond r = 3.654 (a second loop with logarithms) happens ~270 times here.
        assert!(case["tail_count"].as_u64().unwrap() > 200);
        for entry in case["tail_first"].as_array().unwrap() {
            let index = entry[0].as_u64().unwrap() as usize;
            assert_eq!(
                bits[index],
                hex(&entry[1]) as u64,
                "{what}: tail sample {index}"
            );
        }
        check_summary(&bits, case, &what);
    }
}

#[test]
fn float32_and_float64_draws_share_the_buffered_u32_like_numpy() {
    let data = fixture("default_rng.json");
    for case in data["pieces"].as_array().unwrap() {
        let seed = seed(&case["seed"]);
        let mut generator = NumpyGenerator::from_bit_generator(NumpyPcg64::new(seed));
        for (n, part) in case["f32_then_f64"].as_array().unwrap().iter().enumerate() {
            let expected = hexes(part);
            // Part 5 is a float64 draw, the others float32.
            let got: Vec<u64> = if n == 5 {
                (0..expected.len())
                    .map(|_| generator.standard_normal().to_bits())
                    .collect()
            } else {
                (0..expected.len())
                    .map(|_| u64::from(generator.standard_normal_f32().to_bits()))
                    .collect()
            };
            assert_eq!(got, expected, "seed {seed}, part {n}");
        }
    }
}

#[test]
fn latents_from_seed_match_onnx_web() {
    let data = fixture("latents.json");
    let cases = data["from_seed"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let seed = case["seed"].as_u64().unwrap();
        let width = case["width"].as_u64().unwrap() as usize;
        let height = case["height"].as_u64().unwrap() as usize;
        let batch = case["batch"].as_u64().unwrap() as usize;
        let latents = latents_from_seed(seed, batch, width, height);
        let what = format!("get_latents_from_seed({seed}, {width}x{height}, batch {batch})");
        check_summary(&f32_bits(&latents), case, &what);
    }
}

#[test]
fn tile_latents_match_onnx_web() {
    let data = fixture("latents.json");
    let cases = data["tiles"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let get = |key: &str| case[key].as_i64().unwrap();
        let tile = get("tile") as usize;
        let (draw_width, draw_height) = (get("draw_width") as usize, get("draw_height") as usize);
        let seed = get("seed") as u64;
        let (width, height, batch) = (
            get("width") as usize,
            get("height") as usize,
            get("batch") as usize,
        );
        let full = latents_from_seed(seed, batch, width, height);
        let shape = latent_shape(batch, width, height);
        let (tile_data, tile_shape) = if (draw_width, draw_height) == (tile, tile) {
            tile_latents(&full, shape, seed, get("left"), get("top"), tile)
        } else {
            tile_latents_sized(
                &full,
                shape,
                seed,
                get("left"),
                get("top"),
                tile,
                draw_width,
                draw_height,
            )
        };
        let expected_shape: Vec<usize> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let what = format!(
            "get_tile_latents at ({}, {}) tile {tile}, size {draw_width}x{draw_height}",
            get("left"),
            get("top"),
        );
        assert_eq!(tile_shape.to_vec(), expected_shape, "{what}: shape");
        check_summary(&f32_bits(&tile_data), case, &what);
    }
}

#[test]
fn random_state_randn_matches_numpy_bit_for_bit() {
    let data = fixture("random_state.json");
    let cases = data["randn"].as_array().unwrap();
    // 11 seeds x 3 shapes.
    assert_eq!(cases.len(), 33);
    for case in cases {
        let seed = case["seed"].as_u64().unwrap() as u32;
        let len = shape_len(&case["shape"]);
        let what = format!("RandomState({seed}).randn{}", case["shape"]);
        let mut values = vec![0f64; len];
        RandomState::new(seed).fill_randn(&mut values);
        check_summary(&f64_bits(&values), &case["f64"], &what);
        let mut values = vec![0f32; len];
        RandomState::new(seed).fill_randn_as_f32(&mut values);
        check_summary(
            &f32_bits(&values),
            &case["f32"],
            &format!("{what}.astype(float32)"),
        );
    }
}

#[test]
fn random_state_raw_uniform_and_integers_match_numpy() {
    let data = fixture("random_state.json");
    let cases = data["raw"].as_array().unwrap();
    assert_eq!(cases.len(), 11);
    for case in cases {
        let seed = case["seed"].as_u64().unwrap() as u32;
        let mut rs = RandomState::new(seed);
        let u32s: Vec<u64> = (0..8).map(|_| u64::from(rs.next_u32())).collect();
        assert_eq!(u32s, hexes(&case["u32"]), "RandomState({seed}) raw u32");
        let doubles: Vec<u64> = (0..4).map(|_| rs.random_sample().to_bits()).collect();
        assert_eq!(
            doubles,
            hexes(&case["random_sample"]),
            "RandomState({seed}).random_sample"
        );
        let ints: Vec<u64> = (0..4)
            .map(|_| u64::from(rs.random_integers(u32::MAX)))
            .collect();
        let expected: Vec<u64> = case["random_integers_u32max"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(
            ints, expected,
            "RandomState({seed}).random_integers(2**32 - 1)"
        );
    }
}

#[test]
fn random_state_array_seeds_match_numpy() {
    let data = fixture("random_state.json");
    let cases = data["init_by_array"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let key: Vec<u32> = case["key"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let mut rs = RandomState::from_key(&key);
        let u32s: Vec<u64> = (0..8).map(|_| u64::from(rs.next_u32())).collect();
        assert_eq!(u32s, hexes(&case["u32"]), "RandomState({key:?}) raw u32");
        let mut values = vec![0f64; 33];
        rs.fill_randn(&mut values);
        check_summary(
            &f64_bits(&values),
            &case["randn"],
            &format!("RandomState({key:?}).randn(33)"),
        );
    }
}

#[test]
fn random_state_keeps_the_second_gauss_between_calls_like_numpy() {
    let data = fixture("random_state.json");
    for case in data["pieces"].as_array().unwrap() {
        let seed = case["seed"].as_u64().unwrap() as u32;
        let mut rs = RandomState::new(seed);
        for (n, part) in case["parts"].as_array().unwrap().iter().enumerate() {
            let expected = hexes(part);
            let mut values = vec![0f64; expected.len()];
            rs.fill_randn(&mut values);
            assert_eq!(f64_bits(&values), expected, "RandomState({seed}) part {n}");
        }
    }
}
