//! LoRA and Textual Inversion blending on the tiny models' real ONNX files and the project's
//! generated kohya LoRA and A1111 inversion (`tools/gen_tiny_models.py`).

use std::path::PathBuf;
use std::sync::Arc;

use onnx_web_diffusion::networks::{
    inversion_tokens, lora_overrides, read_safetensors, resolve_networks, token_table_name,
};
use onnx_web_diffusion::prompt_parser::{NetworkKind, NetworkToken};
use onnx_web_diffusion::stable_diffusion::part_path;
use onnx_web_diffusion::tokenizer::ClipTokenizer;
use onnx_web_diffusion::StableDiffusion;
use onnx_web_engine::onnx_weights::OnnxWeights;
use onnx_web_engine::{Engine, EngineOptions};

fn models() -> PathBuf {
    let root = std::env::var_os("ONNX_WEB_TEST_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    assert!(root.join("lora").is_dir(), "run scripts/setup.sh first");
    root
}

fn token(kind: NetworkKind, name: &str, weight: f32) -> NetworkToken {
    NetworkToken {
        kind,
        name: name.into(),
        weight,
    }
}

#[test]
fn every_tiny_lora_layer_finds_its_weight_in_both_model_layouts() {
    let lora = read_safetensors(&models().join("lora/tiny-lora.safetensors")).unwrap();
    let layers = |prefix: &str| {
        lora.keys()
            .filter(|k| k.starts_with(prefix) && k.ends_with(".lora_down.weight"))
            .count()
    };
    // demo stores weights as external data, int64 inline.
    for model in ["diffusion-tiny-demo", "diffusion-tiny-int64"] {
        for (part, prefix) in [("unet", "lora_unet_"), ("text_encoder", "lora_te_")] {
            let weights = OnnxWeights::read(&part_path(&models().join(model), part)).unwrap();
            let blended = lora_overrides(&weights, prefix, &[(&lora, 1.0)]).unwrap();
            assert!(layers(prefix) > 0);
            assert_eq!(blended.len(), layers(prefix), "{model}/{part}");
            for (name, tensor) in &blended {
                let original = weights.read_f32(name).unwrap();
                assert_eq!(tensor.dims, original.dims);
                assert_ne!(tensor.data, original.data, "{name} unchanged at weight 1");
            }
            let unchanged = lora_overrides(&weights, prefix, &[(&lora, 0.0)]).unwrap();
            for (name, tensor) in &unchanged {
                assert_eq!(tensor.data, weights.read_f32(name).unwrap().data, "{name}");
            }
        }
    }
}

#[test]
fn lora_delta_is_alpha_over_rank_times_up_down_transposed_for_matmul() {
    let lora = read_safetensors(&models().join("lora/tiny-lora.safetensors")).unwrap();
    let dir = models().join("diffusion-tiny-int64");
    let weights = OnnxWeights::read(&part_path(&dir, "text_encoder")).unwrap();
    let base = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";
    let node = weights
        .nodes()
        .iter()
        .find(|n| n.name == "/text_model/encoder/layers.0/self_attn/q_proj/MatMul")
        .unwrap();
    let name = &node.inputs[1];
    let original = weights.read_f32(name).unwrap();
    let blended = lora_overrides(&weights, "lora_te_", &[(&lora, 0.5)]).unwrap();
    let tensor = &blended.iter().find(|(n, _)| n == name).unwrap().1;
    let up = &lora[&format!("{base}.lora_up.weight")];
    let down = &lora[&format!("{base}.lora_down.weight")];
    let alpha = lora[&format!("{base}.alpha")].data[0];
    let (out, rank) = (up.shape[0], up.shape[1]);
    let inner = down.shape[1];
    for o in 0..out {
        for i in 0..inner {
            let delta: f32 = (0..rank)
                .map(|r| up.data[o * rank + r] * down.data[r * inner + i])
                .sum();
            let expected = original.data[i * out + o] + 0.5 * alpha / rank as f32 * delta;
            let got = tensor.data[i * out + o];
            assert!(
                (got - expected).abs() < 1e-5,
                "[{i},{o}] {got} vs {expected}"
            );
        }
    }
}

#[test]
fn inversion_adds_its_tokens_and_changes_exactly_their_embeddings() {
    let root = models();
    let path = root.join("inversion/tiny-inversion.safetensors");
    let tokens = inversion_tokens(&path, "tiny-inversion", 1.0).unwrap();
    let names: Vec<&str> = tokens.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "tiny-inversion-0",
            "tiny-inversion-1",
            "tiny-inversion",
            "tiny-inversion-all"
        ]
    );

    let engine = Engine::new(EngineOptions::default()).expect("ONNX Runtime");
    let dir = root.join("diffusion-tiny-int64");
    let tokenizer = Arc::new(ClipTokenizer::from_dir(&dir.join("tokenizer")).unwrap());
    let load = |weight: f32| {
        let networks = resolve_networks(
            &root,
            &[token(NetworkKind::Inversion, "tiny-inversion", weight)],
        )
        .unwrap();
        StableDiffusion::load_with_networks(&engine, &dir, "cpu", Arc::clone(&tokenizer), &networks)
            .unwrap()
    };
    let one = load(1.0);
    let two = load(2.0);

    // The tokenizer: the token is one new id, the other ids are unchanged.
    let plain_ids = tokenizer.encode_padded("a cat").unwrap();
    let ids = one.tokenizer.encode_padded("a tiny-inversion cat").unwrap();
    assert_eq!(ids[..2], plain_ids[..2]);
    assert!(ids[2] >= 49408, "a new token id: {ids:?}");
    assert_eq!(ids[3..5], plain_ids[2..4]);

    // The text encoder's token table: the new rows are the file's vectors times the weight.
    let weights = OnnxWeights::read(&part_path(&dir, "text_encoder")).unwrap();
    assert_eq!(
        token_table_name(&weights).as_deref(),
        Some("text_model.embeddings.token_embedding.weight")
    );

    // Same ids, different inversion weight: outputs differ from the token's position on (CLIP's
    // attention is causal), and not before it.
    let dim = 32;
    let with_token = |models: &StableDiffusion| models.text_encoder.encode(&ids, 1).unwrap().data;
    let (a, b) = (with_token(&one), with_token(&two));
    assert_eq!(
        a[..2 * dim],
        b[..2 * dim],
        "positions before the token are unchanged"
    );
    assert_ne!(
        a[2 * dim..3 * dim],
        b[2 * dim..3 * dim],
        "the token's embedding changes"
    );
    // Prompts without the token encode exactly as on the plain model.
    let plain = StableDiffusion::load(&engine, &dir, "cpu", Arc::clone(&tokenizer)).unwrap();
    assert_eq!(
        plain.text_encoder.encode(&plain_ids, 1).unwrap(),
        one.text_encoder.encode(&plain_ids, 1).unwrap()
    );
}

#[test]
fn network_names_cannot_leave_their_folder() {
    let root = models();
    for name in ["../lora/tiny-lora", "/etc/passwd", "..", ".hidden", "a\\b"] {
        assert!(resolve_networks(&root, &[token(NetworkKind::Lora, name, 1.0)]).is_err());
    }
    // weight 0 LoRAs are dropped: they cannot change the model.
    assert!(
        resolve_networks(&root, &[token(NetworkKind::Lora, "tiny-lora", 0.0)])
            .unwrap()
            .is_empty()
    );
    let found = resolve_networks(&root, &[token(NetworkKind::Lora, "tiny-lora", 0.5)]).unwrap();
    assert_eq!(found[0].path, root.join("lora/tiny-lora.safetensors"));
}
