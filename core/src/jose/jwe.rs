//! JSON Web Encryption (RFC 7516) in compact serialization (§7.1), with ECDH-ES direct key
//! agreement (RFC 7518 §4.6) and AES-GCM content encryption (RFC 7518 §5.3): what OpenID4VP
//! 1.0 §8.3 and HAIP 1.0 §5 require for encrypted Authorization Responses, and what
//! OpenID4VCI uses for credential response encryption.
//!
//! Only what is needed, and nothing that has hurt other libraries (ATTACKS JWE-01…04):
//! - key management is `ECDH-ES` only (no key wrapping, no RSA, no PBES2); the JWE Encrypted
//!   Key must be empty (§4.6: direct key agreement);
//! - the ephemeral public key `epk` must be a public P-256 key on the recipient's curve and is
//!   validated as a point on the curve by the crypto provider before any agreement
//!   (invalid-curve attacks, RFC 8725 §3.4);
//! - `zip` is refused (decompression bombs); `crit` is handled as for JWS (RFC 7516 §4.1.13);
//! - the algorithms accepted and the decryption keys come from the [`Decrypter`]'s
//!   configuration, never from the JWE;
//! - the AAD is the protected header exactly as received (§5.2 step 14); `apu` / `apv`, when
//!   present, feed the Concat KDF (RFC 7518 §4.6.2) and nothing else.
//!
//! The content encryption key is derived with the Concat KDF over SHA-256 (NIST SP 800-56A
//! §5.8.1): `AlgorithmID` is the `enc` value (direct agreement), `SuppPubInfo` the key
//! length in bits.

use std::fmt;

use serde_json::{Map, Value};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::b64;
use crate::crypto::CryptoProvider;
use crate::error::{FormatError, HeaderError, JweError, LimitError, Result};
use crate::jose::{Curve, PrivateJwk, PublicJwk};
use crate::rand::RandomSource;

/// The only key management algorithm: ECDH-ES in direct key agreement mode.
pub const ECDH_ES: &str = "ECDH-ES";

/// The default limit on a JWE's compact text: 1 MiB.
pub const DEFAULT_MAX_LEN: usize = 1 << 20;

/// Header parameters RFC 7516 / 7518 register (cannot appear in `crit`).
const REGISTERED: [&str; 20] = [
    "alg", "enc", "zip", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty",
    "crit", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
];

/// A content encryption algorithm (RFC 7518 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ContentEncryption {
    /// `A128GCM`.
    A128Gcm,
    /// `A256GCM`.
    A256Gcm,
}

impl ContentEncryption {
    /// Both, in the order HAIP lists them.
    pub const ALL: [Self; 2] = [Self::A128Gcm, Self::A256Gcm];

    /// The registered name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::A128Gcm => "A128GCM",
            Self::A256Gcm => "A256GCM",
        }
    }

    /// The algorithm registered under `name` (case-sensitive).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The key length in bytes.
    #[must_use]
    pub fn key_len(self) -> usize {
        match self {
            Self::A128Gcm => 16,
            Self::A256Gcm => 32,
        }
    }
}

impl fmt::Display for ContentEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed compact JWE: its protected header and its parts, with the protected header's
/// text kept as received (it is the AAD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwe {
    protected_b64: String,
    header: Map<String, Value>,
    enc: ContentEncryption,
    epk: PublicJwk,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

impl Jwe {
    /// Parses a compact JWE and applies the structural rules: five parts, an empty encrypted
    /// key, `alg` `ECDH-ES`, a known `enc`, no `zip`, `crit` as for JWS, a public P-256
    /// `epk`, a 96-bit IV and a 128-bit tag.
    ///
    /// # Errors
    /// `malformed_compact`, `b64_invalid`, `json_*`, `header_invalid`, `crit_unsupported`,
    /// `jwe_alg_not_allowed`, `jwe_enc_not_allowed`, `jwe_zip_unsupported`, `invalid_epk`,
    /// `input_too_large` past [`DEFAULT_MAX_LEN`].
    pub fn parse_compact(text: &str) -> Result<Self> {
        Self::parse_compact_limited(text, DEFAULT_MAX_LEN)
    }

