//! ENV-08 / G7: the worst valid-shaped presentations the default limits let through (the
//! most Disclosures, nested as deep as allowed; the most JSON values per byte), and the heap
//! one verification of each may use (G7: under 16 MiB). The count is every byte allocated
//! during the verification (fresh allocations and the growth of reallocations), which bounds
//! its peak heap up to the transient copy of one reallocation; it is the same in debug and
//! release builds. Time is measured by the `scaling` bench (`verify/at_limits/*`), not here:
//! a timed test on a shared CI machine cannot fail usefully.
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

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// G7: worst-case verification under 16 MiB of heap.
const HEAP_BUDGET: usize = 16 * 1024 * 1024;

#[test]
fn worst_cases_at_the_default_limits_stay_within_the_heap_budget() {
    for (name, (verifier, presentation), disclosed) in [
        ("many disclosures", worst_case::many_disclosures(), 1024),
        ("dense values", worst_case::dense_values(), 1),
    ] {
        let region = Region::new(GLOBAL);
        let verified = verifier.verify(&presentation).unwrap();
        let stats = region.change();
        assert_eq!(verified.disclosed.len(), disclosed, "{name}");
        drop(verified);
        eprintln!(
            "{name}: {} bytes presented, {} allocations, {} bytes allocated by one verification",
            presentation.len(),
            stats.allocations + stats.reallocations,
            stats.bytes_allocated,
        );
        assert!(stats.bytes_allocated < HEAP_BUDGET, "{name}: {stats:?}");
    }
}
