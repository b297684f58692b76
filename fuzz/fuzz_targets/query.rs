//! The image endpoints' query parser: any bytes as a raw query string, for each endpoint.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onnx_web_server::parsers::{fuzz_query, QueryParser};

static PARSER: OnceLock<QueryParser> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let parser = PARSER.get_or_init(|| QueryParser::with_sample_models().expect("sample models"));
    fuzz_query(parser, data);
});
