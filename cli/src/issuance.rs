//! `credkit wallet accept-offer`: OpenID4VCI 1.0 issuance into the wallet, driving core's
//! `openid4vci::wallet::Issuance` over the blocking HTTPS client. For the authorization code
//! flow it listens for the redirect on a loopback address (RFC 8252 §7.3) and prints the
//! authorization URL on stderr.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use credkit::crypto::default_provider;
use credkit::http::{Fetcher, HttpRequest};
use credkit::jose::PrivateJwk;
use credkit::oauth::Secret;
use credkit::oauth::client_attestation::ClientAttestation;
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions, run};
use credkit::rand::OsRandom;
use credkit::time::Clock;
use credkit::wallet::Wallet;
use serde_json::{Value, json};

use crate::common::{pretty, read_file};
use crate::trust::{TrustArgs, fetcher};
use crate::{CliResult, Failure};

/// How long the loopback listener waits for the browser's redirect.
const REDIRECT_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) struct AcceptArgs<'a> {
    pub(crate) tx_code: Option<&'a str>,
    pub(crate) count: u32,
    pub(crate) trust: &'a TrustArgs,
    pub(crate) wallet_attestation: Option<&'a Path>,
    pub(crate) follow_authorization: bool,
    pub(crate) configuration: Option<&'a str>,
    pub(crate) offer: &'a str,
}

/// Reads a Wallet Attestation file: a JSON object `{"attestation": "<JWT>", "key": {JWK}}`
/// (`jwt` / `jwk` accepted as names), or text holding the compact JWT and the private JWK of
/// its `cnf` key in either order (as two lines, or a JWT line followed by a JSON JWK).
fn load_attestation(path: &Path) -> CliResult<ClientAttestation> {
    let text = zeroize::Zeroizing::new(read_file(path)?);
    let unusable = |why: &str| {
        Failure::Usage(format!(
            "{}: not a wallet attestation file ({why}); expected {{\"attestation\": \"<JWT>\", \"key\": {{JWK}}}}",
            path.display()
        ))
    };
    let (jwt, key): (String, serde_json::Map<String, Value>) =
        match serde_json::from_str::<Value>(text.trim()) {
            Ok(Value::Object(o)) => {
                let jwt = o
                    .get("attestation")
                    .or_else(|| o.get("jwt"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| unusable("no \"attestation\" JWT"))?
                    .to_owned();
                let key = o
                    .get("key")
                    .or_else(|| o.get("jwk"))
                    .and_then(Value::as_object)
                    .cloned()
                    .ok_or_else(|| unusable("no \"key\" JWK"))?;
                (jwt, key)
            }
            _ => {
                let is_jwt = |t: &str| {
                    t.split('.').count() == 3
                        && t.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                };
                let jwt = text
                    .split_whitespace()
                    .find(|t| is_jwt(t))
                    .ok_or_else(|| unusable("no compact JWT"))?
                    .to_owned();
                let rest = text.replace(&jwt, "");
                let start = rest.find('{').ok_or_else(|| unusable("no JWK"))?;
                let end = rest.rfind('}').ok_or_else(|| unusable("no JWK"))?;
                let key = rest
                    .get(start..=end)
                    .and_then(|j| serde_json::from_str::<Value>(j).ok())
                    .and_then(|v| v.as_object().cloned())
                    .ok_or_else(|| unusable("the JWK is not JSON"))?;
                (jwt, key)
            }
        };
    let key = PrivateJwk::from_json(&key)?;
    let signer = default_provider().signer(&key)?;
    Ok(ClientAttestation::new(&jwt, signer)?)
}

pub(crate) fn accept_offer(
    w: &Wallet,
    a: AcceptArgs<'_>,
    clock: &Arc<dyn Clock>,
) -> CliResult<String> {
    let fetcher = fetcher(a.trust)?;
    let attestation = a.wallet_attestation.map(load_attestation).transpose()?;
    // The loopback redirect listener (RFC 8252 §7.3): bound before the flow starts, so that
    // its port is in the redirect_uri the authorization server registers.
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Failure::Usage(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::Usage(e.to_string()))?
        .port();
    let mut options = IssuanceOptions::default();
    options.tx_code = a.tx_code.map(Secret::new);
    options.count = usize::try_from(a.count).map_err(|_| Failure::Usage("--count".into()))?;
    options.configuration_id = a.configuration.map(str::to_owned);
    options.redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let mut flow = Issuance::from_offer_uri(a.offer, options)?;
    let keys = w.keys().clone();
    let env = Env::new(&keys, attestation.as_ref(), &**clock, &OsRandom);
    let follow = a.follow_authorization;
    let mut authorize = |url: &str| -> credkit::Result<String> {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("authorization URL: {url}");
        }
        if follow {
            follow_redirect(&fetcher, url)
        } else {
            wait_for_redirect(&listener, port)
        }
    };
    let issued = run(
        &mut flow,
        &fetcher,
        &env,
        &mut authorize,
        &mut std::thread::sleep,
    )?;
    match w.add_issued(&issued) {
        Ok(batch) => {
            notify(&mut flow, &fetcher, &env, "credential_accepted");
            flow.abandon(&env, &issued.key_ids);
            Ok(pretty(&json!({
                "batch": batch,
                "count": issued.credentials.len(),
                "format": issued.format,
                "vct": issued.vct,
            })))
        }
        Err(e) => {
            notify(&mut flow, &fetcher, &env, "credential_failure");
            flow.abandon(&env, &[]);
            Err(e.into())
        }
    }
}

/// Reports `event` to the issuer; a failed notification changes nothing (§11: the issuer
/// must not rely on it).
fn notify(flow: &mut Issuance, fetcher: &Fetcher, env: &Env<'_>, event: &str) {
    if let Ok(requests) = flow.notification(event, env) {
        for r in requests {
            let _ = fetcher.send(&r);
        }
    }
}

/// Requests the authorization URL and returns where it redirects (an issuer that
/// authorises by `issuer_state` alone answers at once).
fn follow_redirect(fetcher: &Fetcher, url: &str) -> credkit::Result<String> {
    let resp = fetcher.send(&HttpRequest::get(url))?;
    match (resp.status, resp.location) {
        (302 | 303 | 307, Some(location)) => Ok(location),
        (status, _) => Err(credkit::error::Oid4vciError::InvalidResponse(format!(
            "the authorization endpoint answered {status} without a redirect"
        ))
        .into()),
    }
}

/// Waits for the browser's request to the loopback redirect URI and returns its URL.
fn wait_for_redirect(listener: &TcpListener, port: u16) -> credkit::Result<String> {
    let fail =
        |m: String| -> credkit::Error { credkit::error::Oid4vciError::InvalidResponse(m).into() };
    let deadline = std::time::Instant::now() + REDIRECT_TIMEOUT;
    listener
        .set_nonblocking(true)
        .map_err(|e| fail(format!("listener: {e}")))?;
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut line).is_err() || line.len() > 8192 {
                    continue;
                }
                let mut parts = line.split(' ');
                let (Some("GET"), Some(target)) = (parts.next(), parts.next()) else {
                    continue;
                };
                if !target.starts_with("/callback") {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                }
                let body = "credkit: you can close this window.";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                return Ok(format!("http://127.0.0.1:{port}{target}"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() > deadline {
                    return Err(fail("no authorization response within 5 minutes".into()));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(fail(format!("listener: {e}"))),
        }
    }
}
