//! Parsing and validation of DCQL queries (OpenID4VP 1.0 §6, format-specific `meta` of
//! Appendix B). Every error names the offending member, e.g. `credentials[1].claims[0].path`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{
    ClaimsQuery, CredentialQuery, CredentialSetQuery, DcqlQuery, FORMAT_DC_SD_JWT,
    FORMAT_JWT_VC_JSON, FORMAT_LDP_VC, FORMAT_MSO_MDOC, TrustedAuthority,
};
use crate::error::{DcqlError, Error, Result};
use crate::sd_jwt_vc::claim_path::{ClaimPath, PathElement};

fn invalid(msg: String) -> Error {
    DcqlError::Invalid(msg).into()
}

/// A query as a whole (§6).
pub(super) fn query(json: &Value) -> Result<DcqlQuery> {
    let Value::Object(top) = json else {
        return Err(invalid("a DCQL query must be a JSON object".into()));
    };
    let items = non_empty_array(top, "credentials", "")?
        .ok_or_else(|| invalid("credentials is required".into()))?;
    let mut credentials = Vec::with_capacity(items.len());
    let mut ids = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("credentials[{i}]");
        let q = credential_query(item, &at)?;
        if !ids.insert(q.id.clone()) {
            return Err(invalid(format!(
                "{at}.id {:?} is used by more than one Credential Query",
                q.id
            )));
        }
        credentials.push(q);
    }
    let credential_sets = match non_empty_array(top, "credential_sets", "")? {
        None => None,
        Some(sets) => Some(
            sets.iter()
                .enumerate()
                .map(|(k, s)| credential_set(s, &format!("credential_sets[{k}]"), &ids))
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    Ok(DcqlQuery {
        credentials,
        credential_sets,
    })
}

/// A Credential Query (§6.1).
fn credential_query(item: &Value, at: &str) -> Result<CredentialQuery> {
    let Value::Object(obj) = item else {
        return Err(invalid(format!("{at} must be an object")));
    };
    let id = identifier(obj.get("id"), &format!("{at}.id"))?;
    let format = match obj.get("format") {
        None => return Err(invalid(format!("{at}.format is required"))),
        Some(Value::String(s)) if s.is_empty() => {
            return Err(invalid(format!("{at}.format must not be empty")));
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid(format!("{at}.format must be a string"))),
    };
    let multiple = boolean(obj, "multiple", at)?.unwrap_or(false);
    let meta = match obj.get("meta") {
        None => return Err(invalid(format!("{at}.meta is required"))),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(invalid(format!("{at}.meta must be an object"))),
    };
    let vct_values = format_meta(&format, &meta, &format!("{at}.meta"))?;
    let trusted_authorities = match non_empty_array(obj, "trusted_authorities", at)? {
        None => None,
        Some(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(k, t)| trusted_authority(t, &format!("{at}.trusted_authorities[{k}]")))
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let require_cryptographic_holder_binding =
        boolean(obj, "require_cryptographic_holder_binding", at)?.unwrap_or(true);

    let has_claim_sets = obj.contains_key("claim_sets");
    let claims = match non_empty_array(obj, "claims", at)? {
        None => None,
        Some(items) => {
            let mut claims = Vec::with_capacity(items.len());
            let mut claim_ids = HashSet::new();
            for (j, c) in items.iter().enumerate() {
                let cat = format!("{at}.claims[{j}]");
                let claim = claims_query(c, &cat, &format, has_claim_sets)?;
                if let Some(cid) = &claim.id
                    && !claim_ids.insert(cid.clone())
                {
                    return Err(invalid(format!(
                        "{cat}.id {cid:?} is used by more than one Claims Query of {at}"
                    )));
                }
                claims.push(claim);
            }
            Some(claims)
        }
    };
    let claim_sets = match (non_empty_array(obj, "claim_sets", at)?, &claims) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(invalid(format!(
                "{at}.claim_sets must not be present without claims"
            )));
        }
        (Some(sets), Some(claims)) => Some(claim_sets(sets, claims, at)?),
    };
    Ok(CredentialQuery {
        id,
        format,
        multiple,
        meta,
        vct_values,
        trusted_authorities,
        require_cryptographic_holder_binding,
        claims,
        claim_sets,
    })
}

