//! Replays every fuzz corpus file (`fuzz/corpus/<target>/`) through the function its fuzz target
//! calls, so CI keeps covering what fuzzing found without running the fuzzer. A panic or a
//! non-400 error fails the test, naming the file.

use std::path::Path;
use std::sync::OnceLock;

use onnx_web_server::parsers::{fuzz_multipart, fuzz_query, QueryParser};

fn query(data: &[u8]) {
    static PARSER: OnceLock<QueryParser> = OnceLock::new();
    fuzz_query(
        PARSER.get_or_init(|| QueryParser::with_sample_models().unwrap()),
        data,
    );
}

/// What a fuzz target calls with one input.
type Target = fn(&[u8]);

/// Fuzz target name -> what it calls. One line per target.
const TARGETS: &[(&str, Target)] = &[("query", query), ("multipart", fuzz_multipart)];

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
