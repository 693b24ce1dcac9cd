//! Links the `agent-server` binary with its relative relocations packed (`DT_RELR`) on Linux with
//! glibc: the dynamic loader reads every relocation at start-up, and about fifty thousand of them
//! in the classic form are a megabyte of the binary's pages made resident before `main`; packed,
//! they are a few kilobytes. glibc 2.36 (Debian 12) and GNU ld 2.38 or lld know the form; an
//! older ld ignores the option with a warning, and an older glibc refuses to start the binary
//! naming the missing `GLIBC_ABI_DT_RELR` rather than misbehaving.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
