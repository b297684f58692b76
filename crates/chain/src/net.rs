//! Every outgoing HTTP request of a chain (`source-url`, `source-s3`, `persist-s3`, anything
//! later) goes through this module, under one address policy ([`UrlPolicy`]):
//!
//! - host names are resolved by the client's own resolver ([`Guard`], reqwest's
//!   `dns_resolver`), which keeps only the addresses the policy allows: the connector dials
//!   exactly the checked addresses, so a second DNS answer cannot slip in between check and
//!   connect (DNS rebinding);
//! - IP-literal hosts never reach a resolver, so every request's URL is checked before it is sent
//!   ([`Guard::check_url`]), the first one and every redirect hop alike;
//! - no proxy: a proxy would resolve and connect for us, past the check;
//! - the clients never follow redirects themselves: S3 answers 3xx are errors naming the
//!   redirect, `source-url` follows at most [`MAX_REDIRECTS`], each hop checked like the first.
//!
//! Loopback, private, link-local and other non-public addresses are refused unless the server
//! allows them all (`--allow-private-urls`) or the address is on the allow list
//! (`--allow-url-address`: an IP, a CIDR block, optionally with a port).

use std::error::Error as StdError;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// The most redirects `source-url` follows (each one checked).
pub const MAX_REDIRECTS: usize = 5;

/// An address trusted although it is not public: an IP or a CIDR block, optionally limited to
/// one port (`127.0.0.2`, `10.0.0.0/8`, `127.0.0.2:9000`, `[fd00::/8]:443`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowEntry {
    pub net: IpNet,
    pub port: Option<u16>,
}

impl AllowEntry {
    /// Whether `ip:port` is covered (IPv4-mapped IPv6 addresses count as their IPv4 address).
    pub fn matches(&self, ip: IpAddr, port: u16) -> bool {
        self.net.contains(&canonical(ip)) && self.port.is_none_or(|p| p == port)
    }
}

impl std::fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let single = self.net.prefix_len() == self.net.max_prefix_len();
        let net = if single {
            self.net.addr().to_string()
        } else {
            self.net.to_string()
        };
        match (self.port, self.net) {
            (None, _) => write!(f, "{net}"),
            (Some(port), IpNet::V4(_)) => write!(f, "{net}:{port}"),
            (Some(port), IpNet::V6(_)) => write!(f, "[{net}]:{port}"),
        }
    }
}

impl FromStr for AllowEntry {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "{text:?} is not an IP address or CIDR block with an optional port \
                 (e.g. 127.0.0.2, 10.0.0.0/8, 127.0.0.2:9000, [fd00::/8]:443); host names are \
                 not accepted, since a name's addresses can change"
            )
        };
        // The port: `[v6 or v6/len]:port`, or `v4:port` / `v4/len:port`.
        let (net, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inner, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = after.strip_prefix(':').ok_or_else(bad)?;
            (inner, Some(port))
        } else {
            match text.rsplit_once(':') {
                Some((left, port)) if !left.contains(':') => (left, Some(port)),
                _ => (text, None),
            }
        };
        let port = match port {
            Some(port) => match port.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad()),
                Ok(port) => Some(port),
            },
            None => None,
        };
        let net = if net.contains('/') {
            IpNet::from_str(net).map_err(|_| bad())?.trunc()
        } else {
            let ip = canonical(IpAddr::from_str(net).map_err(|_| bad())?);
            IpNet::from(ip)
        };
        // `::ffff:a.b.c.d/len` blocks are IPv4 blocks in disguise.
        let net = match net {
            IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).map_err(|_| bad())?,
                None => net,
            },
            _ => net,
        };
        Ok(Self { net, port })
    }
}

/// What chain stages may fetch, and how much.
#[derive(Clone, Debug)]
pub struct UrlPolicy {
    /// Every address is allowed (`--allow-private-urls`).
    pub allow_private: bool,
    /// Non-public addresses allowed anyway (`--allow-url-address`).
    pub allow: Vec<AllowEntry>,
    pub max_bytes: u64,
    pub timeout: Duration,
    pub max_pixels: u64,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        Self {
            allow_private: false,
            allow: Vec::new(),
            max_bytes: 32 << 20,
            timeout: Duration::from_secs(30),
            max_pixels: 8192 * 8192,
        }
    }
}

