//! mesh402-server (work in progress).
