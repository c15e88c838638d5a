//! mesh402-service (work in progress).
