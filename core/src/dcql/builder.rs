//! Building DCQL queries (OpenID4VP 1.0 §6) without writing JSON, and [`DcqlQuery::to_json`]
//! for sending a query as the `dcql_query` parameter of an Authorization Request.
//!
//! The builders only assemble the §6 JSON, member by member, exactly as told;
//! [`DcqlQueryBuilder::build`] then runs [`DcqlQuery::parse`] on it. A built query therefore
//! passes the same validation as a received one, and a builder that describes an invalid
//! query (an unknown id in `claim_sets`, an empty `values`, a three-element mdoc path, ...)
//! fails with `dcql_invalid` naming the offending member.

use serde_json::{Map, Value};

use super::{
    ClaimsQuery, CredentialQuery, CredentialSetQuery, DcqlQuery, FORMAT_DC_SD_JWT,
    FORMAT_JWT_VC_JSON, FORMAT_LDP_VC, FORMAT_MSO_MDOC, TrustedAuthority,
};
use crate::error::Result;
use crate::sd_jwt_vc::claim_path::PathElement;

/// Builds a DCQL query (§6): Credential Queries and, optionally, Credential Set Queries.
///
/// ```
/// # fn main() -> credkit::Result<()> {
/// use credkit::dcql::{CredentialQueryBuilder, DcqlQueryBuilder};
/// use serde_json::json;
///
/// let query = DcqlQueryBuilder::new()
///     .credential(
///         CredentialQueryBuilder::sd_jwt_vc("pid", &["urn:eudi:pid:1"])
///             .claim(&["given_name"])
///             .claim(&["family_name"])
///             .claim_with_values(&["age_equal_or_over", "18"], [true]),
///     )
///     .credential(
///         CredentialQueryBuilder::mso_mdoc("mdl", "org.iso.18013.5.1.mDL")
///             .claim(&["org.iso.18013.5.1", "given_name"]),
///     )
///     .credential_set(&[&["pid"], &["mdl"]], true)
///     .build()?;
/// // The JSON to send as `dcql_query`.
/// let json = query.to_json();
/// assert_eq!(json["credentials"][0]["meta"], json!({"vct_values": ["urn:eudi:pid:1"]}));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct DcqlQueryBuilder {
    credentials: Vec<CredentialQueryBuilder>,
    credential_sets: Option<Vec<Value>>,
}

impl DcqlQueryBuilder {
    /// An empty query: at least one Credential Query must be added before [`Self::build`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a Credential Query (§6.1), after those already added.
    pub fn credential(mut self, query: CredentialQueryBuilder) -> Self {
        self.credentials.push(query);
        self
    }

    /// Adds a Credential Set Query (§6.2): `options`, each a list of Credential Query ids
    /// that together satisfy the set (most preferred first), and whether the set is
    /// `required`.
    pub fn credential_set(mut self, options: &[&[&str]], required: bool) -> Self {
        let mut set = Map::new();
        set.insert("options".into(), string_lists(options));
        set.insert("required".into(), Value::Bool(required));
        self.credential_sets
            .get_or_insert_with(Vec::new)
            .push(Value::Object(set));
        self
    }

    /// Validates the assembled query with [`DcqlQuery::parse`].
    ///
    /// # Errors
    /// `dcql_invalid` naming the offending member when the query violates §6 or the
    /// format-specific rules of Appendix B (no Credential Query, a duplicate or malformed
    /// id, an id in `claim_sets` or `credential_sets` that names nothing, ...).
    pub fn build(self) -> Result<DcqlQuery> {
        let mut top = Map::new();
        top.insert(
            "credentials".into(),
            Value::Array(
                self.credentials
                    .into_iter()
                    .map(CredentialQueryBuilder::into_json)
                    .collect(),
            ),
        );
        if let Some(sets) = self.credential_sets {
            top.insert("credential_sets".into(), Value::Array(sets));
        }
        DcqlQuery::parse(&Value::Object(top))
    }
}

