//! SD-JWT VC Type Metadata: retrieval, integrity, `extends` chains, merged claim metadata,
//! display data and the `sd` / `mandatory` rules (draft-ietf-oauth-sd-jwt-vc §5 "Type
//! Metadata", §6 "Document Integrity", §7.4 "Circular extends"; §4 of -18).
//!
//! Processing Type Metadata is optional; once a verifier or wallet does process it, the
//! draft makes it strict (§5.7): the whole `extends` chain is retrieved and checked before
//! use, every `#integrity` must match the octets received, and a credential that violates
//! the claim metadata is rejected.
//!
//! Display strings and rendering URIs come from the type's author and are untrusted input:
//! escape them for the output context and never execute SVG content (§7.6).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::b64;
use crate::crypto::HashAlg;
use crate::error::{Result, TypeMetadataError};
use crate::http::Fetcher;
use crate::sd_jwt_vc::claim_path::ClaimPath;
use crate::time::{Clock, SystemClock};

/// Longest `extends` chain followed by default (the type itself counts as one).
pub const DEFAULT_MAX_EXTENDS_DEPTH: usize = 8;

/// Whether a claim may, must or must not be selectively disclosable (§5.6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdRule {
    /// The issuer must make the claim selectively disclosable.
    Always,
    /// The issuer decides (the default).
    Allowed,
    /// The issuer must not make the claim selectively disclosable.
    Never,
}

impl SdRule {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "always" => Some(Self::Always),
            "allowed" => Some(Self::Allowed),
            "never" => Some(Self::Never),
            _ => None,
        }
    }
}

/// Display data of a type for one locale (§5.5).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TypeDisplay {
    /// BCP 47 language tag.
    pub locale: String,
    /// The credential's name for humans.
    pub name: String,
    /// A description for humans.
    pub description: Option<String>,
    /// Rendering information (`simple`, `svg_templates`), as received.
    pub rendering: Option<Value>,
}

/// Display data of a claim for one locale (§5.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimDisplay {
    /// BCP 47 language tag.
    pub locale: String,
    /// The claim's label.
    pub label: String,
    /// A description.
    pub description: Option<String>,
}

/// Metadata of one claim (§5.6). Properties a document leaves out are `None`; the effective
/// values are given by the accessors.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClaimMetadata {
    /// The claim(s) this entry is about.
    pub path: ClaimPath,
    /// Labels per locale.
    pub display: Option<Vec<ClaimDisplay>>,
    /// Whether the issuer must include the claim.
    pub mandatory: Option<bool>,
    /// The selective-disclosure rule.
    pub sd: Option<SdRule>,
    /// The SVG template placeholder id.
    pub svg_id: Option<String>,
}

impl ClaimMetadata {
    /// The effective `sd` rule (`allowed` when absent).
    #[must_use]
    pub fn sd_rule(&self) -> SdRule {
        self.sd.unwrap_or(SdRule::Allowed)
    }

    /// Whether the claim is mandatory (`false` when absent).
    #[must_use]
    pub fn is_mandatory(&self) -> bool {
        self.mandatory.unwrap_or(false)
    }

    /// The label for the first of `locales` that has one (exact tag, then language), else
    /// the first label.
    #[must_use]
    pub fn label(&self, locales: &[&str]) -> Option<&ClaimDisplay> {
        let display = self.display.as_deref()?;
        pick(display, locales, |d| &d.locale)
    }
}

/// One Type Metadata document, parsed (§5.2). Unknown properties are ignored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TypeMetadata {
    /// The type it describes.
    pub vct: String,
    /// A name for developers.
    pub name: Option<String>,
    /// A description for developers.
    pub description: Option<String>,
    /// The type this one extends.
    pub extends: Option<String>,
    /// The integrity of the extended type's document.
    pub extends_integrity: Option<String>,
    /// Display data per locale.
    pub display: Option<Vec<TypeDisplay>>,
    /// Claim metadata.
    pub claims: Vec<ClaimMetadata>,
}

fn invalid(why: impl Into<String>) -> crate::Error {
    TypeMetadataError::Invalid(why.into()).into()
}

fn opt_string(m: &Map<String, Value>, name: &str) -> Result<Option<String>> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{name:?} must be a string"))),
    }
}

