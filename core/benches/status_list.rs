//! Token Status List at national scale: lists of 10^6 and 10^7 one-bit entries with 0 %, 0.1 %,
//! 1 % and 10 % of entries revoked at random positions: encode (ZLIB best, base64url), decode
//! (base64url, bounded inflate) and one lookup. The compressed sizes are printed once per
//! case.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::hint::black_box;
use std::time::Duration;

use credkit::rand::{OsRandom, RandomSource};
use credkit::status_list::{Bits, DEFAULT_MAX_LIST_BYTES, Status, StatusList};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// A list of `size` one-bit entries with `per_mille` / 1000 of them INVALID at random indices.
fn list(size: u64, per_mille: u64) -> StatusList {
    let mut l = StatusList::new(Bits::new(1).unwrap(), size as usize).unwrap();
    let revoked = size * per_mille / 1000;
    let mut buf = [0u8; 8];
    for _ in 0..revoked {
        OsRandom.fill(&mut buf).unwrap();
        let idx = u64::from_le_bytes(buf) % size;
        l.set(idx, Status::Invalid).unwrap();
    }
    l
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("status_list");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    for size in [1_000_000u64, 10_000_000] {
        for per_mille in [0u64, 1, 10, 100] {
            let l = list(size, per_mille);
            let json = l.to_json();
            let lst = json["lst"].as_str().unwrap().to_owned();
            println!(
                "size {size} revoked {:.1}%: {} bytes raw, lst {} bytes ({:.2}% of raw)",
                per_mille as f64 / 10.0,
                l.as_bytes().len(),
                lst.len(),
                lst.len() as f64 * 100.0 / l.as_bytes().len() as f64
            );
            let id = format!("{size}/{}permille", per_mille);
            g.bench_with_input(BenchmarkId::new("encode", &id), &l, |b, l| {
                b.iter(|| black_box(l.to_json()));
            });
            g.bench_with_input(BenchmarkId::new("decode", &id), &json, |b, j| {
                b.iter(|| black_box(StatusList::from_json(j, DEFAULT_MAX_LIST_BYTES).unwrap()));
            });
            g.bench_with_input(BenchmarkId::new("lookup", &id), &l, |b, l| {
                b.iter(|| black_box(l.status(black_box(size / 2)).unwrap()));
            });
        }
    }
    g.finish();
}

criterion_group!(status, benches);
criterion_main!(status);
