//! Server configuration: command-line flags, each with the environment variable onnx-web reads.
//!
//! Differences from onnx-web 0.12 (§0.2), on purpose:
//! - the server listens on `127.0.0.1` unless `--host` says otherwise (onnx-web binds `0.0.0.0`);
//! - CORS is off unless `--cors-origin` / `ONNX_WEB_CORS_ORIGIN` is set (onnx-web allows `*`);
//! - the model, output and bundle folders default to `models`, `outputs` and `gui` in the working
//!   directory (onnx-web: `../models`, `../outputs`, `./gui` relative to `api/`);
//! - `ONNX_WEB_EXTRA_MODELS` defaults to `<models>/extras.json` when that file exists;
//! - only the `png` image format is written for now; anything else stops the server at start-up.

use std::path::PathBuf;

use anyhow::{bail, Context};

/// onnx-web's `get_boolean` for strings: `1`, `t`, `true`, `y`, `yes` (any case) are true,
/// everything else is false.
pub fn parse_boolean(value: &str) -> bool {
    matches!(
        value.trim().to_lowercase().as_str(),
        "1" | "t" | "true" | "y" | "yes"
    )
}

fn boolean_value(value: &str) -> Result<bool, String> {
    Ok(parse_boolean(value))
}

/// onnx-web's `split_list`: split on `,`, trim, drop empty items.
pub fn split_list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(clap::Args, Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on (onnx-web uses 0.0.0.0; this server is local-only by default).
    #[arg(long, env = "ONNX_WEB_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on.
    #[arg(long, env = "ONNX_WEB_PORT", default_value_t = 5000)]
    pub port: u16,

    /// Models root folder; must exist.
    #[arg(long, env = "ONNX_WEB_MODEL_PATH", default_value = "models")]
    pub models: PathBuf,

    /// Output folder for images and their `.json` sidecars; created if missing.
    #[arg(long, env = "ONNX_WEB_OUTPUT_PATH", default_value = "outputs")]
    pub outputs: PathBuf,

    /// Folder holding the web GUI (`index.html`, `config.json`, `bundle/main.js`).
    #[arg(long, env = "ONNX_WEB_BUNDLE_PATH", default_value = "gui")]
    pub bundle: PathBuf,

    /// Folder holding `params.json`; the built-in defaults are used when it has none.
    #[arg(long, env = "ONNX_WEB_PARAMS_PATH", default_value = ".")]
    pub params: PathBuf,

    /// Comma list of allowed CORS origins (`*` for any). [default: none: no CORS headers at all]
    #[arg(long, env = "ONNX_WEB_CORS_ORIGIN")]
    pub cors_origin: Option<String>,

    /// API root the GUI's `config.json` names (e.g. `https://sd.example.net/`), for a GUI behind
    /// a proxy; default: the scheme and host the browser used to reach this server.
    #[arg(long, env = "ONNX_WEB_API_ROOT")]
    pub api_root: Option<String>,

    /// Offer the pseudo platform `any` (onnx-web boolean: 1/t/true/y/yes).
    #[arg(long, env = "ONNX_WEB_ANY_PLATFORM", default_value = "true", value_parser = boolean_value, action = clap::ArgAction::Set)]
    pub any_platform: bool,

    /// Comma list of platforms to hide and not use. [default: none]
    #[arg(long, env = "ONNX_WEB_BLOCK_PLATFORMS")]
    pub block_platforms: Option<String>,

    /// Overrides `platform.default` of params.json. [default: params.json's, when that platform
    /// is usable]
    #[arg(long, env = "ONNX_WEB_DEFAULT_PLATFORM")]
    pub default_platform: Option<String>,

    /// Output image format; only `png` for now.
    #[arg(long, env = "ONNX_WEB_IMAGE_FORMAT", default_value = "png")]
    pub image_format: String,

    /// Models kept loaded per worker; 0 disables the cache.
    #[arg(long, env = "ONNX_WEB_CACHE_MODELS", default_value_t = 5)]
    pub cache_models: usize,

    /// Token for the admin endpoints; a random one is made (and logged) when unset.
    #[arg(long, env = "ONNX_WEB_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Version written into image metadata.
    #[arg(long, env = "ONNX_WEB_SERVER_VERSION", default_value = "v0.12.0")]
    pub server_version: String,

    /// Comma list of extras files (JSON or YAML). Default: `<models>/extras.json` if it exists.
    #[arg(long, env = "ONNX_WEB_EXTRA_MODELS")]
    pub extra_models: Option<String>,

    /// Token every non-GET request must carry (`X-Api-Token` header); unset: none needed.
    #[arg(long, env = "ONNX_WEB_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// The job database (durable jobs); default `<outputs>/.onnx-web-jobs.sqlite3`.
    #[arg(long, env = "ONNX_WEB_JOBS_DB")]
    pub jobs_db: Option<PathBuf>,

    #[command(flatten)]
    pub limits: crate::limits::Limits,
    /// Let chain stages (`source-url`, S3 `endpoint_url`) reach loopback and private addresses.
    #[arg(long, env = "ONNX_WEB_ALLOW_PRIVATE_URLS", default_value = "false", value_parser = boolean_value, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub allow_private_urls: bool,

    /// On Ctrl-C or SIGTERM: seconds open requests and the running job get to finish; a job
    /// still running then is kept, pending, for the next start.
    #[arg(long, env = "ONNX_WEB_STOP_GRACE", default_value_t = 5)]
    pub stop_grace_secs: u64,

    /// Comma list of host names (and `host:port`) accepted in the `Host` header besides
    /// `localhost`, `127.0.0.1`, `[::1]` and the `--host` address; on a loopback address,
    /// requests naming any other host are refused (DNS rebinding).
    #[arg(long, env = "ONNX_WEB_ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,

    /// Addresses chain stages may reach although they are not public: an IP or a CIDR block,
    /// optionally with a port (`127.0.0.2`, `10.0.0.0/8`, `127.0.0.2:9000`, `[fd00::/8]:443`).
    /// Repeat the flag or separate with commas; a bad entry stops the server at start-up.
    #[arg(long = "allow-url-address", env = "ONNX_WEB_ALLOW_URL_ADDRESSES", value_parser = allow_list)]
    pub allow_url_addresses: Vec<AllowList>,
}

