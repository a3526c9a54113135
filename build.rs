//! Links the `qstash` binary as a position-dependent executable on Linux with glibc.
//!
//! In a position-independent executable the dynamic loader rewrites every pointer in the
//! read-only data tables at start (the time-zone database, TLS roots, vtables: 1.4 MB here),
//! which makes each of those pages private and resident. Linked without PIE they stay clean
//! pages of the file, read only when used: idle resident memory drops by about 1.9 MB (see
//! BENCHMARKS.md). Other targets (macOS requires PIE; the musl release builds) keep their
//! defaults.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
