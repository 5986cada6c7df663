//! What a mobile wallet embeds: verified credentials kept in an encrypted store, bound to
//! keys the platform holds, received and presented in batches.
//!
//! - [`KeyManager`]: the host's Secure Enclave / StrongBox / KMS creates keys and signs;
//!   [`SoftwareKeyManager`] for tests and servers; [`ManagedKey`] adapts a key to [`Signer`](crate::crypto::Signer).
//! - [`CredentialStore`]: [`MemoryStore`], and [`SqliteStore`] (feature `sqlite`): SQLite in
//!   WAL mode, each record encrypted with XChaCha20-Poly1305 under the host's [`StoreKey`].
//! - [`Wallet`]: adds only credentials that verify and are bound to its keys (RFC 9901
//!   §7.2, SD-JWT VC §2.4), holds batch copies (one key each) and presents them one-time or
//!   in rotation ([`UsePolicy`]), and answers DCQL queries with a consent summary per
//!   candidate ([`Wallet::query`]).

mod holder;
mod keys;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

pub use holder::{ConsentCandidate, HeldCredential, QueryAnswer, UsePolicy, Wallet};
pub use keys::{KeyManager, ManagedKey, SoftwareKeyManager};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteKeyManager, SqliteStore};
pub use store::{CredentialStore, MemoryStore, StoreKey, StoredCredential};