    fn parse_compact_limited(text: &str, max_len: usize) -> Result<Self> {
        if text.len() > max_len {
            return Err(LimitError::InputTooLarge {
                limit: max_len,
                actual: text.len(),
            }
            .into());
        }
        let mut parts = text.split('.');
        let (Some(h), Some(k), Some(iv), Some(c), Some(t), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(FormatError::Compact("a JWE has exactly five dot-separated parts").into());
        };
        if h.is_empty() {
            return Err(FormatError::Compact("empty JWE protected header").into());
        }
        let header_bytes = b64::decode(h, "JWE header")?;
        let header = crate::json::parse_object(&header_bytes, 8, "JWE header")?;
        let alg = match header.get("alg") {
            Some(Value::String(a)) => a.as_str(),
            Some(_) => return Err(HeaderError::Invalid("\"alg\" must be a string").into()),
            None => return Err(HeaderError::Invalid("\"alg\" is missing").into()),
        };
        if alg != ECDH_ES {
            return Err(JweError::AlgNotAllowed(alg.to_owned()).into());
        }
        let enc = match header.get("enc") {
            Some(Value::String(e)) => {
                ContentEncryption::from_name(e).ok_or_else(|| JweError::EncNotAllowed(e.clone()))?
            }
            Some(_) => return Err(HeaderError::Invalid("\"enc\" must be a string").into()),
            None => return Err(HeaderError::Invalid("\"enc\" is missing: not a JWE").into()),
        };
        if header.contains_key("zip") {
            return Err(JweError::ZipUnsupported.into());
        }
        crate::jose::jws::check_crit(&header, &REGISTERED)?;
        if !k.is_empty() {
            return Err(FormatError::Compact(
                "ECDH-ES direct key agreement has an empty JWE Encrypted Key",
            )
            .into());
        }
        let epk = match header.get("epk") {
            Some(Value::Object(epk)) => PublicJwk::from_json(epk)
                .map_err(|e| JweError::InvalidEpk(format!("epk: {}", e.code())))?,
            Some(_) => return Err(JweError::InvalidEpk("epk must be a JWK object".into()).into()),
            None => return Err(JweError::InvalidEpk("epk is missing".into()).into()),
        };
        if epk.curve() != Curve::P256 {
            return Err(JweError::InvalidEpk("epk must be a P-256 key".into()).into());
        }
        for name in ["apu", "apv", "kid"] {
            match header.get(name) {
                None | Some(Value::String(_)) => {}
                Some(_) => return Err(HeaderError::Invalid("apu, apv and kid are strings").into()),
            }
        }
        let iv = b64::decode(iv, "JWE IV")?;
        if iv.len() != 12 {
            return Err(FormatError::Compact("an AES-GCM IV is 96 bits").into());
        }
        let tag = b64::decode(t, "JWE tag")?;
        if tag.len() != 16 {
            return Err(FormatError::Compact("an AES-GCM tag is 128 bits").into());
        }
        let ciphertext = b64::decode(c, "JWE ciphertext")?;
        Ok(Self {
            protected_b64: h.to_owned(),
            header,
            enc,
            epk,
            iv,
            ciphertext,
            tag,
        })
    }

    /// The protected header.
    #[must_use]
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The `kid` header parameter: which of the recipient's keys the sender used.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The content encryption algorithm.
    #[must_use]
    pub fn enc(&self) -> ContentEncryption {
        self.enc
    }

    /// The sender's ephemeral public key (not yet validated as a point on the curve; the
    /// crypto provider does that before the agreement).
    #[must_use]
    pub fn epk(&self) -> &PublicJwk {
        &self.epk
    }

    fn party_info(&self, name: &'static str) -> Result<Vec<u8>> {
        match self.header.get(name).and_then(Value::as_str) {
            Some(text) => b64::decode(text, name),
            None => Ok(Vec::new()),
        }
    }
}

/// A decrypted JWE: the protected header and the plaintext (zeroized on drop, never
/// printed).
#[derive(Clone)]
pub struct Decrypted {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The `kid` of the key that decrypted it.
    pub kid: Option<String>,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("header", &self.header)
            .field("plaintext", &crate::error::Redacted)
            .field("kid", &self.kid)
            .finish()
    }
}

