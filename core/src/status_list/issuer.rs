//! An issuer's status list: the list, its index allocator and its publication URI together
//! (draft-ietf-oauth-status-list-20 §5, §6, §13).

use serde_json::{Map, Value};

use crate::crypto::Signer;
use crate::error::Result;
use crate::rand::RandomSource;
use crate::status_list::{
    Bits, IndexAllocator, Status, StatusList, StatusListTokenBuilder, status_claim,
};

/// One list an issuer maintains: hand out an index per credential, change statuses, publish
/// signed tokens.
///
/// ```
/// # fn main() -> credkit::Result<()> {
/// use credkit::crypto::default_provider;
/// use credkit::jose::Algorithm;
/// use credkit::rand::OsRandom;
/// use credkit::status_list::{Bits, IssuerStatusList, Status};
///
/// let key = default_provider().generate(Algorithm::Es256, &OsRandom)?;
/// let signer = default_provider().signer(&key)?;
/// let mut list = IssuerStatusList::new("https://issuer.example/status/1", Bits::new(2)?, 100_000)?;
/// let (idx, status_claim) = list.allocate(&OsRandom)?; // put status_claim in the credential
/// list.set(idx, Status::Suspended)?;
/// let token = list.sign_jwt(1_800_000_000, 3600, 86_400, &*signer)?;
/// # let _ = (status_claim, token);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct IssuerStatusList {
    uri: String,
    list: StatusList,
    allocator: IndexAllocator,
}

impl IssuerStatusList {
    /// A list of `size` entries of `bits` bits, published at `uri`.
    ///
    /// # Errors
    /// `status_list_too_large`.
    pub fn new(uri: impl Into<String>, bits: Bits, size: u64) -> Result<Self> {
        let list = StatusList::new(bits, usize::try_from(size).unwrap_or(usize::MAX))?;
        Ok(Self {
            uri: uri.into(),
            list,
            allocator: IndexAllocator::new(size)?,
        })
    }

    /// Restores a list and the indices already handed out.
    ///
    /// # Errors
    /// `status_list_invalid` when the allocator hands out indices beyond the list.
    pub fn from_parts(
        uri: impl Into<String>,
        list: StatusList,
        allocator: IndexAllocator,
    ) -> Result<Self> {
        if allocator.size() > list.capacity() as u64 {
            return Err(crate::error::StatusError::Invalid(
                "the allocator is larger than the list".into(),
            )
            .into());
        }
        Ok(Self {
            uri: uri.into(),
            list,
            allocator,
        })
    }

    /// The URI the list is published at.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The list.
    #[must_use]
    pub fn list(&self) -> &StatusList {
        &self.list
    }

    /// The allocator (persist its state with the list).
    #[must_use]
    pub fn allocator(&self) -> &IndexAllocator {
        &self.allocator
    }

    /// A fresh random index for a new credential and the `status` claim that references it.
    ///
    /// # Errors
    /// As [`IndexAllocator::allocate`].
    pub fn allocate(&mut self, rng: &dyn RandomSource) -> Result<(u64, Map<String, Value>)> {
        let idx = self.allocator.allocate(rng)?;
        Ok((idx, status_claim(idx, &self.uri)))
    }

    /// Changes the status of entry `idx`.
    ///
    /// # Errors
    /// As [`StatusList::set`].
    pub fn set(&mut self, idx: u64, status: Status) -> Result<()> {
        self.list.set(idx, status)
    }

    /// A token builder for this list (`sub` = its URI), issued at `now`; add `ttl` and `exp`.
    pub fn token(&self, now: i64) -> StatusListTokenBuilder {
        StatusListTokenBuilder::new(self.uri.clone(), now)
    }

    /// Signs the current list as a JWT issued at `now`, cacheable for `ttl` seconds and
    /// expiring `validity` seconds after `now`.
    ///
    /// # Errors
    /// The signer's errors; `status_list_token_invalid` for a zero `ttl`.
    pub fn sign_jwt(
        &self,
        now: i64,
        ttl: u64,
        validity: u64,
        signer: &dyn Signer,
    ) -> Result<String> {
        self.token(now)
            .ttl(ttl)
            .expires_at(now.saturating_add(i64::try_from(validity).unwrap_or(i64::MAX)))
            .sign_jwt(&self.list, signer)
    }
}