/// The format-specific `meta` (Appendix B). Returns `vct_values` for `dc+sd-jwt`.
fn format_meta(format: &str, meta: &Map<String, Value>, at: &str) -> Result<Vec<String>> {
    match format {
        FORMAT_DC_SD_JWT => {
            let items = non_empty_array(meta, "vct_values", at)?
                .ok_or_else(|| invalid(format!("{at}.vct_values is required for dc+sd-jwt")))?;
            items
                .iter()
                .enumerate()
                .map(|(k, v)| match v {
                    Value::String(s) if !s.is_empty() => Ok(s.clone()),
                    _ => Err(invalid(format!(
                        "{at}.vct_values[{k}] must be a non-empty string"
                    ))),
                })
                .collect()
        }
        FORMAT_MSO_MDOC => match meta.get("doctype_value") {
            Some(Value::String(s)) if !s.is_empty() => Ok(Vec::new()),
            None => Err(invalid(format!(
                "{at}.doctype_value is required for mso_mdoc"
            ))),
            Some(_) => Err(invalid(format!(
                "{at}.doctype_value must be a non-empty string"
            ))),
        },
        FORMAT_JWT_VC_JSON | FORMAT_LDP_VC => {
            let items = non_empty_array(meta, "type_values", at)?
                .ok_or_else(|| invalid(format!("{at}.type_values is required for {format}")))?;
            for (k, alternative) in items.iter().enumerate() {
                let ok = matches!(alternative, Value::Array(types)
                    if !types.is_empty()
                        && types.iter().all(|t| matches!(t, Value::String(s) if !s.is_empty())));
                if !ok {
                    return Err(invalid(format!(
                        "{at}.type_values[{k}] must be a non-empty array of non-empty strings"
                    )));
                }
            }
            Ok(Vec::new())
        }
        _ => Ok(Vec::new()),
    }
}

