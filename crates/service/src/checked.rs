//! Pictures that passed the preflight, by the digest of the request they came in: a client that sends the same
//! picture again unpaid (a retry after its invoice expired, the web page's quote before its order, a flood of one
//! photo) is checked by a lookup instead of a second decode. The preflight's verdict depends only on the request
//! (the picture's bytes, their declared kind and the options, all of which the digest covers) and on the
//! generator, which does not change while the service runs; a digest is SHA-256, so no other request shares it.
//!
//! Only pictures that passed are kept (a refusal is an error the client must see decoded afresh), at most
//! [`CAPACITY`], the oldest leaving first: a miss costs one decode.

use std::sync::Mutex;

use mesh402_core::Preflight;
use mesh402_l402::RequestBinding;

use crate::bounded::FifoMap;

/// How many checked pictures are remembered (an entry is a digest and two sizes; with the map's buckets and the
/// queue of keys, the whole stays under a megabyte).
pub(crate) const CAPACITY: usize = 4096;

/// Preflight verdicts of pictures that passed, by request digest.
#[derive(Debug)]
pub(crate) struct CheckedPictures {
    passed: Mutex<FifoMap<RequestBinding, Preflight>>,
}

impl CheckedPictures {
    pub(crate) fn new() -> CheckedPictures {
        CheckedPictures { passed: Mutex::new(FifoMap::new(CAPACITY)) }
    }

    /// The verdict of the request with digest `binding`, if it passed before.
    pub(crate) fn get(&self, binding: &RequestBinding) -> Option<Preflight> {
        self.passed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(binding).copied()
    }

    /// Remembers that the request with digest `binding` passed with `checked`.
    pub(crate) fn remember(&self, binding: RequestBinding, checked: Preflight) {
        self.passed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(binding, checked);
    }
}
