//! The S3 connection of `persist-s3` and `source-s3`, through `object_store` against any
//! S3-compatible server. Endpoint, region and credentials come from the server's settings
//! (`ONNX_WEB_S3_ENDPOINT`, `AWS_*`); a stage's `endpoint_url` may replace the endpoint.
//! `object_store` sends through the guarded client of [`crate::net`] ([`S3Connector`]): a stage's
//! endpoint is held to the same address policy as `source-url` at every connect, the configured
//! endpoint is trusted (the operator chose it), and neither may redirect (a 3xx fails the stage).

use image::RgbImage;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::error::{Result, RunError};
use crate::net::S3Connector;
use crate::pipeline::StageRun;

/// Where the S3 stages connect.
#[derive(Clone, Debug, Default)]
pub struct S3Settings {
    /// e.g. `http://127.0.0.1:9000`; `None`: AWS itself.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// The largest object `source-s3` downloads.
    pub max_object_bytes: u64,
    /// The largest decoded image, in pixels.
    pub max_pixels: u64,
}

impl S3Settings {
    /// From the environment: `ONNX_WEB_S3_ENDPOINT`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            endpoint: var("ONNX_WEB_S3_ENDPOINT"),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            max_object_bytes: 64 << 20,
            max_pixels: 8192 * 8192,
        }
    }
}

/// S3's bucket naming rules (3–63 lowercase letters, digits, `-` and `.`).
pub fn is_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.'])
}

/// One stage's bucket, with a small runtime for the async client.
pub struct Bucket {
    store: AmazonS3,
    runtime: tokio::runtime::Runtime,
    name: String,
    max_object_bytes: u64,
    max_pixels: u64,
}

fn s3_error(error: impl std::fmt::Display) -> RunError {
    RunError::S3(error.to_string())
}

impl Bucket {
    /// The stage's `bucket` on the configured (or the stage's checked) endpoint.
    pub fn open(run: &StageRun<'_>) -> Result<Self> {
        let settings = run.s3;
        let name = run
            .stage
            .text("bucket")
            .ok_or_else(|| RunError::Input("bucket is required".into()))?
            .to_owned();
        let region = settings.region.as_deref().unwrap_or("us-east-1");
        let (endpoint, trusted) = match run.stage.text("endpoint_url").filter(|e| !e.is_empty()) {
            Some(url) => (Some(url.to_owned()), false),
            None => (settings.endpoint.clone(), true),
        };
        // AWS itself when no endpoint is set: object_store's path-style URL of the region.
        let target = endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let connector =
            S3Connector::new(run.urls, &target, trusted).map_err(|message| RunError::Url {
                url: target.clone(),
                message,
            })?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&name)
            .with_region(region)
            .with_http_connector(connector);
        if let Some(endpoint) = &endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        builder = match (&settings.access_key_id, &settings.secret_access_key) {
            (Some(id), Some(secret)) => builder
                .with_access_key_id(id)
                .with_secret_access_key(secret),
            // No credentials: anonymous requests, never the instance metadata service.
            _ => builder.with_skip_signature(true),
        };
        let store = builder.build().map_err(s3_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(s3_error)?;
        Ok(Self {
            store,
            runtime,
            name,
            max_object_bytes: settings.max_object_bytes,
            max_pixels: settings.max_pixels,
        })
    }

    fn path(key: &str) -> Result<ObjectPath> {
        ObjectPath::parse(key)
            .ok()
            .filter(|p| !p.as_ref().is_empty())
            .ok_or_else(|| RunError::Input(format!("{key:?} is not a usable object key")))
    }

    /// Uploads `image`, encoded in the format its key's extension names (PNG by default).
    pub fn put_image(&self, key: &str, image: &RgbImage) -> Result<()> {
        let format = image::ImageFormat::from_path(key).unwrap_or(image::ImageFormat::Png);
        let mut bytes = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut bytes, format)
            .map_err(|e| RunError::Input(format!("encoding {key}: {e}")))?;
        let path = Self::path(key)?;
        self.runtime
            .block_on(self.store.put(&path, PutPayload::from(bytes.into_inner())))
            .map_err(s3_error)?;
        tracing::info!(bucket = %self.name, key, "uploaded to S3");
        Ok(())
    }

    /// Downloads and decodes `key`, refusing objects over the size limit.
    pub fn get_image(&self, key: &str) -> Result<RgbImage> {
        let path = Self::path(key)?;
        let bytes = self.runtime.block_on(async {
            let object = self.store.get(&path).await.map_err(s3_error)?;
            if object.meta.size > self.max_object_bytes {
                return Err(RunError::S3(format!(
                    "{key} is {} bytes, more than the limit of {}",
                    object.meta.size, self.max_object_bytes
                )));
            }
            object.bytes().await.map_err(s3_error)
        })?;
        let image = onnx_web_imageops::decode_image(&bytes, self.max_pixels)?;
        Ok(image.to_rgb8())
    }
}
