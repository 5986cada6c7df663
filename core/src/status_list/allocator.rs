//! Index allocation for issuers (draft-ietf-oauth-status-list-20 §13.2, §13.3): every
//! credential gets a fresh index, never one already handed out, and drawn at random so that
//! an index does not reveal the order (and so the time) of issuance, nor link credentials
//! issued together.

use std::fmt;

use crate::error::{Result, StatusError};
use crate::rand::RandomSource;

/// The most entries an allocator (and a list) holds: a 16 MiB one-bit list.
pub const MAX_ENTRIES: u64 = (crate::status_list::DEFAULT_MAX_LIST_BYTES as u64) * 8;

/// Hands out the indices of one list of `size` entries, at random, without reuse.
///
/// The state is the set of indices already handed out: persist
/// [`IndexAllocator::allocated`] with the list and restore it with
/// [`IndexAllocator::with_allocated`], so that a restart cannot hand out an index twice.
#[derive(PartialEq, Eq)]
pub struct IndexAllocator {
    used: Vec<u64>,
    size: u64,
    count: u64,
}

impl fmt::Debug for IndexAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexAllocator")
            .field("size", &self.size)
            .field("allocated", &self.count)
            .finish()
    }
}

impl IndexAllocator {
    /// An allocator for a list of `size` entries, none handed out.
    ///
    /// # Errors
    /// `status_list_too_large` above [`MAX_ENTRIES`] (the entries of a 16 MiB one-bit list).
    pub fn new(size: u64) -> Result<Self> {
        if size > MAX_ENTRIES {
            return Err(StatusError::TooLarge(crate::status_list::DEFAULT_MAX_LIST_BYTES).into());
        }
        let words = usize::try_from(size.div_ceil(64))
            .map_err(|_| StatusError::TooLarge(crate::status_list::DEFAULT_MAX_LIST_BYTES))?;
        Ok(Self {
            used: vec![0; words],
            size,
            count: 0,
        })
    }

    /// An allocator that knows `allocated` are taken.
    ///
    /// # Errors
    /// `status_index_out_of_range` for an index outside the list.
    pub fn with_allocated(size: u64, allocated: impl IntoIterator<Item = u64>) -> Result<Self> {
        let mut a = Self::new(size)?;
        for idx in allocated {
            a.mark(idx)?;
        }
        Ok(a)
    }

    fn word(&self, idx: u64) -> (usize, u64) {
        (
            usize::try_from(idx / 64).unwrap_or(usize::MAX),
            1u64 << (idx % 64),
        )
    }

    fn is_used(&self, idx: u64) -> bool {
        let (w, bit) = self.word(idx);
        self.used.get(w).is_some_and(|x| x & bit != 0)
    }

    fn mark(&mut self, idx: u64) -> Result<()> {
        if idx >= self.size {
            return Err(StatusError::IndexOutOfRange {
                idx,
                capacity: self.size,
            }
            .into());
        }
        let (w, bit) = self.word(idx);
        if let Some(x) = self.used.get_mut(w)
            && *x & bit == 0
        {
            *x |= bit;
            self.count += 1;
        }
        Ok(())
    }

    /// The number of entries.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How many indices have been handed out.
    #[must_use]
    pub fn allocated_count(&self) -> u64 {
        self.count
    }

    /// How many remain.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        self.size - self.count
    }

    /// The indices handed out, in increasing order.
    pub fn allocated(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.size).filter(|i| self.is_used(*i))
    }

    /// A fresh index, uniformly at random among those never handed out.
    ///
    /// # Errors
    /// `status_list_full` when every index is taken (start a new list), `random_failed`.
    pub fn allocate(&mut self, rng: &dyn RandomSource) -> Result<u64> {
        let free = self.remaining();
        if free == 0 {
            return Err(StatusError::Full.into());
        }
        // Mostly free: rejection sampling, a few draws. Nearly full: pick the k-th free index.
        let draw = |rng: &dyn RandomSource, bound: u64| -> Result<u64> {
            // Uniform in 0..bound without modulo bias.
            let zone = u64::MAX - (u64::MAX % bound);
            loop {
                let b = crate::rand::bytes(rng, 8)?;
                let mut x = [0u8; 8];
                x.copy_from_slice(&b);
                let v = u64::from_le_bytes(x);
                if v < zone {
                    return Ok(v % bound);
                }
            }
        };
        if free.saturating_mul(4) >= self.size {
            for _ in 0..64 {
                let idx = draw(rng, self.size)?;
                if !self.is_used(idx) {
                    self.mark(idx)?;
                    return Ok(idx);
                }
            }
        }
        let k = draw(rng, free)?;
        let idx = (0..self.size)
            .filter(|i| !self.is_used(*i))
            .nth(usize::try_from(k).unwrap_or(usize::MAX))
            .ok_or_else(|| StatusError::Invalid("allocator state is inconsistent".into()))?;
        self.mark(idx)?;
        Ok(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;

    #[test]
    fn huge_lists_are_refused_not_allocated() {
        assert_eq!(
            IndexAllocator::new(u64::MAX).unwrap_err().code(),
            "status_list_too_large"
        );
        assert!(IndexAllocator::new(MAX_ENTRIES).is_ok());
    }

    #[test]
    fn every_index_once_then_full() {
        let mut a = IndexAllocator::new(100).unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            assert!(seen.insert(a.allocate(&OsRandom).unwrap()));
        }
        assert_eq!(seen.len(), 100);
        assert!(seen.iter().all(|i| *i < 100));
        assert_eq!(
            a.allocate(&OsRandom).unwrap_err().code(),
            "status_list_full"
        );
        // Restored state continues without reuse.
        let restored = IndexAllocator::with_allocated(100, a.allocated()).unwrap();
        assert_eq!(restored.remaining(), 0);
    }

    #[test]
    fn order_is_not_sequential() {
        let mut a = IndexAllocator::new(1 << 20).unwrap();
        let first: Vec<u64> = (0..16).map(|_| a.allocate(&OsRandom).unwrap()).collect();
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_ne!(
            first, sorted,
            "16 random draws in increasing order is (1/16!) unlikely"
        );
        assert!(first.iter().any(|i| *i > 1 << 16));
    }
}
