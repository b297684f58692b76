//! `source-url`: downloads `source_urls` and adds the decoded images, through the guarded client
//! of [`crate::net`]: only http(s), loopback, private, link-local and other non-public addresses
//! refused (checked on the addresses actually dialled) unless the server allows them
//! (`--allow-private-urls`, `--allow-url-address`), each redirect checked like the first URL,
//! time and size limited.

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage};
use crate::error::{Result, RunError};
use crate::net::fetch;
use crate::pipeline::StageRun;

pub struct SourceUrl;

const PARAMS: &[ParamSpec] = &[ParamSpec::required("source_urls", ParamType::TextList)];

impl Stage for SourceUrl {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn outputs(&self, n: usize) -> usize {
        n + 1
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let mut out = sources;
        for url in run.stage.list("source_urls") {
            let url = url.as_str().unwrap_or_default();
            let bytes = fetch(url, run.urls).map_err(|message| RunError::Url {
                url: url.to_owned(),
                message,
            })?;
            let image = onnx_web_imageops::decode_image(&bytes, run.urls.max_pixels)?;
            out.push(image.to_rgb8());
            run.progress.check()?;
        }
        Ok(out)
    }
}