/// Decrypts JWEs addressed to a configured set of P-256 keys, accepting only configured
/// content encryption algorithms (by default A128GCM and A256GCM).
#[derive(Clone)]
pub struct Decrypter {
    keys: Vec<PrivateJwk>,
    encs: Vec<ContentEncryption>,
    provider: &'static dyn CryptoProvider,
    max_len: usize,
}

impl fmt::Debug for Decrypter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypter")
            .field("keys", &self.keys.len())
            .field("encs", &self.encs)
            .field("provider", &self.provider.name())
            .finish_non_exhaustive()
    }
}

impl Decrypter {
    /// A decrypter for `keys` (each used only for the JWEs whose `kid` names it, or for JWEs
    /// without `kid` when it is the only key), with the default provider.
    #[must_use]
    pub fn new(keys: Vec<PrivateJwk>) -> Self {
        Self {
            keys,
            encs: ContentEncryption::ALL.to_vec(),
            provider: crate::crypto::default_provider(),
            max_len: DEFAULT_MAX_LEN,
        }
    }

    /// Accepts only `encs` (e.g. those the verifier listed in
    /// `encrypted_response_enc_values_supported`).
    #[must_use]
    pub fn encs(mut self, encs: &[ContentEncryption]) -> Self {
        self.encs = encs.to_vec();
        self
    }

    /// Uses `provider` for ECDH and AES-GCM.
    #[must_use]
    pub fn provider(mut self, provider: &'static dyn CryptoProvider) -> Self {
        self.provider = provider;
        self
    }

    /// Refuses compact JWEs longer than `bytes`.
    #[must_use]
    pub fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// Parses and decrypts a compact JWE.
    ///
    /// # Errors
    /// As [`Jwe::parse_compact`]; `jwe_enc_not_allowed`; `jwe_key_unknown` when no
    /// configured key is the recipient; `invalid_epk` for a point off the curve;
    /// `jwe_decrypt_failed` when the tag does not verify.
    pub fn decrypt_compact(&self, text: &str) -> Result<Decrypted> {
        let jwe = Jwe::parse_compact_limited(text, self.max_len)?;
        self.decrypt(&jwe)
    }

    /// Decrypts a parsed JWE.
    ///
    /// # Errors
    /// As [`Decrypter::decrypt_compact`].
    pub fn decrypt(&self, jwe: &Jwe) -> Result<Decrypted> {
        if !self.encs.contains(&jwe.enc) {
            return Err(JweError::EncNotAllowed(jwe.enc.name().to_owned()).into());
        }
        let key = self.recipient_key(jwe)?;
        let z = self.provider.ecdh(key, &jwe.epk)?;
        let cek = concat_kdf(
            &z,
            jwe.enc,
            &jwe.party_info("apu")?,
            &jwe.party_info("apv")?,
        );
        let plaintext = self.provider.aead_open(
            jwe.enc,
            &cek,
            &jwe.iv,
            jwe.protected_b64.as_bytes(),
            &jwe.ciphertext,
            &jwe.tag,
        )?;
        Ok(Decrypted {
            header: jwe.header.clone(),
            plaintext,
            kid: key.public().kid().map(str::to_owned),
        })
    }

    fn recipient_key(&self, jwe: &Jwe) -> Result<&PrivateJwk> {
        let on_curve = |k: &&PrivateJwk| k.public().curve() == jwe.epk.curve();
        match jwe.kid() {
            Some(kid) => self
                .keys
                .iter()
                .filter(on_curve)
                .find(|k| k.public().kid() == Some(kid))
                .ok_or_else(|| {
                    JweError::KeyUnknown("no decryption key has this kid".into()).into()
                }),
            None => {
                let mut usable = self.keys.iter().filter(on_curve);
                match (usable.next(), usable.next()) {
                    (Some(k), None) => Ok(k),
                    (None, _) => Err(JweError::KeyUnknown(
                        "no decryption key on the epk's curve".into(),
                    )
                    .into()),
                    (Some(_), Some(_)) => Err(JweError::KeyUnknown(
                        "the JWE has no kid and several keys could decrypt it".into(),
                    )
                    .into()),
                }
            }
        }
    }
}