impl UrlPolicy {
    /// Whether a connection to `addr` is allowed.
    pub fn allows(&self, addr: SocketAddr) -> bool {
        let ip = canonical(addr.ip());
        self.allow_private
            || is_public(ip)
            || self
                .allow
                .iter()
                .any(|entry| entry.matches(ip, addr.port()))
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they reach.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
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
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            // NAT64 and 6to4 reach the IPv4 address they carry.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return is_public(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            !(s[..6] == [0, 0, 0, 0, 0, 0] // ::, ::1 and the old IPv4-compatible ::a.b.c.d
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local
                || (s[0] == 0x2001 && s[1] == 0) // Teredo
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// Why a request was not sent; found again in client errors to report it plainly.
#[derive(Clone, Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Refused {}

fn find_refused<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a Refused> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = error.source();
    }
    None
}

/// An error with its causes (reqwest's own text leaves them out), or just the refusal.
fn describe(error: &(dyn StdError + 'static)) -> String {
    if let Some(refused) = find_refused(error) {
        return refused.0.clone();
    }
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(cause) = current {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        current = cause.source();
    }
    text
}

fn refusal(host: &str, addrs: &[IpAddr]) -> Refused {
    let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let what = if addrs.len() == 1 && host.parse::<IpAddr>().ok() == Some(addrs[0]) {
        let plain = canonical(addrs[0]);
        let host = if plain == addrs[0] {
            host.to_owned()
        } else {
            format!("{host} (that is {plain})")
        };
        format!("{host} is a loopback, private or otherwise non-public address")
    } else {
        format!(
            "{host} resolves to {}: loopback, private or otherwise non-public addresses",
            list.join(", ")
        )
    };
    Refused(format!(
        "{what}; the server does not connect there unless started with --allow-private-urls or \
         --allow-url-address"
    ))
}

fn check_scheme(url: &Url) -> Result<(), Refused> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(Refused(format!(
            "only http and https URLs are fetched, not {other}:"
        ))),
    }
}

/// The check for one target (scheme, host and port): the client's resolver, and the check of
/// every request URL before it is sent.
#[derive(Clone, Debug)]
pub struct Guard {
    policy: Arc<UrlPolicy>,
    /// The target's port; the resolver does not see ports, and per-port entries need it.
    port: u16,
    /// The server's own configured S3 endpoint host: set by the operator, so trusted.
    trusted_host: Option<String>,
}

fn bare_host(url: &Url) -> Result<String, Refused> {
    let host = url
        .host_str()
        .ok_or_else(|| Refused(format!("{url} has no host")))?;
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase())
}

