//! [`HttpClient`] on `ureq` 3 with rustls: one `GET`, no redirects, no proxy from the
//! environment, every resolved address checked before connecting.

use std::fmt;
use std::sync::Arc;

use ureq::config::Config;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use super::{FetchPolicy, HttpClient, HttpRequest, HttpResponse, HttpsUrl, Method};
use crate::error::{FetchError, Result};

/// The default [`HttpClient`] (feature `http`): `ureq` over rustls with the Mozilla root
/// store (or the roots given), DNS answers filtered by [`FetchPolicy::check_ip`].
#[derive(Clone)]
pub struct UreqClient {
    roots: Option<Arc<Vec<Certificate<'static>>>>,
}

impl fmt::Debug for UreqClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UreqClient")
            .field("custom_roots", &self.roots.as_ref().map(|r| r.len()))
            .finish()
    }
}

impl Default for UreqClient {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqClient {
    /// A client trusting the Mozilla root store (webpki-roots).
    #[must_use]
    pub fn new() -> Self {
        Self { roots: None }
    }

    /// A client trusting only the given DER root certificates (a private PKI, tests).
    #[must_use]
    pub fn with_root_certificates(roots: &[Vec<u8>]) -> Self {
        Self {
            roots: Some(Arc::new(
                roots
                    .iter()
                    .map(|d| Certificate::from_der(d).to_owned())
                    .collect(),
            )),
        }
    }

    fn agent(&self, policy: &FetchPolicy) -> ureq::Agent {
        let roots = match &self.roots {
            Some(r) => RootCerts::Specific(r.clone()),
            None => RootCerts::WebPki,
        };
        let config = Config::builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .proxy(None)
            .https_only(true)
            .user_agent(concat!("credkit/", env!("CARGO_PKG_VERSION")))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .timeout_global(Some(policy.timeout))
            .build();
        ureq::Agent::with_parts(
            config,
            DefaultConnector::new(),
            GuardedResolver {
                inner: DefaultResolver::default(),
                policy: policy.clone(),
            },
        )
    }
}

/// Resolves with the system resolver, then refuses internal addresses. The connector
/// connects to exactly the addresses returned here, so DNS cannot change the answer between
/// the check and the connection.
#[derive(Debug)]
struct GuardedResolver {
    inner: DefaultResolver,
    policy: FetchPolicy,
}

#[derive(Debug)]
struct Blocked(String);

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

impl Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.inner.resolve(uri, config, timeout)?;
        for a in addrs.iter() {
            if let Err(e) = self.policy.check_ip(a.ip()) {
                return Err(ureq::Error::Other(Box::new(Blocked(e.to_string()))));
            }
        }
        Ok(addrs)
    }
}

impl HttpClient for UreqClient {
    fn get(&self, url: &HttpsUrl, policy: &FetchPolicy) -> Result<HttpResponse> {
        let agent = self.agent(policy);
        let mut request = agent.get(url.as_str());
        if let Some(accept) = &policy.accept {
            request = request.header(http::header::ACCEPT, accept.as_str());
        }
        let response = request.call().map_err(map_error)?;
        read_response(response, policy, false)
    }

    fn post(
        &self,
        url: &HttpsUrl,
        content_type: &str,
        body: &[u8],
        policy: &FetchPolicy,
    ) -> Result<HttpResponse> {
        let agent = self.agent(policy);
        let mut request = agent
            .post(url.as_str())
            .header(http::header::CONTENT_TYPE, content_type);
        if let Some(accept) = &policy.accept {
            request = request.header(http::header::ACCEPT, accept.as_str());
        }
        let response = request.send(body).map_err(map_error)?;
        read_response(response, policy, true)
    }

    fn send(
        &self,
        request: &HttpRequest,
        url: &HttpsUrl,
        policy: &FetchPolicy,
    ) -> Result<HttpResponse> {
        let agent = self.agent(policy);
        let response = match request.method {
            Method::Get => {
                let mut r = agent.get(url.as_str());
                for (name, value) in &request.headers {
                    r = r.header(name.as_str(), value.as_str());
                }
                r.call()
            }
            Method::Post => {
                let mut r = agent.post(url.as_str());
                for (name, value) in &request.headers {
                    r = r.header(name.as_str(), value.as_str());
                }
                r.send(&request.body[..])
            }
        }
        .map_err(map_error)?;
        read_response(response, policy, true)
    }
}

/// The response headers the protocols read, besides Location, Content-Type and
/// Cache-Control.
const KEPT_HEADERS: [&str; 4] = [
    "dpop-nonce",
    "www-authenticate",
    "oauth-client-attestation-challenge",
    "retry-after",
];

/// The status, headers and (bounded) body of `response`. The body of a non-200 answer is
/// read only when `error_bodies` (a POST's JSON error answer), never for retrievals.
fn read_response(
    mut response: http::Response<ureq::Body>,
    policy: &FetchPolicy,
    error_bodies: bool,
) -> Result<HttpResponse> {
    let header = |name: http::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header(http::header::LOCATION);
    let content_type = header(http::header::CONTENT_TYPE);
    let cache_control = header(http::header::CACHE_CONTROL);
    let mut kept = Vec::new();
    for name in KEPT_HEADERS {
        for value in response.headers().get_all(name) {
            if let Ok(v) = value.to_str() {
                kept.push((name.to_owned(), v.to_owned()));
            }
        }
    }
    let status = response.status().as_u16();
    if status != 200 && !(error_bodies && (status >= 400 || status == 201 || status == 202)) {
        // The body of anything but a success is never used (draft §3).
        let mut r = HttpResponse::new(status, Vec::new());
        r.location = location;
        r.headers = kept;
        return Ok(r);
    }
    let limit = u64::try_from(policy.max_bytes).unwrap_or(u64::MAX);
    let body = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge(policy.max_bytes).into(),
            other => map_error(other),
        })?;
    let mut r = HttpResponse::new(status, body);
    r.content_type = content_type;
    r.cache_control = cache_control;
    r.location = location;
    r.headers = kept;
    Ok(r)
}

fn map_error(e: ureq::Error) -> crate::Error {
    match e {
        ureq::Error::Timeout(t) => FetchError::Timeout(t.to_string()).into(),
        ureq::Error::Other(inner) if inner.is::<Blocked>() => {
            FetchError::Forbidden(inner.to_string()).into()
        }
        ureq::Error::BodyExceedsLimit(n) => {
            FetchError::TooLarge(usize::try_from(n).unwrap_or(usize::MAX)).into()
        }
        other => FetchError::Transport(other.to_string()).into(),
    }
}
