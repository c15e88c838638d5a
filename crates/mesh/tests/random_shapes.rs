//! Random silhouettes (unions of discs and bars with random holes, touching the frame or not, in one piece or
//! several): every run gives a closed model within the cap, one closed body per part, or a client error, never an
//! internal failure or a panic.

mod common;

use common::*;
use image::RgbaImage;
use mesh402_core::{ImageKind, MeshParams, Mode};
use mesh402_mesh::generate;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random_shape(rng: &mut Rng) -> RgbaImage {
    let (w, h) = (120 + (rng.next() * 300.0) as u32, 120 + (rng.next() * 300.0) as u32);
    let mut parts = Vec::new();
    for _ in 0..1 + (rng.next() * 5.0) as usize {
        let kind = rng.next() < 0.6;
        let (cx, cy) = (rng.next() * f64::from(w), rng.next() * f64::from(h));
        let (a, b) = (4.0 + rng.next() * f64::from(w) * 0.4, 4.0 + rng.next() * f64::from(h) * 0.4);
        parts.push((kind, cx, cy, a, b, rng.next() < 0.25));
    }
    RgbaImage::from_fn(w, h, |x, y| {
        let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
        let mut inside = false;
        for &(disc, cx, cy, a, b, hole) in &parts {
            let hit = if disc {
                ((px - cx) / a).powi(2) + ((py - cy) / b).powi(2) < 1.0
            } else {
                (px - cx).abs() < a && (py - cy).abs() < b * 0.3
            };
            if hit {
                inside = !hole;
            }
        }
        if inside {
            image::Rgba([(x * 7 % 200) as u8 + 30, 90, (y * 5 % 200) as u8, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    })
}

#[test]
fn random_silhouettes_make_valid_models_or_client_errors() {
    let mut rng = Rng(7);
    let (mut ok, mut refused) = (0, 0);
    for case in 0..60 {
        let image = random_shape(&mut rng);
        let target = [500u32, 2_000, 20_000][case % 3];
        let mode = if case % 4 == 3 { Mode::Extrude } else { Mode::Inflate };
        let params = MeshParams { target_faces: target, mode, ..Default::default() };
        let bytes = png_bytes(&image);
        match generate(&bytes, ImageKind::Png, &params, &mut |_| {}) {
            Ok(model) => {
                let glb = read_glb(&model.files[0].bytes);
                let topo = topology(&glb.positions, &glb.tris);
                assert!(
                    topo.watertight_oriented
                        && topo.vertex_manifold
                        && topo.components as u32 == model.stats.n_parts
                        && topo.volume > 0.0,
                    "case {case}: {topo:?}, {} parts",
                    model.stats.n_parts
                );
                assert!(glb.tris.len() as u32 <= target, "case {case}: {} faces over {target}", glb.tris.len());
                ok += 1;
            }
            Err(err) => {
                assert!(err.is_client_error(), "case {case}: internal failure {err}");
                refused += 1;
            }
        }
    }
    assert!(ok >= 40, "{ok} models, {refused} refused");
}