impl Guard {
    /// The guard for `url`'s target (checked with [`Guard::check_url`] before any request).
    pub fn for_url(policy: &UrlPolicy, url: &Url) -> Result<Self, Refused> {
        check_scheme(url)?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Refused(format!("{url} has no port")))?;
        Ok(Self {
            policy: Arc::new(policy.clone()),
            port,
            trusted_host: None,
        })
    }

    /// Trusts `url`'s host whatever its addresses (the operator's own endpoint).
    fn trusting(mut self, url: &Url) -> Result<Self, Refused> {
        self.trusted_host = Some(bare_host(url)?);
        Ok(self)
    }

    fn is_trusted(&self, host: &str) -> bool {
        self.trusted_host
            .as_deref()
            .is_some_and(|trusted| trusted.eq_ignore_ascii_case(host))
    }

    /// Checks a request's URL before it is sent: scheme, the target's port, and IP-literal hosts
    /// (those skip the resolver). Names are checked by the resolver, on the addresses it returns.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        check_scheme(url)?;
        let host = bare_host(url)?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Refused(format!("{url} has no port")))?;
        if port != self.port {
            return Err(Refused(format!(
                "{url} is not on the checked port {}",
                self.port
            )));
        }
        if let Ok(ip) = IpAddr::from_str(&host) {
            if !self.is_trusted(&host) && !self.policy.allows(SocketAddr::new(ip, port)) {
                return Err(refusal(&host, &[ip]));
            }
        }
        Ok(())
    }
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.clone();
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let port = guard.port;
            let lookup = host.clone();
            let found = tokio::task::spawn_blocking(move || {
                (lookup.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect::<Vec<_>>)
            })
            .await?
            .map_err(|e| Refused(format!("cannot resolve {host}: {e}")))?;
            let trusted = guard.is_trusted(&host);
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|addr| trusted || guard.policy.allows(*addr));
            if allowed.is_empty() {
                let ips: Vec<IpAddr> = refused.iter().map(SocketAddr::ip).collect();
                if ips.is_empty() {
                    return Err(Refused(format!("{host} has no address")).into());
                }
                return Err(refusal(&host, &ips).into());
            }
            if !refused.is_empty() {
                tracing::warn!(host, ?refused, "skipping non-public addresses");
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

fn parse_url(url: &str) -> Result<Url, String> {
    Url::parse(url).map_err(|e| format!("not a URL: {e}"))
}

/// Checks a URL up front, without resolving (its names are checked at connect time): scheme,
/// host and, for IP-literal hosts, the address.
pub fn check_url(url: &str, policy: &UrlPolicy) -> Result<(), String> {
    let url = parse_url(url)?;
    let guard = Guard::for_url(policy, &url).map_err(|e| e.0)?;
    guard.check_url(&url).map_err(|e| e.0)
}

/// The blocking client for one target: no proxy, no redirects, the guard as its resolver.
fn blocking_client(guard: Guard, timeout: Duration) -> Result<reqwest::blocking::Client, String> {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .dns_resolver(Arc::new(guard))
        .build()
        .map_err(|e| describe(&e))
}

/// Downloads `url` (`source-url`), following at most [`MAX_REDIRECTS`] redirects, each one
/// checked like the first URL, within the policy's time and size limits.
pub fn fetch(url: &str, policy: &UrlPolicy) -> Result<Vec<u8>, String> {
    let mut current = parse_url(url)?;
    for hop in 0..=MAX_REDIRECTS {
        // A refused hop names the redirect, so the client sees who sent the server there.
        let context = |message: String| match hop {
            0 => message,
            _ => format!("redirected to {current}: {message}"),
        };
        let guard = Guard::for_url(policy, &current).map_err(|e| context(e.0))?;
        guard.check_url(&current).map_err(|e| context(e.0))?;
        let client = blocking_client(guard, policy.timeout)?;
        let response = client
            .get(current.clone())
            .send()
            .map_err(|e| context(describe(&e)))?;
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
            .map_err(|e| describe(&e))?;
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

/// The S3 client of `object_store` (`AmazonS3Builder::with_http_connector`): the guarded client,
/// for the one endpoint the stage talks to.
#[derive(Debug)]
pub struct S3Connector {
    guard: Guard,
    timeout: Duration,
}

impl S3Connector {
    /// `endpoint`: the S3 endpoint URL; `trusted`: it is the server's configured endpoint (the
    /// operator's choice, any address), not a stage's `endpoint_url`.
    pub fn new(policy: &UrlPolicy, endpoint: &str, trusted: bool) -> Result<Self, String> {
        let url = parse_url(endpoint)?;
        let mut guard = Guard::for_url(policy, &url).map_err(|e| e.0)?;
        if trusted {
            guard = guard.trusting(&url).map_err(|e| e.0)?;
        }
        guard.check_url(&url).map_err(|e| e.0)?;
        Ok(Self {
            guard,
            timeout: policy.timeout,
        })
    }
}

impl HttpConnector for S3Connector {
    fn connect(&self, _options: &object_store::ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .timeout(self.timeout)
            .dns_resolver(Arc::new(self.guard.clone()))
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(GuardedService {
            client,
            guard: self.guard.clone(),
        }))
    }
}

/// Checks each S3 request before sending it, and refuses redirects.
#[derive(Debug)]
struct GuardedService {
    client: reqwest::Client,
    guard: Guard,
}

fn refused_error(refused: Refused) -> HttpError {
    // `Unknown`: not retried, the same answer would come again.
    HttpError::new(HttpErrorKind::Unknown, refused)
}

#[async_trait::async_trait]
impl HttpService for GuardedService {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = Url::parse(&request.uri().to_string())
            .map_err(|e| HttpError::new(HttpErrorKind::Unknown, e))?;
        self.guard.check_url(&url).map_err(refused_error)?;
        let response = HttpService::call(&self.client, request)
            .await
            .map_err(|e| match find_refused(&e) {
                Some(refused) => refused_error(refused.clone()),
                None => e,
            })?;
        let status = response.status();
        // 304 is no redirect; object_store handles it.
        if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("no location");
            return Err(refused_error(Refused(format!(
                "the S3 endpoint answered {status} with a redirect to {location}; \
                 redirects are not followed"
            ))));
        }
        Ok(response)
    }
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
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "224.0.0.1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }

    fn entry(text: &str) -> AllowEntry {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn allow_entries_parse() {
        assert_eq!(entry("127.0.0.2").to_string(), "127.0.0.2");
        assert_eq!(entry(" 10.0.0.0/8 ").to_string(), "10.0.0.0/8");
        assert_eq!(entry("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(entry("127.0.0.2:9000").to_string(), "127.0.0.2:9000");
        assert_eq!(entry("10.0.0.0/8:9000").to_string(), "10.0.0.0/8:9000");
        assert_eq!(entry("::1").to_string(), "::1");
        assert_eq!(entry("[::1]:9000").to_string(), "[::1]:9000");
        assert_eq!(entry("fd00::/8").to_string(), "fd00::/8");
        assert_eq!(entry("[fd00::/8]:443").to_string(), "[fd00::/8]:443");
        // Mapped addresses and blocks are their IPv4 selves.
        assert_eq!(entry("::ffff:127.0.0.2").to_string(), "127.0.0.2");
        assert_eq!(entry("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
        for bad in [
            "",
            "localhost",
            "minio:9000",
            "10.0.0.0/33",
            "127.0.0.2:0",
            "127.0.0.2:70000",
            "127.0.0.2:",
            "[::1]",
            "[::1]:x",
            "::1:9000:",
            "1.2.3",
        ] {
            let error = AllowEntry::from_str(bad).unwrap_err();
            assert!(error.contains("CIDR"), "{bad}: {error}");
        }
    }

    #[test]
    fn allow_entries_match_addresses_and_ports() {
        let policy = UrlPolicy {
            allow: vec![
                entry("127.0.0.2"),
                entry("10.0.0.0/8:9000"),
                entry("[fd00::/8]:443"),
            ],
            ..UrlPolicy::default()
        };
        assert!(policy.allows(addr("127.0.0.2:80")));
        assert!(policy.allows(addr("127.0.0.2:9000")));
        assert!(policy.allows(addr("[::ffff:127.0.0.2]:80")), "mapped");
        assert!(!policy.allows(addr("127.0.0.1:80")));
        assert!(!policy.allows(addr("[::ffff:127.0.0.1]:80")));
        assert!(!policy.allows(addr("[::1]:80")));
        assert!(policy.allows(addr("10.200.3.4:9000")));
        assert!(!policy.allows(addr("10.200.3.4:9001")), "other port");
        assert!(!policy.allows(addr("[::ffff:10.1.1.1]:9001")));
        assert!(policy.allows(addr("[::ffff:10.1.1.1]:9000")));
        assert!(!policy.allows(addr("192.168.0.1:9000")));
        assert!(policy.allows(addr("[fd12::1]:443")));
        assert!(!policy.allows(addr("[fd12::1]:80")));
        assert!(!policy.allows(addr("169.254.169.254:80")));
        // Public addresses need no entry.
        assert!(policy.allows(addr("8.8.8.8:443")));
        let open = UrlPolicy {
            allow_private: true,
            ..UrlPolicy::default()
        };
        assert!(open.allows(addr("127.0.0.1:1")));
    }

    #[test]
    fn refuses_schemes_and_private_hosts() {
        let policy = UrlPolicy::default();
        assert!(check_url("file:///etc/passwd", &policy)
            .unwrap_err()
            .contains("only http and https"));
        assert!(check_url("ftp://example.com/x", &policy).is_err());
        assert!(check_url("http://127.0.0.1:9/x.png", &policy)
            .unwrap_err()
            .contains("--allow-private-urls"));
        assert!(check_url("http://[::1]:9/x.png", &policy).is_err());
        assert!(check_url("http://[::ffff:7f00:1]:9/x.png", &policy).is_err());
        let open = UrlPolicy {
            allow_private: true,
            ..UrlPolicy::default()
        };
        assert!(check_url("http://127.0.0.1:9/x.png", &open).is_ok());
        let listed = UrlPolicy {
            allow: vec![entry("127.0.0.2:9000")],
            ..UrlPolicy::default()
        };
        assert!(check_url("http://127.0.0.2:9000/x.png", &listed).is_ok());
        assert!(check_url("http://127.0.0.2:9001/x.png", &listed).is_err());
        assert!(check_url("http://127.0.0.1:9000/x.png", &listed).is_err());
    }

    /// A listener that counts the connections it accepts.
    fn canary() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        (addr, hits)
    }

    #[test]
    fn names_are_checked_on_the_resolved_addresses() {
        let (canary, hits) = canary();
        let policy = UrlPolicy {
            allow: vec![entry("127.0.0.2")],
            timeout: Duration::from_secs(5),
            ..UrlPolicy::default()
        };
        let error = fetch(
            &format!("http://localhost:{}/x.png", canary.port()),
            &policy,
        )
        .unwrap_err();
        assert!(error.contains("localhost resolves to"), "{error}");
        assert!(error.contains("--allow-url-address"), "{error}");
        let error = fetch(&format!("http://{canary}/x.png"), &policy).unwrap_err();
        assert!(error.contains("127.0.0.1"), "{error}");
        // The operator's own endpoint is trusted by name.
        let trusted = S3Connector::new(
            &policy,
            &format!("http://localhost:{}", canary.port()),
            true,
        );
        assert!(trusted.is_ok());
        assert!(S3Connector::new(&policy, &format!("http://{canary}"), false).is_err());
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
