//! The embedded generator (work in progress).
