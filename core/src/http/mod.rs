//! Retrieving documents over HTTPS safely: draft-ietf-oauth-sd-jwt-vc "Retrieving Documents
//! and Resources via HTTP" (§3 of the editor's copy) and its SSRF considerations (§7.1).
//!
//! credkit itself performs no I/O: an [`HttpClient`] performs one `GET` and nothing else. The
//! [`Fetcher`] around it enforces the rules of the draft for every request it makes:
//!
//! - `GET` only; only `https:` URLs, without userinfo or fragment;
//! - before any request, including every redirect target, the URL is validated: its host must
//!   not be a loopback, private, link-local or otherwise special-purpose address (RFC 6890),
//!   and clients must apply the same check to the addresses a name resolves to
//!   ([`is_public_ip`]), so that DNS cannot point a request inside the network;
//! - redirects are followed by the fetcher, never by the client, at most
//!   [`FetchPolicy::max_redirects`] times, and never to a non-HTTPS URL;
//! - time and size are bounded ([`FetchPolicy::timeout`], [`FetchPolicy::max_bytes`]);
//! - the body of a 4xx / 5xx response is never used.
//!
//! With the `http` feature, [`UreqClient`] implements [`HttpClient`] on `ureq` and rustls.
//! Mobile apps usually plug in their own network stack (and its certificate pinning) instead.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{FetchError, Result};

#[cfg(feature = "http")]
mod ureq_client;
#[cfg(feature = "http")]
pub use ureq_client::UreqClient;

/// Bounds and address rules applied to every retrieval.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchPolicy {
    /// Largest accepted response body in bytes (default 1 MiB).
    pub max_bytes: usize,
    /// Most redirects followed for one retrieval (default 3).
    pub max_redirects: usize,
    /// Time allowed for one request, connection included (default 10 s).
    pub timeout: Duration,
    /// The `Accept` header to send, if any (set per retrieval by [`Fetcher::get_accepting`]).
    pub accept: Option<String>,
    pub(crate) allow_internal: bool,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            max_redirects: 3,
            timeout: Duration::from_secs(10),
            accept: None,
            allow_internal: false,
        }
    }
}

impl FetchPolicy {
    /// Sets the body size limit.
    #[must_use]
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// Sets the redirect limit.
    #[must_use]
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Whether internal addresses are allowed (only through
    /// [`danger::allow_internal_addresses`]).
    #[must_use]
    pub fn allows_internal(&self) -> bool {
        self.allow_internal
    }

    /// Checks an address a host name resolved to, as every [`HttpClient`] must before it
    /// connects.
    ///
    /// # Errors
    /// `url_forbidden` for an internal address under a policy that does not allow them.
    pub fn check_ip(&self, ip: IpAddr) -> Result<()> {
        if self.allow_internal || is_public_ip(ip) {
            Ok(())
        } else {
            Err(FetchError::Forbidden(format!("{ip} is not a public address")).into())
        }
    }
}

/// Options that weaken the SSRF protection. Only for tests and closed deployments.
pub mod danger {
    use super::FetchPolicy;

    /// Allows requests to loopback, private and link-local addresses.
    ///
    /// **Warning:** a verifier with this policy can be made to send requests into its own
    /// network by whoever writes an `iss`, `vct` or `jwks_uri` (SSRF). Use it for tests
    /// against a local server only.
    #[must_use]
    pub fn allow_internal_addresses(mut policy: FetchPolicy) -> FetchPolicy {
        policy.allow_internal = true;
        policy
    }
}

/// One HTTP response, as an [`HttpClient`] returns it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The body: at most `max_bytes + 1` bytes were read, so that the fetcher can tell a body
    /// at the limit from one over it.
    pub body: Vec<u8>,
    /// Other headers the protocols read (`DPoP-Nonce`, `WWW-Authenticate`,
    /// `OAuth-Client-Attestation-Challenge`, `Retry-After`), names in lower case.
    pub headers: Vec<(String, String)>,
}

