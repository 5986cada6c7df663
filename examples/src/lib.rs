#![doc = include_str!("../../README.md")]
//!
//! (This crate holds the runnable examples; its docs are the workspace README, whose Rust
//! example runs as a doc test.)
