//! Runnable examples for the lime SDK: see `examples/` and run one with
//! `cargo run -p lime-examples --example NAME`.
