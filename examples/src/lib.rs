//! credkit examples (see the `examples/` targets).
