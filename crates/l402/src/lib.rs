//! The L402 protocol core (work in progress).
