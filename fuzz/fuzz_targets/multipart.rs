//! The upload parser: a multipart body (first line: the boundary) read as the upload endpoints
//! read it, every file decoded as an image and as a mask under the pixel limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| onnx_web_server::parsers::fuzz_multipart(data));
