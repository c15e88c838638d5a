//! Real photos from scikit-image's sample data (see tests/fixtures/SOURCES.md): each becomes a closed model that
//! passes the Khronos validator and whose front silhouette matches an independent reference mask.

mod common;

use common::*;
use mesh402_core::{ImageKind, MeshParams};
use mesh402_mesh::generate;

fn photo(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn check_photo(name: &str, kind: ImageKind, reference: impl Fn([u8; 3]) -> bool) {
    let bytes = photo(name);
    let model = generate(&bytes, kind, &MeshParams::default(), &mut |_| {})
        .unwrap_or_else(|err| panic!("{name}: {err} ({})", err.code()));
    let glb = read_glb(&model.files[0].bytes);
    let topo = topology(&glb.positions, &glb.tris);
    assert!(topo.watertight_oriented && topo.vertex_manifold, "{name}: {topo:?}");
    assert_eq!(topo.components, 1, "{name}: {topo:?}");
    assert!(topo.euler <= 2 && topo.euler % 2 == 0, "{name}: {topo:?}");
    assert!(topo.volume > 0.0);
    assert!(glb.tris.len() <= 20_000);
    let image = image::load_from_memory(&bytes).expect("decode").to_rgb8();
    let (w, h) = (image.width() as usize, image.height() as usize);
    let truth: Vec<bool> = image.pixels().map(|p| reference(p.0)).collect();
    let iou = silhouette_iou_mask(&glb.positions, &glb.tris, &truth, w, h);
    assert!(iou >= 0.97, "{name}: silhouette IoU {iou}");
    validate_with_khronos(&model.files[0].bytes, name);
}

#[test]
fn horse_silhouette() {
    // A black horse on white: the reference mask is the dark pixels.
    check_photo("horse.png", ImageKind::Png, |p| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) < 384);
}

#[test]
fn horse_as_lossy_webp_with_alpha() {
    // The same horse, re-encoded as lossy WebP (VP8 with an ALPH chunk); lossy ringing must not break the mask.
    check_photo("horse-lossy.webp", ImageKind::Webp, |p| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) < 384);
}

#[test]
fn retina_on_black() {
    // A fundus photograph on a black surround: the reference mask is the non-black pixels.
    check_photo("retina.jpg", ImageKind::Jpeg, |p| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) > 60);
}

#[test]
fn photos_honour_every_cap_in_both_modes() {
    use mesh402_core::Mode;
    for (name, kind) in [("horse.png", ImageKind::Png), ("retina.jpg", ImageKind::Jpeg)] {
        let bytes = photo(name);
        for target in [500u32, 1_000, 5_000, 60_000] {
            for mode in [Mode::Inflate, Mode::Extrude] {
                let params = MeshParams { target_faces: target, mode, ..Default::default() };
                let label = format!("{name} {mode:?} cap {target}");
                let model = generate(&bytes, kind, &params, &mut |_| {}).unwrap_or_else(|err| panic!("{label}: {err}"));
                let glb = read_glb(&model.files[0].bytes);
                assert!(glb.tris.len() as u32 <= target, "{label}: {} faces", glb.tris.len());
                let topo = topology(&glb.positions, &glb.tris);
                assert!(topo.watertight_oriented && topo.vertex_manifold && topo.components == 1, "{label}: {topo:?}");
                if target == 1_000 {
                    validate_with_khronos(&model.files[0].bytes, &format!("{name}-{mode:?}-{target}"));
                }
            }
        }
    }
}