fn req_string(m: &Map<String, Value>, name: &str, within: &str) -> Result<String> {
    opt_string(m, name)?.ok_or_else(|| invalid(format!("{within} needs {name:?}")))
}

fn objects<'a>(v: &'a Value, what: &str) -> Result<Vec<&'a Map<String, Value>>> {
    let Value::Array(items) = v else {
        return Err(invalid(format!("{what} must be an array")));
    };
    items
        .iter()
        .map(|i| {
            i.as_object()
                .ok_or_else(|| invalid(format!("{what} holds objects only")))
        })
        .collect()
}

impl TypeMetadata {
    /// Parses a Type Metadata document from its octets.
    ///
    /// # Errors
    /// `json_invalid` / `json_duplicate_key` for bad JSON, `type_metadata_invalid` for a
    /// document that breaks §5.2 or §5.6 (missing `vct`, bad `path`, unknown `sd` value,
    /// duplicate `svg_id`, ...).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let doc = crate::json::parse_object(bytes, 32, "type metadata")?;
        Self::from_json(&doc)
    }

    /// Parses an already decoded document.
    ///
    /// # Errors
    /// As [`TypeMetadata::parse`].
    pub fn from_json(doc: &Map<String, Value>) -> Result<Self> {
        let vct = req_string(doc, "vct", "type metadata")?;
        let display = match doc.get("display") {
            None => None,
            Some(v) => Some(
                objects(v, "display")?
                    .into_iter()
                    .map(|d| {
                        Ok(TypeDisplay {
                            locale: req_string(d, "locale", "a display entry")?,
                            name: req_string(d, "name", "a display entry")?,
                            description: opt_string(d, "description")?,
                            rendering: d.get("rendering").cloned(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let mut claims = Vec::new();
        let mut svg_ids = HashSet::new();
        let mut paths = HashSet::new();
        if let Some(v) = doc.get("claims") {
            for c in objects(v, "claims")? {
                let path = c
                    .get("path")
                    .ok_or_else(|| invalid("claim metadata needs \"path\""))
                    .and_then(|p| ClaimPath::from_json(p).map_err(|e| invalid(e.0)))?;
                if !paths.insert(path.clone()) {
                    return Err(invalid(format!("claim path {path} appears twice")));
                }
                let display = match c.get("display") {
                    None => None,
                    Some(v) => Some(
                        objects(v, "claim display")?
                            .into_iter()
                            .map(|d| {
                                Ok(ClaimDisplay {
                                    locale: req_string(d, "locale", "a claim display entry")?,
                                    label: req_string(d, "label", "a claim display entry")?,
                                    description: opt_string(d, "description")?,
                                })
                            })
                            .collect::<Result<Vec<_>>>()?,
                    ),
                };
                let mandatory = match c.get("mandatory") {
                    None => None,
                    Some(Value::Bool(b)) => Some(*b),
                    Some(_) => return Err(invalid("\"mandatory\" must be a boolean")),
                };
                let sd = match c.get("sd") {
                    None => None,
                    Some(Value::String(s)) => Some(
                        SdRule::parse(s)
                            .ok_or_else(|| invalid(format!("unknown sd value {s:?}")))?,
                    ),
                    Some(_) => return Err(invalid("\"sd\" must be a string")),
                };
                let svg_id = opt_string(c, "svg_id")?;
                if let Some(id) = &svg_id {
                    let mut chars = id.chars();
                    let valid = chars
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !valid {
                        return Err(invalid(format!(
                            "svg_id {id:?} is not [A-Za-z_][A-Za-z0-9_]*"
                        )));
                    }
                    if !svg_ids.insert(id.clone()) {
                        return Err(invalid(format!("svg_id {id:?} appears twice")));
                    }
                }
                claims.push(ClaimMetadata {
                    path,
                    display,
                    mandatory,
                    sd,
                    svg_id,
                });
            }
        }
        let extends = opt_string(doc, "extends")?;
        let extends_integrity = opt_string(doc, "extends#integrity")?;
        if extends.is_none() && extends_integrity.is_some() {
            return Err(invalid("\"extends#integrity\" without \"extends\""));
        }
        Ok(Self {
            vct,
            name: opt_string(doc, "name")?,
            description: opt_string(doc, "description")?,
            extends,
            extends_integrity,
            display,
            claims,
        })
    }
}

/// Checks `bytes` against a W3C Subresource Integrity value (§6): the strongest supported
/// algorithm present (sha512 > sha384 > sha256) decides, and any of its digests may match.
///
/// # Errors
/// `integrity_invalid` when no well-formed digest of a supported algorithm is present,
/// `integrity_mismatch` when none of the strongest algorithm's digests match.
pub fn check_integrity(integrity: &str, bytes: &[u8], what: &str) -> Result<()> {
    let mut candidates: Vec<(HashAlg, Vec<u8>)> = Vec::new();
    for token in integrity.split_ascii_whitespace() {
        // `alg-b64[?options]`; options are ignored (SRI §3.1).
        let token = token.split_once('?').map_or(token, |(t, _)| t);
        let Some((alg, digest)) = token.split_once('-') else {
            continue;
        };
        let alg = match alg {
            "sha256" => HashAlg::Sha256,
            "sha384" => HashAlg::Sha384,
            "sha512" => HashAlg::Sha512,
            _ => continue,
        };
        // SRI's base64-value allows the padding to be left out.
        let decoded = b64::decode_std(digest, "integrity").or_else(|_| {
            <base64ct::Base64Unpadded as base64ct::Encoding>::decode_vec(digest).map_err(|_| ())
        });
        let Ok(digest) = decoded else {
            continue;
        };
        if digest.len() == alg.output_len() {
            candidates.push((alg, digest));
        }
    }
    let Some(strongest) = candidates.iter().map(|(a, _)| a.output_len()).max() else {
        return Err(TypeMetadataError::IntegrityInvalid(format!(
            "no supported digest in the integrity value of {what}"
        ))
        .into());
    };
    let matched = candidates
        .iter()
        .filter(|(a, _)| a.output_len() == strongest)
        .any(|(a, d)| bool::from(a.digest(bytes).ct_eq(d)));
    if matched {
        Ok(())
    } else {
        Err(TypeMetadataError::IntegrityMismatch(format!(
            "the retrieved document of {what} does not match its integrity value"
        ))
        .into())
    }
}

/// A retrieved Type Metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetrievedDocument {
    /// The octets exactly as received.
    pub bytes: Vec<u8>,
    /// How long the document may be reused in seconds (HTTP `Cache-Control`); `None` when
    /// unknown, which allows no reuse unless an `#integrity` pins the document (§5.3.4).
    pub max_age: Option<u64>,
}

/// Where Type Metadata documents come from (§5.3): a URL in `vct`, a registry, a local
/// cache. A source returns the document's octets exactly as received, so that integrity is
/// checked over them.
pub trait TypeMetadataSource: Send + Sync + fmt::Debug {
    /// The document for `vct`, or `None` if this source has none.
    ///
    /// # Errors
    /// Retrieval failures (the resolver does not try further sources after an error).
    fn retrieve(&self, vct: &str) -> Result<Option<Vec<u8>>>;

    /// As [`TypeMetadataSource::retrieve`], with how long the document may be reused.
    /// Sources that know (HTTP) override it.
    ///
    /// # Errors
    /// As [`TypeMetadataSource::retrieve`].
    fn retrieve_document(&self, vct: &str) -> Result<Option<RetrievedDocument>> {
        Ok(self.retrieve(vct)?.map(|bytes| RetrievedDocument {
            bytes,
            max_age: None,
        }))
    }
}

/// Documents known in advance (a wallet's bundled types, a registry snapshot, tests).
#[derive(Debug, Clone, Default)]
pub struct LocalTypeMetadata {
    docs: HashMap<String, Arc<[u8]>>,
}

impl LocalTypeMetadata {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a document under the `vct` it declares.
    ///
    /// # Errors
    /// As [`TypeMetadata::parse`].
    pub fn add(&mut self, bytes: impl Into<Vec<u8>>) -> Result<&mut Self> {
        let bytes: Vec<u8> = bytes.into();
        let doc = TypeMetadata::parse(&bytes)?;
        self.docs.insert(doc.vct, bytes.into());
        Ok(self)
    }
}

impl TypeMetadataSource for LocalTypeMetadata {
    fn retrieve(&self, vct: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.docs.get(vct).map(|d| d.to_vec()))
    }
}

/// Retrieves a type's document from the `https:` URL in `vct` itself (§5.3.1), through a
/// [`Fetcher`] and its SSRF rules. Types that are not `https:` URLs are not its concern.
#[derive(Debug, Clone)]
pub struct HttpTypeMetadata {
    fetcher: Fetcher,
}

impl HttpTypeMetadata {
    /// A source on `fetcher`.
    #[must_use]
    pub fn new(fetcher: Fetcher) -> Self {
        Self { fetcher }
    }
}

impl TypeMetadataSource for HttpTypeMetadata {
    fn retrieve(&self, vct: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.retrieve_document(vct)?.map(|d| d.bytes))
    }

    fn retrieve_document(&self, vct: &str) -> Result<Option<RetrievedDocument>> {
        if !vct.starts_with("https://") {
            return Ok(None);
        }
        match self.fetcher.get(vct) {
            Ok(doc) => Ok(Some(RetrievedDocument {
                bytes: doc.body,
                max_age: doc.max_age,
            })),
            // The type publishes no document there: metadata is unavailable, not broken.
            Err(crate::Error::Fetch(crate::error::FetchError::Status(404 | 410))) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A type's metadata with its whole `extends` chain processed (§5.4, §5.6.5).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResolvedTypeMetadata {
    /// The type.
    pub vct: String,
    /// The chain, from the type itself to the root type.
    pub chain: Vec<String>,
    /// Name: the nearest one on the chain.
    pub name: Option<String>,
    /// Description: the nearest one on the chain.
    pub description: Option<String>,
    /// Display data: the nearest document that has any replaces its ancestors' wholesale.
    pub display: Vec<TypeDisplay>,
    /// Effective claim metadata: the ancestors' claims overridden property by property.
    pub claims: Vec<ClaimMetadata>,
}

/// What a recipient knows about the Disclosures behind a processed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// The holder of the issued credential: every Disclosure is known, so a missing
    /// mandatory claim is an issuer error.
    AllDisclosures,
    /// A verifier of a presentation: an absent claim may simply be undisclosed (§5.6).
    Presentation,
}

impl ResolvedTypeMetadata {
    /// The display data for the first of `locales` that matches (exact tag, then language),
    /// else the first entry.
    #[must_use]
    pub fn display_for(&self, locales: &[&str]) -> Option<&TypeDisplay> {
        pick(&self.display, locales, |d| &d.locale)
    }

    /// The claim metadata entry whose path selects the claim at `pointer` in `claims`.
    #[must_use]
    pub fn claim_for(&self, claims: &Map<String, Value>, pointer: &str) -> Option<&ClaimMetadata> {
        self.claims.iter().find(|c| {
            c.path
                .select(claims)
                .is_ok_and(|sel| sel.iter().any(|(p, _)| p == pointer))
        })
    }

    /// Checks a processed payload against the claim metadata (§5.6, §5.7): paths apply,
    /// `sd: always` claims were disclosed through a Disclosure, `sd: never` claims were not,
    /// and (with [`Completeness::AllDisclosures`]) mandatory claims are present.
    ///
    /// # Errors
    /// `claim_metadata_violation`.
    pub fn check_credential(
        &self,
        claims: &Map<String, Value>,
        disclosed: &[String],
        completeness: Completeness,
    ) -> Result<()> {
        for c in &self.claims {
            let selected = c.path.select(claims).map_err(|e| {
                TypeMetadataError::Violation(format!("claim path {}: {}", c.path, e.0))
            })?;
            for (pointer, _) in &selected {
                let was_disclosed = disclosed.iter().any(|d| d == pointer);
                match c.sd_rule() {
                    SdRule::Always if !was_disclosed => {
                        return Err(TypeMetadataError::Violation(format!(
                            "{pointer} must be selectively disclosable"
                        ))
                        .into());
                    }
                    SdRule::Never if was_disclosed => {
                        return Err(TypeMetadataError::Violation(format!(
                            "{pointer} must not be selectively disclosable"
                        ))
                        .into());
                    }
                    _ => {}
                }
            }
            if c.is_mandatory()
                && selected.is_empty()
                && completeness == Completeness::AllDisclosures
            {
                return Err(TypeMetadataError::Violation(format!(
                    "mandatory claim {} is missing",
                    c.path
                ))
                .into());
            }
        }
        Ok(())
    }

    /// Labels for every claim of `claims` that has claim metadata, for a wallet's screen:
    /// `(pointer, label, value)` in payload order of the metadata.
    #[must_use]
    pub fn labels<'a>(
        &'a self,
        claims: &'a Map<String, Value>,
        locales: &[&str],
    ) -> Vec<(String, &'a str, &'a Value)> {
        let mut out = Vec::new();
        for c in &self.claims {
            let Some(label) = c.label(locales) else {
                continue;
            };
            if let Ok(selected) = c.path.select(claims) {
                for (pointer, value) in selected {
                    out.push((pointer, label.label.as_str(), value));
                }
            }
        }
        out
    }

    fn merge(parent: Self, child: TypeMetadata) -> Result<Self> {
        let mut claims = parent.claims;
        for c in child.claims {
            if let Some(p) = claims.iter_mut().find(|p| p.path == c.path) {
                // §5.6.5.1: always / never and mandatory: true cannot be relaxed.
                if let (Some(ps @ (SdRule::Always | SdRule::Never)), Some(cs)) = (p.sd, c.sd)
                    && ps != cs
                {
                    return Err(TypeMetadataError::Relaxed(format!(
                        "{} changes sd of {} from {ps:?} to {cs:?}",
                        child.vct, c.path
                    ))
                    .into());
                }
                if p.mandatory == Some(true) && c.mandatory == Some(false) {
                    return Err(TypeMetadataError::Relaxed(format!(
                        "{} makes the mandatory claim {} optional",
                        child.vct, c.path
                    ))
                    .into());
                }
                if c.display.is_some() {
                    p.display = c.display;
                }
                if c.mandatory.is_some() {
                    p.mandatory = c.mandatory;
                }
                if c.sd.is_some() {
                    p.sd = c.sd;
                }
                if c.svg_id.is_some() {
                    p.svg_id = c.svg_id;
                }
            } else {
                claims.push(c);
            }
        }
        let mut chain = vec![child.vct.clone()];
        chain.extend(parent.chain);
        Ok(Self {
            vct: child.vct,
            chain,
            name: child.name.or(parent.name),
            description: child.description.or(parent.description),
            display: child.display.unwrap_or(parent.display),
            claims,
        })
    }

    fn root(doc: TypeMetadata) -> Self {
        Self {
            chain: vec![doc.vct.clone()],
            vct: doc.vct,
            name: doc.name,
            description: doc.description,
            display: doc.display.unwrap_or_default(),
            claims: doc.claims,
        }
    }
}

/// Picks the entry for the first matching locale: exact (case-insensitive), then primary
/// language, else the first entry.
fn pick<'a, T>(items: &'a [T], locales: &[&str], locale: impl Fn(&T) -> &String) -> Option<&'a T> {
    for want in locales {
        if let Some(i) = items.iter().find(|i| locale(i).eq_ignore_ascii_case(want)) {
            return Some(i);
        }
        let lang = want.split('-').next().unwrap_or(want);
        if let Some(i) = items.iter().find(|i| {
            locale(i)
                .split('-')
                .next()
                .is_some_and(|l| l.eq_ignore_ascii_case(lang))
        }) {
            return Some(i);
        }
    }
    items.first()
}

/// Most resolved types kept by a resolver's cache.
const CACHE_ENTRIES: usize = 256;

type CacheKey = (String, Option<String>);

#[derive(Debug)]
struct Cached {
    until: i64,
    value: ResolvedTypeMetadata,
}

/// Retrieves and processes Type Metadata from its sources, tried in order.
///
/// Resolved types are cached: a chain whose every document is pinned by an `#integrity`
/// value is reused indefinitely (§5.3.4); otherwise for the shortest `Cache-Control`
/// `max-age` among the retrieved documents, and not at all when a document carries none.
#[derive(Debug, Clone)]
pub struct TypeMetadataResolver {
    sources: Vec<Arc<dyn TypeMetadataSource>>,
    max_depth: usize,
    clock: Arc<dyn Clock>,
    cache: Arc<Mutex<HashMap<CacheKey, Cached>>>,
}

impl Default for TypeMetadataResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl TypeMetadataResolver {
    /// A resolver without sources.
    #[must_use]
    pub fn new() -> Self {
        Self {
            sources: Vec::new(),
            max_depth: DEFAULT_MAX_EXTENDS_DEPTH,
            clock: Arc::new(SystemClock),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Uses `clock` for cache lifetimes.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a source, tried after the ones already added.
    #[must_use]
    pub fn with_source(mut self, source: Arc<dyn TypeMetadataSource>) -> Self {
        self.sources.push(source);
        self.cache = Arc::default();
        self
    }

    /// Sets the longest `extends` chain accepted.
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self.cache = Arc::default();
        self
    }

    fn retrieve(&self, vct: &str) -> Result<RetrievedDocument> {
        for s in &self.sources {
            if let Some(doc) = s.retrieve_document(vct)? {
                return Ok(doc);
            }
        }
        Err(TypeMetadataError::Unavailable(format!("no type metadata for {vct:?}")).into())
    }

    /// Retrieves `vct`'s document and every type it extends, checks each `#integrity` over
    /// the octets received and each document's `vct` against its reference, and merges the
    /// chain (§5.4, §5.6.5, §6, §7.4).
    ///
    /// # Errors
    /// `type_metadata_unavailable`, `integrity_mismatch`, `integrity_invalid`,
    /// `type_metadata_vct_mismatch`, `extends_cycle`, `extends_too_deep`,
    /// `claim_metadata_relaxed`, `type_metadata_invalid`, and retrieval errors.
    pub fn resolve(&self, vct: &str, integrity: Option<&str>) -> Result<ResolvedTypeMetadata> {
        let now = self.clock.now();
        let key = (vct.to_owned(), integrity.map(str::to_owned));
        if let Ok(cache) = self.cache.lock()
            && let Some(c) = cache.get(&key)
            && c.until > now
        {
            return Ok(c.value.clone());
        }
        let (resolved, until) = self.resolve_uncached(vct, integrity, now)?;
        if until > now
            && let Ok(mut cache) = self.cache.lock()
        {
            cache.retain(|_, c| c.until > now);
            if cache.len() < CACHE_ENTRIES {
                cache.insert(
                    key,
                    Cached {
                        until,
                        value: resolved.clone(),
                    },
                );
            }
        }
        Ok(resolved)
    }

    fn resolve_uncached(
        &self,
        vct: &str,
        integrity: Option<&str>,
        now: i64,
    ) -> Result<(ResolvedTypeMetadata, i64)> {
        let mut until = i64::MAX;
        let mut docs: Vec<TypeMetadata> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut next = Some((vct.to_owned(), integrity.map(str::to_owned)));
        while let Some((want, integrity)) = next.take() {
            if !seen.insert(want.clone()) {
                return Err(TypeMetadataError::ExtendsCycle(want).into());
            }
            if docs.len() >= self.max_depth {
                return Err(TypeMetadataError::ExtendsTooDeep(self.max_depth).into());
            }
            let retrieved = match self.retrieve(&want) {
                // A type whose extended type is missing cannot be processed (§5.4): that is
                // an invalid type, not a type without metadata.
                Err(crate::Error::TypeMetadata(TypeMetadataError::Unavailable(why)))
                    if !docs.is_empty() =>
                {
                    return Err(TypeMetadataError::Invalid(format!(
                        "the extended type is unavailable: {why}"
                    ))
                    .into());
                }
                other => other?,
            };
            if let Some(i) = &integrity {
                check_integrity(i, &retrieved.bytes, &want)?;
            } else {
                let age = retrieved
                    .max_age
                    .map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX));
                until = until.min(now.saturating_add(age));
            }
            let doc = TypeMetadata::parse(&retrieved.bytes)?;
            if doc.vct != want {
                return Err(TypeMetadataError::VctMismatch {
                    expected: want,
                    found: doc.vct,
                }
                .into());
            }
            next = doc
                .extends
                .clone()
                .map(|e| (e, doc.extends_integrity.clone()));
            docs.push(doc);
        }
        // Process from the root type down to `vct`.
        let mut docs = docs.into_iter().rev();
        let root = docs
            .next()
            .ok_or_else(|| TypeMetadataError::Unavailable(vct.to_owned()))?;
        let mut resolved = ResolvedTypeMetadata::root(root);
        for child in docs {
            resolved = ResolvedTypeMetadata::merge(resolved, child)?;
        }
        Ok((resolved, until))
    }
}
