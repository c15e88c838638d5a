//! Fuzzes the unpaid image check (`preflight`): any bytes, declared as each of PNG, JPEG and WebP, must be accepted
//! or refused with a client error, never panic or allocate past the limits. Small pictures are decoded in full;
//! a header that declares more than two megapixels sends the bytes through the structural check instead, which
//! the seed corpus reaches with large, well-compressed pictures.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh402_core::{ImageKind, MeshParams};
use mesh402_mesh::preflight;

fuzz_target!(|data: &[u8]| {
    let params = MeshParams::default();
    for kind in [ImageKind::Png, ImageKind::Jpeg, ImageKind::Webp] {
        match preflight(data, kind, &params) {
            Ok(found) => assert!(found.width > 0 && found.height > 0),
            Err(error) => assert!(error.is_client_error(), "{kind:?}: {error}"),
        }
    }
});
