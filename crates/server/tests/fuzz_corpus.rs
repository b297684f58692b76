//! Replays every fuzz corpus file (`fuzz/corpus/<target>/`) through the function its fuzz target
//! calls, so CI keeps covering what fuzzing found without running the fuzzer. A panic or a
//! non-400 error fails the test, naming the file.

use std::path::Path;
use std::sync::OnceLock;

use onnx_web_server::parsers::{fuzz_chain, fuzz_multipart, fuzz_prompt, fuzz_query, QueryParser};

/// The sample models the fuzz targets parse against.
fn parser() -> &'static QueryParser {
    static PARSER: OnceLock<QueryParser> = OnceLock::new();
    PARSER.get_or_init(|| QueryParser::with_sample_models().unwrap())
}

fn query(data: &[u8]) {
    fuzz_query(parser(), data);
}

fn chain(data: &[u8]) {
    fuzz_chain(parser(), data);
}

fn prompt(data: &[u8]) {
    fuzz_prompt(parser(), data);
}

/// What a fuzz target calls with one input.
type Target = fn(&[u8]);

/// Fuzz target name -> what it calls. One line per target.
const TARGETS: &[(&str, Target)] = &[
    ("query", query),
    ("multipart", fuzz_multipart),
    ("chain", chain),
    ("prompt", prompt),
];

/// The fuzz targets in `fuzz/Cargo.toml`: each must have a line in [`TARGETS`].
#[test]
fn every_fuzz_target_is_replayed() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/Cargo.toml");
    let manifest = std::fs::read_to_string(manifest).unwrap();
    let names: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "onnx-web-fuzz")
        .collect();
    assert_eq!(names.len(), TARGETS.len(), "{names:?}");
    for name in names {
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "{name} is not replayed"
        );
    }
}

#[test]
fn every_corpus_file_goes_through_its_parser_without_panicking() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (target, run) in TARGETS {
        let dir = corpus.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target}: empty corpus");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} panicked", file.display());
        }
    }
}

/// What the chain and prompt targets check beyond "no panic": a parsed example pipeline plans,
/// and the prompt language expands wildcards and intervals.
#[test]
fn the_chain_and_prompt_parsers_accept_what_they_should() {
    let parser = parser();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/chain");
    let yaml = std::fs::read(corpus.join("yaml_grid")).unwrap();
    assert_eq!(parser.parse_chain(&yaml, None).unwrap(), 2);
    let error = parser
        .parse_chain(&std::fs::read(corpus.join("unknown_type")).unwrap(), None)
        .unwrap_err();
    assert!(error.message().contains("upscale-magic"), "{error}");
    let expanded = parser.parse_prompt("__colors__ and a-{1,4}", 3);
    assert!(
        expanded.starts_with("red and") || expanded.starts_with("green and"),
        "{expanded}"
    );
    assert!(expanded.ends_with("a-1 a-2 a-3"), "{expanded}");
}
