//! Chain pipelines (`POST /api/chain`, §1.7): the body's schema ([`schema::parse_chain`]), every
//! stage type of onnx-web 0.12 ([`stages`], one file each) and the runner that tiles stages and
//! counts progress ([`pipeline::run_chain`]). Every outgoing HTTP request goes through [`net`]'s
//! guarded client.

pub mod error;
pub mod net;
pub mod pipeline;
pub mod plan;
pub mod schema;
pub mod stages;

pub use error::RunError;
pub use net::{AllowEntry, UrlPolicy};
pub use pipeline::{run_chain, ChainEnv, ImageSink};
pub use plan::{parse_tile_size, ChainPlan, PlannedStage, StageImage, StageMask};
pub use schema::{parse_chain, ChainError, ChainRequest, StageRef, StageRequest};
pub use stages::s3::S3Settings;
