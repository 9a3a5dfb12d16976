//! Tells the crate whether it is compiled with optimizations: a user's
//! `cargo run` builds dependencies at `opt-level = 0`, where the solver is
//! about 150 times slower, and the crate says so (a WARN at first solve, and
//! in `BUILT_UNOPTIMIZED`). `debug_assertions` cannot tell: it stays on when
//! a user raises only this crate's `opt-level`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lime_pow_unoptimized)");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    if std::env::var("OPT_LEVEL").is_ok_and(|level| level == "0") {
        println!("cargo::rustc-cfg=lime_pow_unoptimized");
    }
}
