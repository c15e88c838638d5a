//! The scene fixtures (`tests/fixtures/scenes`, see its SOURCES.md): matted objects on busy photographs, several-part
//! logos and shapes, a real photo, pictures with no object, and the hard kinds (pale on pale, thin, small, busy,
//! inner details, one built to be ambiguous), each with an exact ground-truth mask. Every picture with an object
//! becomes a model that is closed, manifold, validator-clean, made of its ground truth's parts, and whose front
//! silhouette matches the ground truth; the pictures without one are refused before payment, the ambiguous one
//! after it (`object_unclear`, which the service reports as `generation_rejected` with a refund).
//!
//! `cargo test -p mesh402-mesh --test scenes -- --nocapture` prints the table of silhouette IoU per fixture, with
//! the path each took and its confidence; with `MESH402_SCENES_REPORT=1` it also gives the IoU of each mask source
//! alone (the learned one with a single look, as before the closer look).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use mesh402_core::{ImageKind, MaskSource, MeshParams};
use mesh402_mesh::{generate, preflight, segment, segment_with};

#[derive(serde::Deserialize)]
struct Listing {
    scenes: Vec<Scene>,
}

#[derive(serde::Deserialize)]
struct Scene {
    name: String,
    file: String,
    mask: String,
    media_type: String,
    category: String,
    expect: String,
    parts: u32,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenes")
}

fn scenes() -> Vec<Scene> {
    let text = std::fs::read_to_string(dir().join("scenes.json")).expect("scenes.json");
    let listing: Listing = serde_json::from_str(&text).expect("scenes.json parses");
    listing.scenes
}

/// The ground truth at full resolution: mask value ≥ 128.
fn truth(scene: &Scene) -> (Vec<bool>, usize, usize) {
    let mask = image::open(dir().join(&scene.mask)).expect("mask").to_luma8();
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    (mask.pixels().map(|p| p.0[0] >= 128).collect(), w, h)
}

/// IoU of the segmentation (at its reduced resolution) against the ground truth reduced the same way.
fn mask_iou(seg: &mesh402_mesh::Segmentation, truth: &[bool], w: usize) -> f64 {
    let f = seg.factor as usize;
    let (sw, sh) = (seg.width as usize, seg.height as usize);
    let (mut inter, mut union) = (0usize, 0usize);
    for y in 0..sh {
        for x in 0..sw {
            let inside = (0..f)
                .flat_map(|dy| (0..f).map(move |dx| (dx, dy)))
                .filter(|&(dx, dy)| truth[(y * f + dy) * w + x * f + dx])
                .count();
            let t = inside * 2 >= f * f;
            let s = seg.object[y * sw + x];
            inter += usize::from(t && s);
            union += usize::from(t || s);
        }
    }
    inter as f64 / union.max(1) as f64
}

/// The box of the segmentation in the picture's pixels: where the generator put the model's bounding box.
fn framing_box(seg: &mesh402_mesh::Segmentation) -> [f64; 4] {
    let (sw, f) = (seg.width as usize, f64::from(seg.factor));
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for (i, _) in seg.object.iter().enumerate().filter(|(_, o)| **o) {
        let (x, y) = ((i % sw) as f64, (i / sw) as f64);
        b = [b[0].min(x), b[1].min(y), b[2].max(x + 1.0), b[3].max(y + 1.0)];
    }
    b.map(|v| v * f)
}