/// Builds a Credential Query (§6.1). Members not set are omitted, so their defaults apply
/// (`multiple` false, `require_cryptographic_holder_binding` true, no `claims`: nothing
/// selectively disclosable is requested, §6.4.1).
#[derive(Debug, Clone)]
#[must_use]
pub struct CredentialQueryBuilder {
    id: String,
    format: String,
    multiple: Option<bool>,
    meta: Map<String, Value>,
    trusted_authorities: Option<Vec<Value>>,
    require_cryptographic_holder_binding: Option<bool>,
    claims: Option<Vec<ClaimsQueryBuilder>>,
    claim_sets: Option<Vec<Value>>,
}

impl CredentialQueryBuilder {
    /// A Credential Query for any Credential Format Identifier, with an empty `meta`; add
    /// the format's `meta` members with [`Self::meta`].
    pub fn new(id: &str, format: &str) -> Self {
        Self {
            id: id.to_owned(),
            format: format.to_owned(),
            multiple: None,
            meta: Map::new(),
            trusted_authorities: None,
            require_cryptographic_holder_binding: None,
            claims: None,
            claim_sets: None,
        }
    }

    /// A query for IETF SD-JWT VCs (`dc+sd-jwt`) of one of the types `vct_values`
    /// (Appendix B, "IETF SD-JWT VC").
    pub fn sd_jwt_vc(id: &str, vct_values: &[&str]) -> Self {
        Self::new(id, FORMAT_DC_SD_JWT).meta("vct_values", strings(vct_values))
    }

    /// A query for ISO mdocs (`mso_mdoc`) of the document type `doctype_value` (Appendix
    /// B, "Mobile Documents or mdocs"). Claims paths are a namespace and a data element
    /// identifier.
    pub fn mso_mdoc(id: &str, doctype_value: &str) -> Self {
        Self::new(id, FORMAT_MSO_MDOC).meta("doctype_value", Value::from(doctype_value))
    }

    /// A query for W3C VCs secured as JWTs (`jwt_vc_json`); `type_values` lists the
    /// acceptable sets of types (Appendix B, "VC signed as a JWT, not using JSON-LD").
    pub fn jwt_vc_json(id: &str, type_values: &[&[&str]]) -> Self {
        Self::new(id, FORMAT_JWT_VC_JSON).meta("type_values", string_lists(type_values))
    }

    /// A query for W3C VCs secured with Data Integrity (`ldp_vc`); `type_values` lists the
    /// acceptable sets of types (Appendix B, "LDP VCs").
    pub fn ldp_vc(id: &str, type_values: &[&[&str]]) -> Self {
        Self::new(id, FORMAT_LDP_VC).meta("type_values", string_lists(type_values))
    }

    /// Sets a member of `meta`, replacing any earlier value.
    pub fn meta(mut self, name: &str, value: Value) -> Self {
        self.meta.insert(name.to_owned(), value);
        self
    }

    /// `multiple`: whether several credentials may answer this query.
    pub fn multiple(mut self, multiple: bool) -> Self {
        self.multiple = Some(multiple);
        self
    }

    /// `require_cryptographic_holder_binding`: whether the presentations must prove
    /// possession of a holder key.
    pub fn require_holder_binding(mut self, required: bool) -> Self {
        self.require_cryptographic_holder_binding = Some(required);
        self
    }

    /// Adds a Trusted Authorities Query (§6.1.1): `kind` is its `type` (`aki`, `etsi_tl`,
    /// `openid_federation`, ...), `values` the accepted authorities.
    pub fn trusted_authority(mut self, kind: &str, values: &[&str]) -> Self {
        let mut authority = Map::new();
        authority.insert("type".into(), Value::from(kind));
        authority.insert("values".into(), strings(values));
        self.trusted_authorities
            .get_or_insert_with(Vec::new)
            .push(Value::Object(authority));
        self
    }

    /// Requests the claim at a path of object keys (§6.3, §7).
    pub fn claim(self, path: &[&str]) -> Self {
        self.claims_query(ClaimsQueryBuilder::keys(path))
    }

    /// Requests the claims at a path that may hold array indices and `null` (every element).
    pub fn claim_path(self, path: &[PathElement]) -> Self {
        self.claims_query(ClaimsQueryBuilder::path(path))
    }

