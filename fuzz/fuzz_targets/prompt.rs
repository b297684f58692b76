//! The prompt parser: any bytes (see `onnx_web_server::parsers::fuzz_prompt`), against the sample
//! models of the query target.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onnx_web_server::parsers::{fuzz_prompt, QueryParser};

static PARSER: OnceLock<QueryParser> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let parser = PARSER.get_or_init(|| QueryParser::with_sample_models().expect("sample models"));
    fuzz_prompt(parser, data);
});
