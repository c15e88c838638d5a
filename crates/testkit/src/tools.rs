//! The gate for tests that need tools beyond cargo (Node.js and the pinned JavaScript tools, LNbits), as ldk-node
//! gates its tests against real daemons.
//!
//! Without `MESH402_TEST_TOOLS=1` such tests say that they are skipped and pass, so `cargo test` works for
//! someone who uses a crate alone. With it, which `scripts/test.sh` (and so CI) sets, they run and a missing tool
//! fails them: nothing is skipped there.

/// The variable that turns the tests needing installed tools on.
pub const TOOLS_VAR: &str = "MESH402_TEST_TOOLS";

/// Whether the tests that need installed tools run.
pub fn required() -> bool {
    std::env::var_os(TOOLS_VAR).is_some_and(|value| value == "1")
}

/// Whether a test that needs `tool` should run; if not, says so on stderr (visible with `--nocapture`).
pub fn enabled(tool: &str) -> bool {
    if required() {
        return true;
    }
    eprintln!(
        "skipped: this test needs {tool}; set {TOOLS_VAR}=1 to run it (scripts/test.sh installs the tools and sets it)"
    );
    false
}
