//! Links the `mama` binary with packed relative relocations (`DT_RELR`) where
//! the C library loads them (glibc 2.36 and later, e.g. Debian bookworm, the
//! image's base). A position-independent binary carries one 24-byte entry per
//! pointer the loader must fix at start; mama's 74,473 took a 1.8 MB table that
//! stayed mapped after start. Packed, they take 27 KB: the segment that held the
//! table went from 3.4 to 1.85 MB resident, nothing else changed (README, "Runs
//! of 4 Dec 2026").
//!
//! Only for a native build on glibc: a binary linked this way does not start
//! under an older glibc, so a build whose C library cannot load it (or whose
//! version cannot be read) links as before.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let target = var("TARGET");
    let native_gnu = target == var("HOST") && target.ends_with("-linux-gnu");
    if native_gnu && glibc_version().is_some_and(|v| v >= (2, 36)) {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The build machine's glibc (`getconf GNU_LIBC_VERSION` says `glibc 2.36`).
fn glibc_version() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    Some((major.parse().ok()?, minor.split('.').next()?.parse().ok()?))
}
