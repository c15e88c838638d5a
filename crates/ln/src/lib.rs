//! mesh402-ln (work in progress).