    /// Requests the claim at a path of object keys when its value is one of `values`
    /// (strings, integers or booleans).
    pub fn claim_with_values<I>(self, path: &[&str], values: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Value>,
    {
        self.claims_query(ClaimsQueryBuilder::keys(path).values(values))
    }

    /// Requests the claim at a path of object keys under an `id`, for [`Self::claim_sets`].
    pub fn claim_with_id(self, id: &str, path: &[&str]) -> Self {
        self.claims_query(ClaimsQueryBuilder::keys(path).id(id))
    }

    /// Adds a Claims Query with every member under the caller's control.
    pub fn claims_query(mut self, claim: ClaimsQueryBuilder) -> Self {
        self.claims.get_or_insert_with(Vec::new).push(claim);
        self
    }

    /// Adds one option of `claim_sets`: the ids of Claims Queries that together satisfy the
    /// query. Options are kept in the order added, most preferred first.
    pub fn claim_set(mut self, ids: &[&str]) -> Self {
        self.claim_sets
            .get_or_insert_with(Vec::new)
            .push(strings(ids));
        self
    }

    /// Adds several options of `claim_sets`, most preferred first (see [`Self::claim_set`]).
    pub fn claim_sets(mut self, options: &[&[&str]]) -> Self {
        let sets = self.claim_sets.get_or_insert_with(Vec::new);
        sets.extend(options.iter().map(|ids| strings(ids)));
        self
    }

    /// The Credential Query as JSON, in the member order of §6.1.
    fn into_json(self) -> Value {
        let mut obj = Map::new();
        obj.insert("id".into(), Value::String(self.id));
        obj.insert("format".into(), Value::String(self.format));
        if let Some(multiple) = self.multiple {
            obj.insert("multiple".into(), Value::Bool(multiple));
        }
        obj.insert("meta".into(), Value::Object(self.meta));
        if let Some(authorities) = self.trusted_authorities {
            obj.insert("trusted_authorities".into(), Value::Array(authorities));
        }
        if let Some(required) = self.require_cryptographic_holder_binding {
            obj.insert(
                "require_cryptographic_holder_binding".into(),
                Value::Bool(required),
            );
        }
        if let Some(claims) = self.claims {
            obj.insert(
                "claims".into(),
                Value::Array(
                    claims
                        .into_iter()
                        .map(ClaimsQueryBuilder::into_json)
                        .collect(),
                ),
            );
        }
        if let Some(sets) = self.claim_sets {
            obj.insert("claim_sets".into(), Value::Array(sets));
        }
        Value::Object(obj)
    }
}

/// Builds a Claims Query (§6.3) with an `id`, `values` or `intent_to_retain`, for
/// [`CredentialQueryBuilder::claims_query`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClaimsQueryBuilder {
    id: Option<String>,
    path: Value,
    values: Option<Vec<Value>>,
    intent_to_retain: Option<bool>,
}

impl ClaimsQueryBuilder {
    /// A Claims Query for a path of object keys.
    pub fn keys(path: &[&str]) -> Self {
        Self::from_path(strings(path))
    }

    /// A Claims Query for a path that may hold array indices and `null` (every element),
    /// e.g. the elements of a [`ClaimPath`](crate::sd_jwt_vc::claim_path::ClaimPath).
    pub fn path(path: &[PathElement]) -> Self {
        Self::from_path(Value::Array(
            path.iter()
                .map(|e| match e {
                    PathElement::Key(k) => Value::String(k.clone()),
                    PathElement::Index(i) => Value::from(*i),
                    PathElement::AllElements => Value::Null,
                })
                .collect(),
        ))
    }

    fn from_path(path: Value) -> Self {
        Self {
            id: None,
            path,
            values: None,
            intent_to_retain: None,
        }
    }