/// The least silhouette IoU a fixture of `category` must reach. Drawn logos and shapes on plain backgrounds have
/// exact edges (the colour model or alpha finds them to the pixel; what is lost is the outline's smoothing at
/// the face budget): 0.93. Pale objects on pale backdrops and a drawing whose inner surfaces have the backdrop's
/// colour are found by the colour model, the shadow rule and the hole rule to within a few pixels of edge: they
/// reach 0.98 and above, and 0.93 fails any lost leg, filled handle or hollowed belly. Composited photos are
/// judged by what a buyer would call faithful: the object's shape and parts kept, a few pixels of edge error
/// allowed around fur and leaves. The network sees the picture at 320², so the thinnest parts of a small object
/// (a mantis's 1–2 px antennae, a cement mixer's tubes) are lost even with the closer look: those reach 0.81 and
/// 0.88, the others 0.87 (the bassoon's crook) to 0.99. 0.78 holds all of them with a margin for floating-point
/// differences between CPUs; a wrong object or a missing part falls far below.
///
/// Small objects are held to 0.90: their models follow their masks (the bee 0.97 → 0.96, the strawberry
/// 0.94 → 0.94) since the outline keeps parts one or two pixels wide; before that, the smoothing shortened the bee's
/// legs, and the model, framed by its own extent, was moved and stretched by a few pixels: 0.71 at 1.5 % of the
/// frame. Their masks are also held to [`MIN_SMALL_MASK_IOU`] so that the segmentation's gain is kept.
///
/// The butterfly on autumn leaves of its own colours is held to the composited photos' bound like the others: the
/// closer look alone takes the maple leaf beside it for part of the object (0.60 before the wide look was asked
/// to confirm what the crop adds; 0.94 since).
fn threshold(scene: &Scene) -> f64 {
    match scene.category.as_str() {
        "small" => 0.90,
        "several-parts" | "pale" | "inner-detail" => 0.93,
        _ => 0.78,
    }
}

/// The least mask IoU of the small and thin fixtures: what the closer look gains (the bee 0.92 → 0.97, the bassoon
/// 0.32 → 0.87) must not be lost.
const MIN_SMALL_MASK_IOU: f64 = 0.85;

