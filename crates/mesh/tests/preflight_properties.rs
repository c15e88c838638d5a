//! The checks an unpaid request reaches before any invoice (`preflight`: the header's limits, the structural check
//! of large files, the decode of small ones), fed any bytes under each declared kind and a valid picture with bytes
//! changed. Every input gets an answer, never a panic; a garbled picture is refused as the client's fault.

use mesh402_core::{ImageKind, MeshParams};
use mesh402_mesh::preflight;
use proptest::prelude::*;

/// A small valid PNG: a disc on a transparent background.
fn disc_png() -> Vec<u8> {
    let image = image::RgbaImage::from_fn(48, 48, |x, y| {
        let inside = (x as f32 - 24.0).powi(2) + (y as f32 - 24.0).powi(2) < 300.0;
        if inside { image::Rgba([200, 90, 30, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).expect("a PNG in memory");
    bytes
}

const KINDS: [ImageKind; 3] = [ImageKind::Png, ImageKind::Jpeg, ImageKind::Webp];

#[test]
fn the_valid_picture_passes() {
    assert!(preflight(&disc_png(), ImageKind::Png, &MeshParams::default()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_get_an_answer(bytes in prop::collection::vec(any::<u8>(), 0..2048), kind in 0usize..3) {
        let _ = preflight(&bytes, KINDS[kind], &MeshParams::default());
    }

    #[test]
    fn a_picture_with_bytes_changed_gets_an_answer(
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = disc_png();
        for (index, byte) in changes {
            let at = index.index(bytes.len());
            bytes[at] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Err(error) = preflight(&bytes, ImageKind::Png, &MeshParams::default()) {
            prop_assert!(error.is_client_error(), "a garbled picture is the client's fault: {error}");
        }
    }
}