/// A Trusted Authorities Query (§6.1.1).
fn trusted_authority(item: &Value, at: &str) -> Result<TrustedAuthority> {
    let Value::Object(obj) = item else {
        return Err(invalid(format!("{at} must be an object")));
    };
    let kind = match obj.get("type") {
        None => return Err(invalid(format!("{at}.type is required"))),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(invalid(format!("{at}.type must be a non-empty string"))),
    };
    let values = non_empty_array(obj, "values", at)?
        .ok_or_else(|| invalid(format!("{at}.values is required")))?
        .iter()
        .enumerate()
        .map(|(k, v)| match v {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(invalid(format!(
                "{at}.values[{k}] must be a non-empty string"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TrustedAuthority { kind, values })
}

/// A Claims Query (§6.3), with the mdoc rules of §7.2 and Appendix B for `mso_mdoc`.
fn claims_query(item: &Value, at: &str, format: &str, id_required: bool) -> Result<ClaimsQuery> {
    let Value::Object(obj) = item else {
        return Err(invalid(format!("{at} must be an object")));
    };
    let id = match obj.get("id") {
        None if id_required => {
            return Err(invalid(format!(
                "{at}.id is required because the Credential Query has claim_sets"
            )));
        }
        None => None,
        Some(v) => Some(identifier(Some(v), &format!("{at}.id"))?),
    };
    let path = match obj.get("path") {
        None => return Err(invalid(format!("{at}.path is required"))),
        Some(p) => ClaimPath::from_json(p).map_err(|e| invalid(format!("{at}.path: {}", e.0)))?,
    };
    if format == FORMAT_MSO_MDOC
        && !matches!(path.elements(), [PathElement::Key(_), PathElement::Key(_)])
    {
        return Err(invalid(format!(
            "{at}.path must be a namespace and a data element identifier for mso_mdoc"
        )));
    }
    let values = match non_empty_array(obj, "values", at)? {
        None => None,
        Some(items) => {
            for (k, v) in items.iter().enumerate() {
                let ok = match v {
                    Value::String(_) | Value::Bool(_) => true,
                    Value::Number(n) => n.is_i64() || n.is_u64(),
                    _ => false,
                };
                if !ok {
                    return Err(invalid(format!(
                        "{at}.values[{k}] must be a string, an integer or a boolean"
                    )));
                }
            }
            Some(items.clone())
        }
    };
    let intent_to_retain = boolean(obj, "intent_to_retain", at)?;
    Ok(ClaimsQuery {
        id,
        path,
        values,
        intent_to_retain,
    })
}

/// `claim_sets` (§6.1): non-empty options of ids of this query's `claims`.
fn claim_sets(sets: &[Value], claims: &[ClaimsQuery], at: &str) -> Result<Vec<Vec<String>>> {
    sets.iter()
        .enumerate()
        .map(|(k, set)| {
            let sat = format!("{at}.claim_sets[{k}]");
            let Value::Array(ids) = set else {
                return Err(invalid(format!("{sat} must be an array of claim ids")));
            };
            if ids.is_empty() {
                return Err(invalid(format!("{sat} must not be empty")));
            }
            ids.iter()
                .enumerate()
                .map(|(n, id)| match id {
                    Value::String(s) if claims.iter().any(|c| c.id.as_ref() == Some(s)) => {
                        Ok(s.clone())
                    }
                    Value::String(s) => Err(invalid(format!(
                        "{sat}[{n}] {s:?} is the id of no Claims Query in {at}.claims"
                    ))),
                    _ => Err(invalid(format!("{sat}[{n}] must be a string"))),
                })
                .collect()
        })
        .collect()
}

/// A Credential Set Query (§6.2).
fn credential_set(item: &Value, at: &str, ids: &HashSet<String>) -> Result<CredentialSetQuery> {
    let Value::Object(obj) = item else {
        return Err(invalid(format!("{at} must be an object")));
    };
    let options = non_empty_array(obj, "options", at)?
        .ok_or_else(|| invalid(format!("{at}.options is required")))?
        .iter()
        .enumerate()
        .map(|(k, option)| {
            let oat = format!("{at}.options[{k}]");
            let Value::Array(refs) = option else {
                return Err(invalid(format!(
                    "{oat} must be an array of Credential Query ids"
                )));
            };
            if refs.is_empty() {
                return Err(invalid(format!("{oat} must not be empty")));
            }
            refs.iter()
                .enumerate()
                .map(|(n, r)| match r {
                    Value::String(s) if ids.contains(s) => Ok(s.clone()),
                    Value::String(s) => Err(invalid(format!(
                        "{oat}[{n}] {s:?} is the id of no Credential Query"
                    ))),
                    _ => Err(invalid(format!("{oat}[{n}] must be a string"))),
                })
                .collect()
        })
        .collect::<Result<Vec<_>>>()?;
    let required = boolean(obj, "required", at)?.unwrap_or(true);
    Ok(CredentialSetQuery { options, required })
}

/// An `id` of a Credential Query or Claims Query: a non-empty string of ASCII letters,
/// digits, `_` and `-` (§6.1, §6.3).
fn identifier(value: Option<&Value>, at: &str) -> Result<String> {
    match value {
        None => Err(invalid(format!("{at} is required"))),
        Some(Value::String(s)) if s.is_empty() => Err(invalid(format!("{at} must not be empty"))),
        Some(Value::String(s))
            if s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(s.clone())
        }
        Some(Value::String(s)) => Err(invalid(format!(
            "{at} {s:?} may contain only letters, digits, \"_\" and \"-\""
        ))),
        Some(_) => Err(invalid(format!("{at} must be a string"))),
    }
}

/// An optional boolean member.
fn boolean(obj: &Map<String, Value>, name: &str, at: &str) -> Result<Option<bool>> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(format!("{}{name} must be a boolean", prefix(at)))),
    }
}

/// An optional member that, when present, must be a non-empty array.
fn non_empty_array<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<Option<&'a Vec<Value>>> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::Array(a)) if a.is_empty() => {
            Err(invalid(format!("{}{name} must not be empty", prefix(at))))
        }
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(invalid(format!("{}{name} must be an array", prefix(at)))),
    }
}

/// `at.` or nothing at the top level.
fn prefix(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!("{at}.")
    }
}