#[test]
fn every_scene_becomes_a_faithful_model_or_is_refused() {
    let mut failures = Vec::new();
    let mut table = String::from(
        "fixture | source | closer look | confidence | parts (truth) | mask IoU | model IoU | model IoU, truth's box | \
         colour alone | learned alone, one look\n",
    );
    for scene in scenes() {
        let bytes = std::fs::read(dir().join(&scene.file)).expect("fixture");
        let kind = ImageKind::from_media_type(&scene.media_type).expect("kind");
        if scene.expect == "no_object_found" {
            for (stage, result) in [
                ("preflight", preflight(&bytes, kind, &MeshParams::default()).map(|_| ())),
                ("generate", generate(&bytes, kind, &MeshParams::default(), &mut |_| {}).map(|_| ())),
            ] {
                match result {
                    Err(err) if err.code() == "no_object_found" => {}
                    other => failures.push(format!("{}: {stage} should refuse, got {:?}", scene.name, other.err())),
                }
            }
            table.push_str(&format!("{} | refused | — | — | —\n", scene.name));
            continue;
        }
        if scene.expect == "generation_rejected" {
            // Built to be ambiguous (or with an outline no evidence shows): cheap checks accept it (an invoice is
            // made), the paid generation refuses it.
            if let Err(err) = preflight(&bytes, kind, &MeshParams::default()) {
                failures.push(format!("{}: preflight should accept, got {err}", scene.name));
            }
            match generate(&bytes, kind, &MeshParams::default(), &mut |_| {}) {
                Err(err) if err.code() == "object_unclear" && err.is_client_error() => {
                    table.push_str(&format!("{} | refused after payment: {err} | — | — | —\n", scene.name));
                }
                other => failures.push(format!("{}: generation should be refused, got {:?}", scene.name, other.err())),
            }
            continue;
        }
        let (truth, w, h) = truth(&scene);
        let seg = match segment(&bytes, kind) {
            Ok(seg) => seg,
            Err(err) => {
                failures.push(format!("{}: segmentation refused: {err}", scene.name));
                continue;
            }
        };
        let model = match generate(&bytes, kind, &MeshParams::default(), &mut |_| {}) {
            Ok(model) => model,
            Err(err) => {
                failures.push(format!("{}: generation failed: {err}", scene.name));
                continue;
            }
        };
        let glb = read_glb(&model.files[0].bytes);
        let topo = topology(&glb.positions, &glb.tris);
        let m_iou = mask_iou(&seg, &truth, w);
        let s_iou = silhouette_iou_in_box(&glb.positions, &glb.tris, &truth, w, h, framing_box(&seg));
        // The box-to-box alignment the photo tests use: a part missing or added moves the whole render.
        let t_iou = silhouette_iou_mask(&glb.positions, &glb.tris, &truth, w, h);
        // Each source alone, for the report only (`MESH402_SCENES_REPORT=1`): it runs the network twice more.
        let report = std::env::var_os("MESH402_SCENES_REPORT").is_some();
        let alone = |source| {
            if !report {
                return "—".to_owned();
            }
            match segment_with(&bytes, kind, Some(source)) {
                Ok(seg) => format!("{:.3}", mask_iou(&seg, &truth, w)),
                Err(_) => "refused".to_owned(),
            }
        };
        table.push_str(&format!(
            "{} | {} | {} | {:.2} | {} ({}) | {m_iou:.3} | {s_iou:.3} | {t_iou:.3} | {} | {}\n",
            scene.name,
            model.stats.mask_source.name(),
            if seg.looked_closer { "yes" } else { "no" },
            seg.confidence,
            model.stats.n_parts,
            scene.parts,
            alone(MaskSource::Colour),
            alone(MaskSource::Learned),
        ));
        if !(topo.watertight_oriented && topo.vertex_manifold && topo.volume > 0.0) {
            failures.push(format!("{}: not a closed manifold: {topo:?}", scene.name));
        }
        if topo.components as u32 != model.stats.n_parts {
            failures.push(format!("{}: {} bodies but {} parts", scene.name, topo.components, model.stats.n_parts));
        }
        if glb.tris.len() > MeshParams::default().target_faces as usize {
            failures.push(format!("{}: {} faces over the cap", scene.name, glb.tris.len()));
        }
        if scene.category == "several-parts" && model.stats.n_parts != scene.parts {
            failures.push(format!("{}: {} parts, the truth has {}", scene.name, model.stats.n_parts, scene.parts));
        }
        if matches!(scene.category.as_str(), "small" | "thin") && m_iou < MIN_SMALL_MASK_IOU {
            failures.push(format!("{}: mask IoU {m_iou:.3} under {MIN_SMALL_MASK_IOU}", scene.name));
        }
        if s_iou < threshold(&scene) {
            failures.push(format!("{}: silhouette IoU {s_iou:.3} under {}", scene.name, threshold(&scene)));
        }
        let (passed, report) = run_khronos(&model.files[0].bytes, &scene.name);
        if !passed {
            failures.push(format!("{}: glTF-Validator: {report}", scene.name));
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{}\n{table}", failures.join("\n"));
}

#[test]
fn cluttered_scenes_use_the_network_and_plain_ones_the_colour_model() {
    for (name, expected) in [
        ("bear_forest_border", MaskSource::Learned),
        ("cementmixer_jetty", MaskSource::Learned),
        ("toy_dropshadow_plain", MaskSource::Colour),
        ("shapes_six_black", MaskSource::Colour),
    ] {
        let scene = scenes().into_iter().find(|s| s.name == name).expect("listed");
        let bytes = std::fs::read(dir().join(&scene.file)).expect("fixture");
        let kind = ImageKind::from_media_type(&scene.media_type).expect("kind");
        let seg = segment(&bytes, kind).expect("segment");
        assert_eq!(seg.source, expected, "{name}");
    }
}

#[test]
fn small_and_thin_objects_get_a_closer_look_and_large_ones_do_not() {
    for (name, closer) in [
        ("bassoon_dusk_thin", true),
        ("bee_small_leaves", true),
        ("strawberry_small_grass", true),
        ("bear_forest_border", false),
        ("anemone_large_moss", false),
    ] {
        let scene = scenes().into_iter().find(|s| s.name == name).expect("listed");
        let bytes = std::fs::read(dir().join(&scene.file)).expect("fixture");
        let kind = ImageKind::from_media_type(&scene.media_type).expect("kind");
        let seg = segment(&bytes, kind).expect("segment");
        assert_eq!(seg.source, MaskSource::Learned, "{name}");
        assert_eq!(seg.looked_closer, closer, "{name}");
        assert!(seg.confidence >= 0.99, "{name}: {}", seg.confidence);
    }
}

#[test]
fn the_network_path_is_byte_identical_on_reruns() {
    let scene = scenes().into_iter().find(|s| s.name == "cementmixer_jetty").expect("listed");
    let bytes = std::fs::read(dir().join(&scene.file)).expect("fixture");
    let run = || generate(&bytes, ImageKind::Jpeg, &MeshParams::default(), &mut |_| {}).expect("model");
    let (first, second) = (run(), run());
    assert_eq!(first.stats.mask_source, MaskSource::Learned);
    assert!(first.files == second.files, "two runs of the same photo differ");
}
