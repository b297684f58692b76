//! `persist-s3`: uploads image `i` (encoded like the output files) to
//! `s3://<bucket>/<output i>` and passes the images on. Unlike onnx-web, which only logs upload
//! errors, a failed upload fails the job, so a client never waits for an object that is not
//! there.

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage};
use crate::error::Result;
use crate::pipeline::StageRun;

pub struct PersistS3;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::required(
        "bucket",
        ParamType::Check(super::s3::is_bucket_name, "a bucket name"),
    ),
    ParamSpec::optional("endpoint_url", ParamType::Text),
    ParamSpec::optional("profile_name", ParamType::Text),
];

impl Stage for PersistS3 {
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn run(&self, run: &StageRun<'_>, sources: Vec<RgbImage>) -> Result<Vec<RgbImage>> {
        let store = super::s3::Bucket::open(run)?;
        for (name, image) in run.outputs.iter().zip(&sources) {
            store.put_image(name, image)?;
            run.progress.check()?;
        }
        Ok(sources)
    }
}
