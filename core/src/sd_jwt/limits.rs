//! Resource limits against denial of service, each with a safe default and its own error.

/// Bounds applied to every SD-JWT parsed, before any expensive work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Maximum size of a whole SD-JWT / presentation in bytes (default 256 KiB).
    pub max_input_bytes: usize,
    /// Maximum number of Disclosures (default 1024).
    pub max_disclosures: usize,
    /// Maximum JSON nesting depth of payloads and Disclosures (default 32).
    pub max_json_depth: usize,
    /// Maximum nesting of Disclosures inside Disclosures (default 16).
    pub max_sd_depth: usize,
    /// Maximum number of digests, decoys included (default 16384).
    pub max_digests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 256 * 1024,
            max_disclosures: 1024,
            max_json_depth: 32,
            max_sd_depth: 16,
            max_digests: 16 * 1024,
        }
    }
}