impl HttpResponse {
    /// A response.
    #[must_use]
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            location: None,
            content_type: None,
            cache_control: None,
            body,
            headers: Vec::new(),
        }
    }

    /// With the header `name` (stored in lower case).
    #[must_use]
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The values of header `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of header `name` when it is present exactly once.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut found = None;
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case(name) {
                if found.is_some() {
                    return None;
                }
                found = Some(v.as_str());
            }
        }
        found
    }

    /// With a `Location` header.
    #[must_use]
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// With a `Cache-Control` header.
    #[must_use]
    pub fn with_cache_control(mut self, cache_control: impl Into<String>) -> Self {
        self.cache_control = Some(cache_control.into());
        self
    }

    /// With a `Content-Type` header.
    #[must_use]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("location", &self.location)
            .field("content_type", &self.content_type)
            .field("cache_control", &self.cache_control)
            .field("body_len", &self.body.len())
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The method of an [`HttpRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// `GET` or `POST`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// A request that a protocol state machine asks its driver to send (OpenID4VCI: token,
/// PAR, nonce, credential requests with `DPoP`, `Authorization` and client attestation
/// headers). `Debug` shows header names only: values carry tokens and proofs.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute `https:` URL.
    pub url: String,
    /// Headers, `Content-Type` and `Accept` included.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `GET`).
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpRequest {
    /// A `GET` of `url`.
    #[must_use]
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `POST` of `body` as `content_type` to `url`.
    #[must_use]
    pub fn post(url: impl Into<String>, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            method: Method::Post,
            url: url.into(),
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    /// With one more header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The value of header `name` (case-insensitive), the first if repeated.
    #[must_use]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Performs one HTTP `GET`. Implemented by the default [`UreqClient`] (feature `http`) or by
/// the host application.
///
/// An implementation must:
/// - send exactly one `GET` for `url` and not follow redirects (the [`Fetcher`] does), with
///   an `Accept` header when [`FetchPolicy::accept`] is set;
/// - check every address the host resolves to with [`FetchPolicy::check_ip`] before it
///   connects, and connect only to an address that passed;
/// - give up after [`FetchPolicy::timeout`], and read at most `max_bytes + 1` body bytes;
/// - return 3xx, 4xx and 5xx responses as responses, not as errors.
pub trait HttpClient: Send + Sync + fmt::Debug {
    /// Performs the request.
    ///
    /// # Errors
    /// `fetch_failed`, `fetch_timeout` or `url_forbidden`.
    fn get(&self, url: &HttpsUrl, policy: &FetchPolicy) -> Result<HttpResponse>;

    /// Performs one `POST` of `body` with `Content-Type: content_type` (OpenID4VP
    /// `direct_post`, `request_uri_method=post`), under the same rules as [`HttpClient::get`]:
    /// no redirects followed, every resolved address checked, bounded in time and size. A
    /// client that only retrieves documents keeps the default, which refuses.
    ///
    /// # Errors
    /// `fetch_failed` (also the default), `fetch_timeout` or `url_forbidden`.
    fn post(
        &self,
        url: &HttpsUrl,
        content_type: &str,
        body: &[u8],
        policy: &FetchPolicy,
    ) -> Result<HttpResponse> {
        let _ = (url, content_type, body, policy);
        Err(FetchError::Transport("this HTTP client does not send POST requests".into()).into())
    }

    /// Sends `request` (to `url`, its validated URL) with all its headers, under the rules
    /// of [`HttpClient::get`], and returns the response whatever its status, with the body
    /// of error answers and the headers of [`HttpResponse::headers`]. OAuth endpoints need it
    /// (RFC 9449 `DPoP`, `Authorization`, attestation headers). The default sends requests
    /// whose only headers are `Content-Type` / `Accept` through [`HttpClient::get`] /
    /// [`HttpClient::post`] and refuses others.
    ///
    /// # Errors
    /// `fetch_failed` (also the default for other headers), `fetch_timeout` or
    /// `url_forbidden`.
    fn send(
        &self,
        request: &HttpRequest,
        url: &HttpsUrl,
        policy: &FetchPolicy,
    ) -> Result<HttpResponse> {
        let mut content_type = None;
        let mut policy = policy.clone();
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.as_str());
            } else if name.eq_ignore_ascii_case("accept") {
                policy.accept = Some(value.clone());
            } else {
                return Err(FetchError::Transport(format!(
                    "this HTTP client does not send the {name} header"
                ))
                .into());
            }
        }
        match request.method {
            Method::Get => self.get(url, &policy),
            Method::Post => self.post(
                url,
                content_type.unwrap_or("application/octet-stream"),
                &request.body,
                &policy,
            ),
        }
    }
}

/// An `https:` URL that passed validation: absolute, with a host, no userinfo, no fragment,
/// and (unless the policy allows it) no internal IP literal as host.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HttpsUrl {
    text: String,
    uri: ::http::Uri,
}

