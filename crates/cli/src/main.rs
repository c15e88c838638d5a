//! The `mesh402` binary.

fn main() {}
