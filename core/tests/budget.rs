//! ENV-08 / G7: the worst valid-shaped presentation the default limits let through, and the
//! heap one verification of it may use (G7: under 16 MiB). Every byte the verification
//! allocates is counted, so the total is an upper bound of its peak heap; the bound holds in
//! debug and release builds alike. Time is measured by the `scaling` bench
//! (`verify/at_limits`), not here: a timed test on a shared CI machine cannot fail usefully.
//!
//! One test only: the counting allocator is global, and a second test running on another
//! thread would add its allocations to the count.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    missing_docs
)]

#[path = "common/worst_case.rs"]
mod worst_case;

use std::alloc::System;

use credkit::sd_jwt::Limits;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// G7: worst-case verification under 16 MiB of heap.
const HEAP_BUDGET: usize = 16 * 1024 * 1024;

#[test]
fn worst_case_at_the_default_limits_stays_within_the_heap_budget() {
    let limits = Limits::default();
    let (verifier, presentation) = worst_case::worst_case();
    let region = Region::new(GLOBAL);
    let verified = verifier.verify(&presentation).unwrap();
    let stats = region.change();
    assert_eq!(verified.disclosed.len(), limits.max_disclosures);
    drop(verified);
    eprintln!(
        "worst case at the default limits: {} bytes presented, {} allocations, {} bytes \
         allocated by one verification",
        presentation.len(),
        stats.allocations + stats.reallocations,
        stats.bytes_allocated,
    );
    assert!(stats.bytes_allocated < HEAP_BUDGET, "{stats:?}");
}