/// What to put into the protected header besides `alg`, `enc` and `epk`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptOptions {
    /// `kid`: the recipient key's identifier (OpenID4VP §8.3: copied from the JWK).
    pub kid: Option<String>,
    /// `apu` (Agreement PartyUInfo), raw bytes.
    pub apu: Option<Vec<u8>>,
    /// `apv` (Agreement PartyVInfo), raw bytes.
    pub apv: Option<Vec<u8>>,
    /// `typ`, if any.
    pub typ: Option<String>,
    /// `cty`, if any.
    pub cty: Option<String>,
}

impl EncryptOptions {
    /// With `kid`.
    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// With `apu` and `apv` (raw bytes; base64url-encoded into the header).
    #[must_use]
    pub fn party_info(mut self, apu: Option<Vec<u8>>, apv: Option<Vec<u8>>) -> Self {
        self.apu = apu;
        self.apv = apv;
        self
    }
}

/// Encrypts `plaintext` to the P-256 public key `recipient` with ECDH-ES and `enc`, using a
/// fresh ephemeral key and IV from `rng`; returns the compact JWE.
///
/// # Errors
/// `invalid_epk` / `invalid_key` when `recipient` is not a valid P-256 point; provider and
/// random source errors.
pub fn encrypt(
    recipient: &PublicJwk,
    enc: ContentEncryption,
    options: &EncryptOptions,
    plaintext: &[u8],
    provider: &dyn CryptoProvider,
    rng: &dyn RandomSource,
) -> Result<String> {
    if recipient.curve() != Curve::P256 {
        return Err(crate::error::KeyError::Unsupported(
            "ECDH-ES encryption is implemented for P-256 keys".into(),
        )
        .into());
    }
    let ephemeral = provider.generate(crate::jose::Algorithm::Es256, rng)?;
    let z = provider.ecdh(&ephemeral, recipient)?;
    let empty = Vec::new();
    let cek = concat_kdf(
        &z,
        enc,
        options.apu.as_ref().unwrap_or(&empty),
        options.apv.as_ref().unwrap_or(&empty),
    );
    let mut header = Map::new();
    header.insert("alg".into(), ECDH_ES.into());
    header.insert("enc".into(), enc.name().into());
    if let Some(kid) = &options.kid {
        header.insert("kid".into(), kid.clone().into());
    }
    header.insert(
        "epk".into(),
        Value::Object(ephemeral.public().minimal_json()),
    );
    if let Some(apu) = &options.apu {
        header.insert("apu".into(), b64::encode(apu).into());
    }
    if let Some(apv) = &options.apv {
        header.insert("apv".into(), b64::encode(apv).into());
    }
    if let Some(typ) = &options.typ {
        header.insert("typ".into(), typ.clone().into());
    }
    if let Some(cty) = &options.cty {
        header.insert("cty".into(), cty.clone().into());
    }
    // Serialising a map of JSON values cannot fail.
    let protected = b64::encode(&serde_json::to_vec(&header).unwrap_or_default());
    let iv = crate::rand::bytes(rng, 12)?;
    let sealed = provider.aead_seal(enc, &cek, &iv, protected.as_bytes(), plaintext)?;
    let split = sealed.len().saturating_sub(16);
    let (ciphertext, tag) = sealed.split_at(split);
    let mut out = protected;
    out.push_str("..");
    b64::encode_into(&iv, &mut out);
    out.push('.');
    b64::encode_into(ciphertext, &mut out);
    out.push('.');
    b64::encode_into(tag, &mut out);
    Ok(out)
}

/// The Concat KDF of RFC 7518 §4.6.2 over SHA-256 for direct key agreement: one round
/// suffices for keys up to 256 bits.
fn concat_kdf(z: &[u8], enc: ContentEncryption, apu: &[u8], apv: &[u8]) -> Zeroizing<Vec<u8>> {
    let bits = u32::try_from(enc.key_len() * 8).unwrap_or(u32::MAX);
    let field = |h: &mut sha2::Sha256, data: &[u8]| {
        h.update(u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(data);
    };
    let mut h = sha2::Sha256::new();
    h.update(1u32.to_be_bytes());
    h.update(z);
    field(&mut h, enc.name().as_bytes());
    field(&mut h, apu);
    field(&mut h, apv);
    h.update(bits.to_be_bytes());
    let mut out = Zeroizing::new(h.finalize().to_vec());
    out.truncate(enc.key_len());
    out
}

#[cfg(test)]
mod tests;