    /// `id`: required on every Claims Query of a Credential Query with `claim_sets`.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// `values`: the claim matches only when its value is one of these (strings, integers
    /// or booleans).
    pub fn values<I>(mut self, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Value>,
    {
        self.values = Some(values.into_iter().map(Into::into).collect());
        self
    }

    /// `intent_to_retain` (mdoc, Appendix B "Parameter in the Claims Query"): whether the
    /// Verifier intends to keep the data element.
    pub fn intent_to_retain(mut self, retain: bool) -> Self {
        self.intent_to_retain = Some(retain);
        self
    }

    /// The Claims Query as JSON, in the member order of §6.3.
    fn into_json(self) -> Value {
        let mut obj = Map::new();
        if let Some(id) = self.id {
            obj.insert("id".into(), Value::String(id));
        }
        obj.insert("path".into(), self.path);
        if let Some(values) = self.values {
            obj.insert("values".into(), Value::Array(values));
        }
        if let Some(retain) = self.intent_to_retain {
            obj.insert("intent_to_retain".into(), Value::Bool(retain));
        }
        Value::Object(obj)
    }
}

impl DcqlQuery {
    /// The query as §6 JSON, e.g. for the `dcql_query` parameter of an Authorization
    /// Request. Members at their default (`multiple: false`,
    /// `require_cryptographic_holder_binding: true`, `required: true`) are omitted; unknown
    /// properties of a parsed query are not kept, except inside `meta`, which is kept
    /// whole. Parsing the result gives back an equal query.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut top = Map::new();
        top.insert(
            "credentials".into(),
            Value::Array(self.credentials.iter().map(credential_json).collect()),
        );
        if let Some(sets) = &self.credential_sets {
            top.insert(
                "credential_sets".into(),
                Value::Array(sets.iter().map(credential_set_json).collect()),
            );
        }
        Value::Object(top)
    }
}

fn credential_json(q: &CredentialQuery) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), Value::from(q.id.as_str()));
    obj.insert("format".into(), Value::from(q.format.as_str()));
    if q.multiple {
        obj.insert("multiple".into(), Value::Bool(true));
    }
    obj.insert("meta".into(), Value::Object(q.meta.clone()));
    if let Some(authorities) = &q.trusted_authorities {
        obj.insert(
            "trusted_authorities".into(),
            Value::Array(authorities.iter().map(trusted_authority_json).collect()),
        );
    }
    if !q.require_cryptographic_holder_binding {
        obj.insert(
            "require_cryptographic_holder_binding".into(),
            Value::Bool(false),
        );
    }
    if let Some(claims) = &q.claims {
        obj.insert(
            "claims".into(),
            Value::Array(claims.iter().map(claims_json).collect()),
        );
    }
    if let Some(sets) = &q.claim_sets {
        obj.insert(
            "claim_sets".into(),
            Value::Array(sets.iter().map(|ids| owned_strings(ids)).collect()),
        );
    }
    Value::Object(obj)
}

fn trusted_authority_json(t: &TrustedAuthority) -> Value {
    let mut obj = Map::new();
    obj.insert("type".into(), Value::from(t.kind.as_str()));
    obj.insert("values".into(), owned_strings(&t.values));
    Value::Object(obj)
}

fn claims_json(c: &ClaimsQuery) -> Value {
    let mut obj = Map::new();
    if let Some(id) = &c.id {
        obj.insert("id".into(), Value::from(id.as_str()));
    }
    obj.insert("path".into(), c.path.to_json());
    if let Some(values) = &c.values {
        obj.insert("values".into(), Value::Array(values.clone()));
    }
    if let Some(retain) = c.intent_to_retain {
        obj.insert("intent_to_retain".into(), Value::Bool(retain));
    }
    Value::Object(obj)
}

fn credential_set_json(s: &CredentialSetQuery) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "options".into(),
        Value::Array(s.options.iter().map(|ids| owned_strings(ids)).collect()),
    );
    if !s.required {
        obj.insert("required".into(), Value::Bool(false));
    }
    Value::Object(obj)
}

/// A JSON array of strings.
fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

/// A JSON array of strings.
fn owned_strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}

/// A JSON array of arrays of strings.
fn string_lists(lists: &[&[&str]]) -> Value {
    Value::Array(lists.iter().map(|ids| strings(ids)).collect())
}
