//! `source-url`: downloads `source_urls` and adds the decoded images. Only http(s); the host is
//! resolved first and loopback, private, link-local and other non-public addresses are refused
//! unless the server allows them (`--allow-private-urls`); the connection goes to the checked
//! address, redirects are checked the same way, and time and size are limited.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use image::RgbImage;

use super::{ParamSpec, ParamType, Stage};
use crate::error::{Result, RunError};
use crate::pipeline::StageRun;

pub struct SourceUrl;

const PARAMS: &[ParamSpec] = &[ParamSpec::required("source_urls", ParamType::TextList)];

/// What `source-url` may fetch.
#[derive(Clone, Debug)]
pub struct UrlPolicy {
    pub allow_private: bool,
    pub max_bytes: u64,
    pub timeout: Duration,
    pub max_pixels: u64,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        Self {
            allow_private: false,
            max_bytes: 32 << 20,
            timeout: Duration::from_secs(30),
            max_pixels: 8192 * 8192,
        }
    }
}

const MAX_REDIRECTS: usize = 5;

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

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10, carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24, protocol assignments
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

/// The checked address to connect to for `url`, or why it is refused.
pub fn check_url(url: &str, policy: &UrlPolicy) -> std::result::Result<SocketAddr, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    resolve(&parsed, policy)
}

fn resolve(url: &reqwest::Url, policy: &UrlPolicy) -> std::result::Result<SocketAddr, String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs are fetched, not {}:",
            url.scheme()
        ));
    }
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| format!("{host} has no address"))?;
    if !policy.allow_private {
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "{host} resolves to {}, a loopback, private or otherwise non-public address; \
                 the server does not fetch those unless started with --allow-private-urls",
                bad.ip()
            ));
        }
    }
    Ok(first)
}

/// Downloads `url` under `policy`, following checked redirects.
pub fn fetch(url: &str, policy: &UrlPolicy) -> std::result::Result<Vec<u8>, String> {
    let mut current = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    for _ in 0..=MAX_REDIRECTS {
        let addr = resolve(&current, policy)?;
        let host = current.host_str().unwrap_or_default().to_owned();
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.timeout)
            .timeout(policy.timeout)
            // Connect to the address that was checked, not to a second lookup's answer.
            .resolve(&host, addr)
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .get(current.clone())
            .send()
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| format!("redirect ({status}) without a location"))?;
            current = current
                .join(location)
                .map_err(|e| format!("bad redirect location: {e}"))?;
            continue;
        }
        if !status.is_success() {
            return Err(format!("the server answered {status}"));
        }
        if response
            .content_length()
            .is_some_and(|n| n > policy.max_bytes)
        {
            return Err(format!(
                "larger than the limit of {} bytes",
                policy.max_bytes
            ));
        }
        let mut body = Vec::new();
        response
            .take(policy.max_bytes + 1)
            .read_to_end(&mut body)
            .map_err(|e| e.to_string())?;
        if body.len() as u64 > policy.max_bytes {
            return Err(format!(
                "larger than the limit of {} bytes",
                policy.max_bytes
            ));
        }
        return Ok(body);
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classes() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn refuses_schemes_and_private_hosts() {
        let policy = UrlPolicy::default();
        assert!(check_url("file:///etc/passwd", &policy).is_err());
        assert!(check_url("ftp://example.com/x", &policy).is_err());
        assert!(check_url("http://127.0.0.1:9/x.png", &policy)
            .unwrap_err()
            .contains("--allow-private-urls"));
        assert!(check_url("http://[::1]:9/x.png", &policy).is_err());
        let open = UrlPolicy {
            allow_private: true,
            ..UrlPolicy::default()
        };
        assert!(check_url("http://127.0.0.1:9/x.png", &open).is_ok());
    }
}