/// One `--allow-url-address` value: comma-separated entries, empty ones skipped (so an empty
/// `ONNX_WEB_ALLOW_URL_ADDRESSES` means none, as with the other list variables).
#[derive(Clone, Debug, Default)]
pub struct AllowList(pub Vec<onnx_web_chain::AllowEntry>);

fn allow_list(value: &str) -> Result<AllowList, String> {
    split_list(Some(value))
        .iter()
        .map(|entry| entry.parse())
        .collect::<Result<_, _>>()
        .map(AllowList)
}

impl ServerConfig {
    /// A configuration with every default, rooted at `models` and `outputs` (for tests and tools).
    pub fn with_paths(models: PathBuf, outputs: PathBuf) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 5000,
            models,
            outputs,
            bundle: PathBuf::from("gui"),
            params: PathBuf::from("."),
            cors_origin: None,
            api_root: None,
            any_platform: true,
            block_platforms: None,
            default_platform: None,
            image_format: "png".into(),
            cache_models: 5,
            admin_token: None,
            server_version: "v0.12.0".into(),
            extra_models: None,
            api_token: None,
            jobs_db: None,
            limits: crate::limits::Limits::default(),
            allow_private_urls: false,
            stop_grace_secs: 5,
            allowed_hosts: None,
            allow_url_addresses: Vec::new(),
        }
    }

    /// Checks the folders and settings; creates the output folder. Call before serving.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.models.is_dir() {
            bail!(
                "model path {} does not exist or is not a folder (set --models or ONNX_WEB_MODEL_PATH)",
                self.models.display()
            );
        }
        if self.image_format != "png" {
            bail!(
                "image format {:?} is not supported yet; only \"png\" is (ONNX_WEB_IMAGE_FORMAT / --image-format)",
                self.image_format
            );
        }
        std::fs::create_dir_all(&self.outputs).with_context(|| {
            format!(
                "creating the output path {} (set --outputs or ONNX_WEB_OUTPUT_PATH)",
                self.outputs.display()
            )
        })?;
        for origin in self.cors_origins() {
            if origin != "*" && axum::http::HeaderValue::from_str(&origin).is_err() {
                bail!("CORS origin {origin:?} is not a valid header value (ONNX_WEB_CORS_ORIGIN)");
            }
        }
        for file in split_list(self.extra_models.as_deref()) {
            if !PathBuf::from(&file).is_file() {
                tracing::warn!("extras file {file} does not exist; it is skipped");
            }
        }
        Ok(())
    }

    /// Allowed CORS origins; empty means CORS is off.
    pub fn cors_origins(&self) -> Vec<String> {
        split_list(self.cors_origin.as_deref())
    }

    /// Every `--allow-url-address` entry, in order.
    pub fn url_allow_list(&self) -> Vec<onnx_web_chain::AllowEntry> {
        self.allow_url_addresses
            .iter()
            .flat_map(|list| list.0.iter().cloned())
            .collect()
    }

    /// Platforms to hide and not use.
    pub fn blocked_platforms(&self) -> Vec<String> {
        split_list(self.block_platforms.as_deref())
    }

    /// The extras files to read: the configured list, else `<models>/extras.json` if it exists.
    pub fn extra_model_files(&self) -> Vec<PathBuf> {
        if self.extra_models.is_some() {
            return split_list(self.extra_models.as_deref())
                .into_iter()
                .map(PathBuf::from)
                .collect();
        }
        let default = self.models.join("extras.json");
        if default.is_file() {
            vec![default]
        } else {
            Vec::new()
        }
    }

    /// The job database file.
    pub fn jobs_db_path(&self) -> PathBuf {
        self.jobs_db
            .clone()
            .unwrap_or_else(|| self.outputs.join(crate::persist::JOBS_DB_NAME))
    }

    /// The address to bind.
    pub fn bind_address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerConfig,
    }

    #[test]
    fn booleans_follow_get_boolean() {
        for yes in ["1", "t", "TRUE", "True", "y", "Yes"] {
            assert!(parse_boolean(yes), "{yes}");
        }
        for no in ["0", "false", "no", "", "on", "2"] {
            assert!(!parse_boolean(no), "{no}");
        }
    }

    #[test]
    fn lists_are_trimmed() {
        assert_eq!(split_list(Some(" a, ,b ,,")), vec!["a", "b"]);
        assert!(split_list(None).is_empty());
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from([
            "x",
            "--port",
            "5001",
            "--any-platform",
            "no",
            "--cors-origin",
            "*",
        ])
        .unwrap();
        assert_eq!(cli.server.port, 5001);
        assert!(!cli.server.any_platform);
        assert_eq!(cli.server.cors_origins(), vec!["*"]);
        assert_eq!(cli.server.bind_address(), "127.0.0.1:5001");
    }

    #[test]
    fn url_allow_list_is_repeatable_and_comma_separated() {
        let cli = Cli::try_parse_from([
            "x",
            "--allow-url-address",
            "127.0.0.2, 10.0.0.0/8,",
            "--allow-url-address",
            "[::1]:9000",
            "--allow-url-address",
            "",
        ])
        .unwrap();
        let list: Vec<String> = cli
            .server
            .url_allow_list()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(list, ["127.0.0.2", "10.0.0.0/8", "[::1]:9000"]);
        assert!(Cli::try_parse_from(["x"])
            .unwrap()
            .server
            .url_allow_list()
            .is_empty());
        let error = Cli::try_parse_from(["x", "--allow-url-address", "127.0.0.2,minio"])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("\"minio\" is not an IP address"), "{error}");
    }

    #[test]
    fn validate_checks_paths_and_format() {
        let dir = std::env::temp_dir().join(format!("onnx-web-config-{}", std::process::id()));
        let models = dir.join("models");
        let outputs = dir.join("out/nested");
        let mut config = ServerConfig::with_paths(models.clone(), outputs.clone());
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("model path"), "{error}");
        std::fs::create_dir_all(&models).unwrap();
        config.validate().unwrap();
        assert!(outputs.is_dir());
        config.image_format = "jpeg".into();
        assert!(config.validate().unwrap_err().to_string().contains("png"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
