//! Fuzzes the unpaid image check: any bytes, declared as each of PNG, JPEG and WebP, must be accepted or refused
//! with a client error, never panic or allocate past the limits. Two parts, as `preflight` has them: the header
//! check, full decode and blank/noise check of a small picture (`preflight_with_limits`, with limits of 16 K
//! pixels so that a header declaring a larger picture is refused before a slow decode: the code is the same, only
//! the limits' values differ), and the structural check that a picture over two megapixels gets instead of a decode
//! (`check_structure`, fed every input directly rather than only those whose header declares that size).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh402_core::{ImageKind, ImageLimits, MeshParams};
use mesh402_mesh::{check_structure, preflight_with_limits};

fuzz_target!(|data: &[u8]| {
    let params = MeshParams::default();
    let limits = ImageLimits { max_dimension: 1024, max_pixels: 16 * 1024 };
    for kind in [ImageKind::Png, ImageKind::Jpeg, ImageKind::Webp] {
        match preflight_with_limits(data, kind, &params, &limits) {
            Ok(found) => {
                assert!(found.width > 0 && u64::from(found.width) * u64::from(found.height) <= limits.max_pixels)
            }
            Err(error) => assert!(error.is_client_error(), "{kind:?}: {error}"),
        }
        if let Err(error) = check_structure(data, kind) {
            assert!(error.is_client_error(), "{kind:?}: {error}");
        }
    }
});
