//! mesh402-store (work in progress).
