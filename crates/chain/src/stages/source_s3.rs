//! `source-s3`: downloads `source_keys` from `s3://<bucket>/` and adds the decoded images.

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage};
use crate::error::Result;
use crate::pipeline::StageRun;

pub struct SourceS3;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::required("source_keys", ParamType::TextList),
    ParamSpec::required(
        "bucket",
        ParamType::Check(super::s3::is_bucket_name, "a bucket name"),
    ),
    ParamSpec::optional("endpoint_url", ParamType::Text),
    ParamSpec::optional("profile_name", ParamType::Text),
];

impl Stage for SourceS3 {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn outputs(&self, n: usize) -> usize {
        n + 1
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let store = super::s3::Bucket::open(run)?;
        let mut out = sources;
        for key in run.stage.list("source_keys") {
            let key = key.as_str().unwrap_or_default();
            out.push(store.get_image(key)?);
            run.progress.check()?;
        }
        Ok(out)
    }
}
