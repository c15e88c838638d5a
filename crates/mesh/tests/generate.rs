//! End-to-end tests of `generate` on synthetic fixtures: topology, silhouette, face cap, determinism, validator.

mod common;

use common::*;
use mesh402_mesh::{Format, ImageKind, MeshParams, Mode, Stage, generate};

fn run(bytes: &[u8], kind: ImageKind, params: &MeshParams) -> mesh402_mesh::Model {
    let mut last = 0u8;
    let mut stages = Vec::new();
    let model = generate(bytes, kind, params, &mut |p| {
        assert!(p.percent >= last, "progress must not go backwards");
        last = p.percent;
        stages.push(p.stage);
    })
    .unwrap_or_else(|err| panic!("generate failed: {} ({})", err, err.code()));
    assert_eq!(last, 100);
    assert!(stages.contains(&Stage::Check));
    model
}

fn assert_solid(glb: &Glb, genus: i64, label: &str) -> Topo {
    let topo = topology(&glb.positions, &glb.tris);
    assert!(topo.watertight_oriented, "{label}: not watertight/oriented: {topo:?}");
    assert!(topo.vertex_manifold, "{label}: not vertex-manifold: {topo:?}");
    assert_eq!(topo.components, 1, "{label}: {topo:?}");
    assert_eq!(topo.euler, 2 - 2 * genus, "{label}: {topo:?}");
    assert!(topo.volume > 0.0, "{label}: {topo:?}");
    topo
}

#[test]
fn synthetic_alpha_shapes_are_closed_and_faithful() {
    for shape in &SHAPES {
        let bytes = png_bytes(&alpha_image(shape));
        let model = run(&bytes, ImageKind::Png, &MeshParams::default());
        assert_eq!(model.files.len(), 1);
        assert_eq!(model.files[0].name, "model.glb");
        let glb = read_glb(&model.files[0].bytes);
        let topo = assert_solid(&glb, shape.genus, shape.name);
        assert_eq!(topo.faces as u32, model.stats.n_faces);
        let iou = silhouette_iou(&glb.positions, &glb.tris, shape);
        assert!(iou >= 0.97, "{}: silhouette IoU {iou}", shape.name);
        validate_with_khronos(&model.files[0].bytes, shape.name);
    }
}

#[test]
fn plain_background_jpeg_and_alpha_webp_work() {
    for shape in &SHAPES {
        for (kind, bytes) in
            [(ImageKind::Jpeg, jpeg_bytes(&photo_image(shape))), (ImageKind::Webp, webp_bytes(&alpha_image(shape)))]
        {
            let label = format!("{}-{kind:?}", shape.name);
            let model = run(&bytes, kind, &MeshParams::default());
            let glb = read_glb(&model.files[0].bytes);
            assert_solid(&glb, shape.genus, &label);
            let iou = silhouette_iou(&glb.positions, &glb.tris, shape);
            assert!(iou >= 0.97, "{label}: silhouette IoU {iou}");
        }
    }
}

#[test]
fn output_is_byte_identical_on_reruns() {
    let bytes = jpeg_bytes(&photo_image(&RING));
    for format in [Format::Glb, Format::Obj, Format::Stl] {
        let params = MeshParams { format, ..Default::default() };
        let a = run(&bytes, ImageKind::Jpeg, &params);
        let b = run(&bytes, ImageKind::Jpeg, &params);
        assert_eq!(a.files, b.files, "{format:?}");
    }
}