impl HttpsUrl {
    /// Parses and validates `url` under `policy`.
    ///
    /// # Errors
    /// `url_invalid` or `url_forbidden`.
    pub fn parse(url: &str, policy: &FetchPolicy) -> Result<Self> {
        let invalid = |why: &str| FetchError::UrlInvalid(format!("{url:?}: {why}"));
        if url.contains('#') {
            return Err(invalid("a fragment is not allowed").into());
        }
        let uri: ::http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(invalid("only https: URLs are retrieved").into());
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("userinfo is not allowed").into());
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(invalid("no host").into());
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            policy.check_ip(ip)?;
        } else if !policy.allow_internal && looks_numeric(host) {
            // 127.1, 0x7f.1, 0177.0.0.1, 2130706433: IPv4 in a form URL parsers and
            // inet_aton accept but Rust's strict parser does not (WHATWG "ends in a number").
            return Err(
                FetchError::Forbidden(format!("{host:?} is a non-canonical IP address")).into(),
            );
        } else if !policy.allow_internal && is_internal_name(host) {
            return Err(FetchError::Forbidden(format!("{host:?} is an internal name")).into());
        }
        Ok(Self {
            text: url.to_owned(),
            uri,
        })
    }

    /// The URL as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host (IPv6 literals in brackets).
    #[must_use]
    pub fn host(&self) -> &str {
        self.uri.host().unwrap_or_default()
    }

    /// The port, 443 when absent.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.uri.port_u16().unwrap_or(443)
    }

    /// The path and query (`/` when empty).
    #[must_use]
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }

    /// Resolves a `Location` value against this URL (RFC 9110 §10.2.2, RFC 3986 §5).
    fn join(&self, location: &str, policy: &FetchPolicy) -> Result<Self> {
        let location = location.trim();
        let has_scheme = location.split_once(':').is_some_and(|(scheme, _)| {
            let mut c = scheme.chars();
            c.next().is_some_and(|f| f.is_ascii_alphabetic())
                && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '+' | '-' | '.'))
        });
        // A fragment in a Location is not part of what is fetched (RFC 9110 §10.2.2).
        let location = location.split('#').next().unwrap_or_default();
        let absolute = if has_scheme {
            location.to_owned()
        } else if let Some(rest) = location.strip_prefix("//") {
            format!("https://{rest}")
        } else if location.starts_with('/') {
            format!("https://{}{location}", self.authority())
        } else {
            let path = self.uri.path();
            let dir = path
                .rfind('/')
                .map_or("/", |i| path.get(..=i).unwrap_or("/"));
            format!("https://{}{dir}{location}", self.authority())
        };
        Self::parse(&absolute, policy)
    }

    fn authority(&self) -> &str {
        self.uri.authority().map_or("", |a| a.as_str())
    }
}

impl fmt::Debug for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether the last label of `host` (trailing dot ignored) is a number, decimal or hex: such a
/// host is an IPv4 address to WHATWG URL parsers and `inet_aton`, never a DNS name.
fn looks_numeric(host: &str) -> bool {
    let last = host
        .trim_end_matches('.')
        .rsplit('.')
        .next()
        .unwrap_or_default();
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.chars().all(|c| c.is_ascii_digit()))
}

/// Host names that always mean "this machine" or "this network".
fn is_internal_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.ends_with(".local")
        || h.ends_with(".internal")
        || h.ends_with(".home.arpa")
        || !h.contains('.')
}

/// Whether `ip` is a globally routable unicast address: not unspecified, loopback, private
/// (RFC 1918, RFC 4193), shared (RFC 6598), link-local, documentation, benchmarking,
/// multicast, reserved or broadcast, and no IPv4 address of those kinds embedded in an IPv6
/// one (mapped, NAT64, 6to4). The special-purpose registries of RFC 6890 list them.
#[must_use]
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48 embed IPv4.
    if s[0] == 0x64 && s[1] == 0xff9b {
        let o = ip.octets();
        let v4 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
        return s[2] == 0 && is_public_v4(v4);
    }
    // 6to4 embeds an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        let o = ip.octets();
        let v4 = Ipv4Addr::new(o[2], o[3], o[4], o[5]);
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated) and other ::/96
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments 2001::/23 (Teredo, ...)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
}

/// The reuse time a `Cache-Control` value grants (RFC 9111 §5.2.2): 0 for `no-store` and
/// `no-cache`, else `max-age` (0 when malformed); `None` without either.
fn max_age(cache_control: &str) -> Option<u64> {
    let mut age = None;
    for directive in cache_control.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if d == "no-store" || d == "no-cache" {
            return Some(0);
        }
        if let Some(v) = d.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse::<u64>().ok().or(Some(0));
        }
    }
    age
}

