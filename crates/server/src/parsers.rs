//! The request parsers as plain functions of bytes, for the fuzz targets (`fuzz/`), their corpus
//! replay test and the property tests: no server, no runtime, no models needed. Each returns the
//! 400 the handler would answer, or what it parsed.
//!
//! To fuzz a new parser, add a `parse_*` function here (or in its own module) that takes bytes
//! or a string and never panics, then one file in `fuzz/fuzz_targets/` (see `fuzz/README.md`).

use std::path::Path;

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, Request};

use crate::error::ApiError;
use crate::models::Catalog;
use crate::params::{
    available_schedulers, build_base_params, build_border, build_highres, build_upscale,
    ParamsConfig, ParseContext, Query, IMPLEMENTED_SCHEDULERS,
};
use crate::uploads::Uploads;

/// What the query parsers need: onnx-web's built-in `params.json`, a catalog and platforms.
pub struct QueryParser {
    params: ParamsConfig,
    catalog: Catalog,
    platforms: Vec<String>,
    schedulers: Vec<&'static str>,
}

impl QueryParser {
    /// With the models found under `models` (an empty or missing folder works: no models).
    pub fn new(models: &Path) -> Self {
        Self {
            params: ParamsConfig::builtin(None),
            catalog: Catalog::load(models, &[]),
            platforms: vec!["any".into(), "cpu".into()],
            schedulers: available_schedulers(IMPLEMENTED_SCHEDULERS),
        }
    }

    /// With a small models folder of empty files made under the temporary folder: two
    /// diffusion models, an upscaler, a correction model, a LoRA and a wildcard list.
    pub fn with_sample_models() -> std::io::Result<Self> {
        let root =
            std::env::temp_dir().join(format!("onnx-web-parser-models-{}", std::process::id()));
        for dir in ["diffusion-sample", "diffusion-other", "lora", "wildcard"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        for file in [
            "upscaling-sample.onnx",
            "correction-sample.onnx",
            "lora/shiny.safetensors",
        ] {
            std::fs::write(root.join(file), b"")?;
        }
        std::fs::write(root.join("wildcard/colors.txt"), "red\ngreen\n")?;
        Ok(Self::new(&root))
    }

    /// Parses an image endpoint's raw query as the handlers do: the base parameters, the
    /// upscale, highres and border groups. Returns the parsed base parameters as debug text.
    pub fn parse_image_query(&self, endpoint: &str, raw: &str) -> Result<String, ApiError> {
        let query = Query::parse(Some(raw))?;
        let ctx = self.context();
        let (base, size, platform) = build_base_params(&query, &ctx, endpoint)?;
        let upscale = build_upscale(&query, &ctx)?;
        let highres = build_highres(&query, &ctx)?;
        let border = build_border(&query, &ctx)?;
        Ok(format!(
            "{base:?} {size:?} {platform:?} {upscale:?} {highres:?} {border:?}"
        ))
    }
}

impl QueryParser {
    fn context(&self) -> ParseContext<'_> {
        ParseContext {
            params: &self.params,
            catalog: &self.catalog,
            platforms: &self.platforms,
            schedulers: &self.schedulers,
        }
    }

    /// Parses a chain body (JSON, YAML, or either when the type is unknown) and plans every
    /// stage against the sample models as `POST /api/chain` does. Returns the stage count.
    pub fn parse_chain(&self, body: &[u8], content_type: Option<&str>) -> Result<usize, ApiError> {
        let chain = onnx_web_chain::parse_chain(body, content_type)
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
        let (plan, ..) =
            crate::chain_routes::plan_chain_in(&self.context(), &chain, &Default::default())?;
        Ok(plan.stages.len())
    }

    /// Runs a prompt through everything that reads the prompt language: wildcards (seeded),
    /// prompt stages, intervals, network/region/reseed/clip tokens and attention weights.
    /// Returns the expanded prompt.
    pub fn parse_prompt(&self, prompt: &str, seed: u32) -> String {
        use onnx_web_diffusion::prompt_parser as grammar;
        let expanded = self
            .catalog
            .wildcards
            .expand(prompt, seed)
            .unwrap_or_else(|_| prompt.to_owned());
        let expanded = grammar::expand_intervals(&expanded);
        for stage in 0..3 {
            let part = grammar::slice_prompt(&expanded, stage);
            let parsed = grammar::parse_prompt(part);
            let _ = grammar::parse_weighted(&parsed.text);
        }
        let _ = grammar::prompt_networks(&expanded, Some(prompt));
        expanded
    }
}

