//! Tests that need tools beyond cargo (LNbits, PostgreSQL, an S3 server, Node.js and the pinned JavaScript tools,
//! Chromium, the Python SDKs, promtool), as ldk-node gates its tests against real daemons.
//!
//! Each such test is marked `#[ignore = "needs …"]`: a plain `cargo test` runs everything else and lists these as
//! ignored, never as passed. `scripts/test.sh` (and so CI) installs the tools and runs them with
//! `cargo test -- --include-ignored`; there a missing tool fails its test with a message that says what to install.

use std::ffi::OsString;

/// The variable the test script sets; the generator's glTF-Validator check reads it to refuse its Rust stand-in.
pub const TOOLS_VAR: &str = "MESH402_TEST_TOOLS";

/// The tool named by the environment variable `variable` (set by scripts/test.sh); panics, naming `what`, when
/// it is not set.
pub fn path(variable: &str, what: &str) -> OsString {
    std::env::var_os(variable).unwrap_or_else(|| {
        panic!("this test needs {what}: {variable} must name it (scripts/test.sh installs it and sets the variable)")
    })
}