/// A document retrieved under the rules of this module.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fetched {
    /// The URL finally answered (after redirects).
    pub url: HttpsUrl,
    /// The `Content-Type` of the final response.
    pub content_type: Option<String>,
    /// How long the response may be reused (RFC 9111 §5.2.2): `max-age`, or 0 for
    /// `no-store` / `no-cache`; `None` when the server said nothing.
    pub max_age: Option<u64>,
    /// The body, exactly as received.
    pub body: Vec<u8>,
}

impl fmt::Debug for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetched")
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("max_age", &self.max_age)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Follows the draft's retrieval rules on top of an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Arc<dyn HttpClient>,
    policy: FetchPolicy,
}

impl Fetcher {
    /// A fetcher with the default [`FetchPolicy`].
    #[must_use]
    pub fn new(client: Arc<dyn HttpClient>) -> Self {
        Self::with_policy(client, FetchPolicy::default())
    }

    /// A fetcher with `policy`.
    #[must_use]
    pub fn with_policy(client: Arc<dyn HttpClient>, policy: FetchPolicy) -> Self {
        Self { client, policy }
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Retrieves `url`, following at most `max_redirects` redirects, each re-validated.
    ///
    /// # Errors
    /// Any [`FetchError`]: invalid or forbidden URL (also as a redirect target), too many
    /// redirects, a status other than 200, a body over the limit, transport failures.
    pub fn get(&self, url: &str) -> Result<Fetched> {
        self.get_with(url, &self.policy)
    }

    /// As [`Fetcher::get`], asking for the media type `accept`.
    ///
    /// # Errors
    /// As [`Fetcher::get`].
    pub fn get_accepting(&self, url: &str, accept: &str) -> Result<Fetched> {
        let mut policy = self.policy.clone();
        policy.accept = Some(accept.to_owned());
        self.get_with(url, &policy)
    }

    /// Sends one `POST` to `url` and returns the response whatever its status; redirects
    /// are never followed (OpenID4VP 1.0 errata §14.8: a 307 / 308 would re-post the
    /// presentation elsewhere), so a 3xx is `http_status`. The body of a 4xx / 5xx answer is
    /// kept for error responses that carry JSON, within the size limit.
    ///
    /// # Errors
    /// `url_invalid`, `url_forbidden`, `http_status` for a redirect, `response_too_large`,
    /// transport failures.
    pub fn post(
        &self,
        url: &str,
        content_type: &str,
        accept: Option<&str>,
        body: &[u8],
    ) -> Result<HttpResponse> {
        let mut policy = self.policy.clone();
        policy.accept = accept.map(str::to_owned);
        let url = HttpsUrl::parse(url, &policy)?;
        let response = self.client.post(&url, content_type, body, &policy)?;
        if (300..400).contains(&response.status) {
            return Err(FetchError::Status(response.status).into());
        }
        if response.body.len() > policy.max_bytes {
            return Err(FetchError::TooLarge(policy.max_bytes).into());
        }
        Ok(response)
    }

    /// Sends `request` and returns the response whatever its status (redirects are returned,
    /// never followed: an OAuth client reads a 3xx itself, and a POST must not be re-sent
    /// elsewhere). The URL is validated under the policy first.
    ///
    /// # Errors
    /// `url_invalid`, `url_forbidden`, `response_too_large`, transport failures.
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse> {
        let url = HttpsUrl::parse(&request.url, &self.policy)?;
        let response = self.client.send(request, &url, &self.policy)?;
        if response.body.len() > self.policy.max_bytes {
            return Err(FetchError::TooLarge(self.policy.max_bytes).into());
        }
        Ok(response)
    }

    /// Retrieves `url` like [`Fetcher::get_accepting`] but without following any redirect
    /// (OpenID4VP `request_uri`: a 3xx is an error, errata §14.8).
    ///
    /// # Errors
    /// As [`Fetcher::get`]; `too_many_redirects` for any redirect.
    pub fn get_no_redirects(&self, url: &str, accept: &str) -> Result<Fetched> {
        let mut policy = self.policy.clone();
        policy.accept = Some(accept.to_owned());
        policy.max_redirects = 0;
        self.get_with(url, &policy)
    }

    fn get_with(&self, url: &str, policy: &FetchPolicy) -> Result<Fetched> {
        let mut current = HttpsUrl::parse(url, policy)?;
        let mut redirects = 0usize;
        loop {
            let response = self.client.get(&current, policy)?;
            match response.status {
                200 => {
                    if response.body.len() > policy.max_bytes {
                        return Err(FetchError::TooLarge(policy.max_bytes).into());
                    }
                    return Ok(Fetched {
                        url: current,
                        content_type: response.content_type,
                        max_age: response.cache_control.as_deref().and_then(max_age),
                        body: response.body,
                    });
                }
                301 | 302 | 303 | 307 | 308 => {
                    redirects += 1;
                    if redirects > policy.max_redirects {
                        return Err(FetchError::TooManyRedirects(policy.max_redirects).into());
                    }
                    let location = response.location.ok_or_else(|| {
                        FetchError::Transport("a redirect without Location".into())
                    })?;
                    current = current.join(&location, policy)?;
                }
                other => return Err(FetchError::Status(other).into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "ff02::1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public_ip(ip), "{ip} must be rejected");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public_ip(ip), "{ip} is public");
        }
    }

    #[test]
    fn urls_are_validated() {
        let p = FetchPolicy::default();
        assert!(HttpsUrl::parse("https://issuer.example.com/path", &p).is_ok());
        for (url, code) in [
            ("http://issuer.example.com/", "url_invalid"),
            ("https://user@issuer.example.com/", "url_invalid"),
            ("https://issuer.example.com/#frag", "url_invalid"),
            ("file:///etc/passwd", "url_invalid"),
            ("https://127.0.0.1/", "url_forbidden"),
            ("https://[::1]/", "url_forbidden"),
            ("https://169.254.169.254/latest/meta-data", "url_forbidden"),
            ("https://localhost/", "url_forbidden"),
            ("https://metadata.google.internal/", "url_forbidden"),
            ("https://intranet/", "url_forbidden"),
            ("https://127.1/", "url_forbidden"),
            ("https://0x7f.1/", "url_forbidden"),
            ("https://0177.0.0.1/", "url_forbidden"),
            ("https://127.0.0.1./", "url_forbidden"),
            ("https://2130706433/", "url_forbidden"),
        ] {
            let err = HttpsUrl::parse(url, &p).unwrap_err();
            assert_eq!(err.code(), code, "{url}");
        }
        let open = danger::allow_internal_addresses(FetchPolicy::default());
        assert!(HttpsUrl::parse("https://127.0.0.1:8443/x", &open).is_ok());
    }

    #[derive(Debug, Default)]
    struct Recorder(std::sync::Mutex<Vec<Option<String>>>);

    impl HttpClient for Recorder {
        fn get(&self, _url: &HttpsUrl, policy: &FetchPolicy) -> Result<HttpResponse> {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(policy.accept.clone());
            }
            Ok(HttpResponse::new(200, b"{}".to_vec()))
        }
    }

    #[test]
    fn accept_is_passed_per_retrieval() {
        let r = Arc::new(Recorder::default());
        let f = Fetcher::new(r.clone());
        f.get_accepting("https://a.example.com/l", "application/statuslist+jwt")
            .unwrap();
        f.get("https://a.example.com/l").unwrap();
        assert_eq!(
            *r.0.lock().unwrap(),
            [Some("application/statuslist+jwt".to_owned()), None]
        );
    }

    #[test]
    fn cache_control() {
        assert_eq!(max_age("max-age=300"), Some(300));
        assert_eq!(max_age("public, max-age=60"), Some(60));
        assert_eq!(max_age("max-age=60, no-store"), Some(0));
        assert_eq!(max_age("no-cache"), Some(0));
        assert_eq!(max_age("max-age=abc"), Some(0));
        assert_eq!(max_age("public"), None);
    }

    #[test]
    fn redirects_resolve_relative_locations() {
        let p = FetchPolicy::default();
        let base = HttpsUrl::parse("https://a.example.com/dir/file?q=1", &p).unwrap();
        assert_eq!(
            base.join("/cb?u=https://x.example", &p).unwrap().as_str(),
            "https://a.example.com/cb?u=https://x.example"
        );
        assert_eq!(
            base.join("/y#frag", &p).unwrap().as_str(),
            "https://a.example.com/y"
        );
        assert_eq!(
            base.join("/x", &p).unwrap().as_str(),
            "https://a.example.com/x"
        );
        assert_eq!(
            base.join("y", &p).unwrap().as_str(),
            "https://a.example.com/dir/y"
        );
        assert_eq!(
            base.join("//b.example.com/z", &p).unwrap().as_str(),
            "https://b.example.com/z"
        );
        assert_eq!(
            base.join("http://b.example.com/", &p).unwrap_err().code(),
            "url_invalid"
        );
        assert_eq!(
            base.join("https://10.0.0.1/", &p).unwrap_err().code(),
            "url_forbidden"
        );
    }
}