/// Parses a multipart body as the upload endpoints do, then decodes every file as an image and
/// as a mask under the pixel limit. Returns the decoded sizes by field name.
pub fn parse_uploads(
    content_type: &str,
    body: Vec<u8>,
) -> Result<Vec<(String, u32, u32)>, ApiError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| ApiError::Internal(e.into()))?;
    runtime.block_on(async move {
        let request = Request::builder()
            .method("POST")
            .uri("/api/img2img")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .map_err(|e| ApiError::bad_request(format!("bad request: {e}")))?;
        let multipart = axum::extract::Multipart::from_request(request, &()).await;
        let uploads = Uploads::read(multipart).await?;
        let mut sizes = Vec::new();
        for name in uploads.names() {
            let rgb = uploads.rgb(&name)?.expect("a listed file");
            let mask = uploads.mask(&name)?.expect("a listed file");
            assert_eq!(rgb.dimensions(), mask.dimensions());
            sizes.push((name, rgb.width(), rgb.height()));
        }
        sizes.sort();
        Ok(sizes)
    })
}

/// A fuzz input for [`parse_uploads`]: the first line is the multipart boundary, the rest the
/// body. Returns the content type and the body.
pub fn split_boundary(data: &[u8]) -> (String, Vec<u8>) {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let boundary = String::from_utf8_lossy(&data[..end]).trim().to_owned();
    let body = data.get(end + 1..).unwrap_or_default().to_vec();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// One fuzz input through the query parser of every image endpoint.
pub fn fuzz_query(parser: &QueryParser, data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    for endpoint in ["txt2img", "img2img", "inpaint", "upscale"] {
        // Errors are fine (a 400); panics and hangs are what the fuzzer looks for.
        if let Err(error) = parser.parse_image_query(endpoint, &raw) {
            assert_eq!(
                error.status(),
                axum::http::StatusCode::BAD_REQUEST,
                "{error}"
            );
        }
    }
}

/// One fuzz input through the chain parser, as JSON, as YAML and untyped.
pub fn fuzz_chain(parser: &QueryParser, data: &[u8]) {
    for content_type in [Some("application/json"), Some("application/yaml"), None] {
        if let Err(error) = parser.parse_chain(data, content_type) {
            assert_eq!(
                error.status(),
                axum::http::StatusCode::BAD_REQUEST,
                "{error}"
            );
        }
    }
}

/// One fuzz input through the prompt language (the first 4 bytes seed the wildcards).
pub fn fuzz_prompt(parser: &QueryParser, data: &[u8]) {
    let seed = data
        .get(..4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let prompt = String::from_utf8_lossy(data.get(4..).unwrap_or_default());
    parser.parse_prompt(&prompt, seed);
}

/// One fuzz input through the upload parser (see [`split_boundary`]).
pub fn fuzz_multipart(data: &[u8]) {
    let (content_type, body) = split_boundary(data);
    if let Err(error) = parse_uploads(&content_type, body) {
        assert_eq!(
            error.status(),
            axum::http::StatusCode::BAD_REQUEST,
            "{error}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_or_name_the_bad_field() {
        let parser = QueryParser::with_sample_models().unwrap();
        assert!(parser
            .parse_image_query("txt2img", "prompt=__colors__")
            .is_ok());
        let error = parser
            .parse_image_query("txt2img", "steps=abc")
            .unwrap_err();
        assert!(error.message().starts_with("steps"), "{}", error.message());
        assert!(parser
            .parse_image_query("txt2img", "cfg=NaN")
            .is_err_and(|e| e.message().starts_with("cfg")));
    }

    #[test]
    fn multipart_bodies_decode_or_are_400() {
        let mut png = Vec::new();
        image::RgbImage::new(3, 2)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let mut body =
            b"--b\r\nContent-Disposition: form-data; name=\"source\"; filename=\"a.png\"\r\n\r\n"
                .to_vec();
        body.extend_from_slice(&png);
        body.extend_from_slice(b"\r\n--b--\r\n");
        let sizes = parse_uploads("multipart/form-data; boundary=b", body.clone()).unwrap();
        assert_eq!(sizes, [("source".to_owned(), 3, 2)]);
        // Truncated image: a 400 naming the file.
        let cut = body[..body.len() - 30].to_vec();
        let mut cut_body = cut;
        cut_body.extend_from_slice(b"\r\n--b--\r\n");
        let error = parse_uploads("multipart/form-data; boundary=b", cut_body).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(error.message().starts_with("source"), "{}", error.message());
    }
}
