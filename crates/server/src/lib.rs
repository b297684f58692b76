//! The HTTP layer of the onnx-web compatible server: configuration, parameter parsing, routes,
//! the job queue and the output files. Inference lives below, in `onnx-web-pipelines`.

pub mod admin_routes;
pub mod auth;
pub mod chain_routes;
pub mod config;
pub mod error;
pub mod images_routes;
pub mod jobs;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod models;
pub mod names;
pub mod naming;
pub mod openapi;
pub mod outputs;
pub mod params;
pub mod parsers;
pub mod persist;
pub mod pipeline_routes;
pub mod responses;
pub mod routes;
pub mod state;
pub mod static_files;
pub mod uploads;
pub mod worker;
