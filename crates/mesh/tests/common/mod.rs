//! Shared helpers for the integration tests: synthetic fixtures, a GLB reader, topology and silhouette checks.
#![allow(dead_code)]

pub mod shape;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ImageEncoder, RgbaImage};

/// A synthetic shape: true where the object is, in pixel coordinates of a `w`×`h` picture.
pub struct Shape {
    pub name: &'static str,
    pub w: u32,
    pub h: u32,
    pub inside: fn(f64, f64) -> bool,
    /// Expected genus of the model.
    pub genus: i64,
}

fn disc(x: f64, y: f64) -> bool {
    (x - 160.0).powi(2) + (y - 130.0).powi(2) < 100.0f64.powi(2)
}
fn ring(x: f64, y: f64) -> bool {
    let r2 = (x - 160.0).powi(2) + (y - 130.0).powi(2);
    r2 < 100.0f64.powi(2) && r2 > 45.0f64.powi(2)
}
fn bar(x: f64, y: f64) -> bool {
    (40.0..360.0).contains(&x) && (90.0..112.0).contains(&y)
}
fn ell(x: f64, y: f64) -> bool {
    ((60.0..120.0).contains(&x) && (40.0..240.0).contains(&y))
        || ((60.0..260.0).contains(&x) && (180.0..240.0).contains(&y))
}

pub const DISC: Shape = Shape { name: "disc", w: 320, h: 260, inside: disc, genus: 0 };
pub const RING: Shape = Shape { name: "ring", w: 320, h: 260, inside: ring, genus: 1 };
pub const BAR: Shape = Shape { name: "bar", w: 400, h: 200, inside: bar, genus: 0 };
pub const ELL: Shape = Shape { name: "ell", w: 320, h: 280, inside: ell, genus: 0 };
pub const SHAPES: [Shape; 4] = [DISC, RING, BAR, ELL];

/// 4×4 supersampled coverage of the shape at pixel (x, y).
fn coverage(shape: &Shape, x: u32, y: u32) -> f64 {
    let mut n = 0;
    for sy in 0..4 {
        for sx in 0..4 {
            if (shape.inside)(f64::from(x) + (f64::from(sx) + 0.5) / 4.0, f64::from(y) + (f64::from(sy) + 0.5) / 4.0) {
                n += 1;
            }
        }
    }
    f64::from(n) / 16.0
}

/// A shaded, textured object colour at (x, y): a smooth pattern so the texture is not flat.
pub fn object_colour(x: u32, y: u32) -> [u8; 3] {
    let r = 150.0 + 80.0 * ((f64::from(x) / 23.0).sin());
    let g = 60.0 + 50.0 * ((f64::from(y) / 17.0).cos());
    let b = 40.0 + 30.0 * ((f64::from(x + y) / 31.0).sin());
    [r as u8, g as u8, b as u8]
}

/// The object on a transparent background (anti-aliased alpha).
pub fn alpha_image(shape: &Shape) -> RgbaImage {
    RgbaImage::from_fn(shape.w, shape.h, |x, y| {
        let c = object_colour(x, y);
        let a = (coverage(shape, x, y) * 255.0).round() as u8;
        image::Rgba([c[0], c[1], c[2], a])
    })
}

/// The object on a plain light background with a gentle gradient (opaque).
pub fn photo_image(shape: &Shape) -> RgbaImage {
    RgbaImage::from_fn(shape.w, shape.h, |x, y| {
        let bg = 225.0 + 20.0 * f64::from(y) / f64::from(shape.h) - 10.0 * f64::from(x) / f64::from(shape.w);
        let c = object_colour(x, y);
        let a = coverage(shape, x, y);
        let mix = |o: u8| (f64::from(o) * a + bg * (1.0 - a)).round() as u8;
        image::Rgba([mix(c[0]), mix(c[1]), mix(c[2]), 255])
    })
}

pub fn png_bytes(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgba8)
        .expect("png");
    out
}

pub fn jpeg_bytes(image: &RgbaImage) -> Vec<u8> {
    let rgb = image::DynamicImage::ImageRgba8(image.clone()).into_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 92).encode_image(&rgb).expect("jpeg");
    out
}

pub fn webp_bytes(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgba8)
        .expect("webp");
    out
}

/// The parts of a GLB the tests look at.
pub struct Glb {
    pub json: serde_json::Value,
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub uvs: Vec<[f32; 2]>,
    pub tris: Vec<[u32; 3]>,
    pub image: Vec<u8>,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Parses a GLB written by the generator (float attributes, u32 indices).
pub fn read_glb(bytes: &[u8]) -> Glb {
    assert_eq!(&bytes[0..4], b"glTF");
    assert_eq!(u32_at(bytes, 4), 2);
    assert_eq!(u32_at(bytes, 8) as usize, bytes.len());
    let json_len = u32_at(bytes, 12) as usize;
    assert_eq!(&bytes[16..20], b"JSON");
    let json: serde_json::Value = serde_json::from_slice(&bytes[20..20 + json_len]).expect("json");
    let bin_at = 20 + json_len;
    let bin_len = u32_at(bytes, bin_at) as usize;
    assert_eq!(&bytes[bin_at + 4..bin_at + 8], b"BIN\0");
    let bin = &bytes[bin_at + 8..bin_at + 8 + bin_len];
    let view = |i: u64| -> &[u8] {
        let v = &json["bufferViews"][i as usize];
        let off = v["byteOffset"].as_u64().unwrap_or(0) as usize;
        let len = v["byteLength"].as_u64().expect("len") as usize;
        &bin[off..off + len]
    };
    let accessor = |name: &str| -> &[u8] {
        let a = &json["meshes"][0]["primitives"][0]["attributes"][name];
        view(json["accessors"][a.as_u64().expect("acc") as usize]["bufferView"].as_u64().expect("bv"))
    };
    let floats =
        |b: &[u8]| -> Vec<f32> { b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4"))).collect() };
    let positions = floats(accessor("POSITION")).chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    let normals = floats(accessor("NORMAL")).chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    let uvs = floats(accessor("TEXCOORD_0")).chunks_exact(2).map(|c| [c[0], c[1]]).collect();
    let idx_acc = json["meshes"][0]["primitives"][0]["indices"].as_u64().expect("indices");
    let idx_view = view(json["accessors"][idx_acc as usize]["bufferView"].as_u64().expect("bv"));
    let tris = idx_view.chunks_exact(12).map(|c| [u32_at(c, 0), u32_at(c, 4), u32_at(c, 8)]).collect();
    let image = view(json["images"][0]["bufferView"].as_u64().expect("image")).to_vec();
    Glb { json, positions, normals, uvs, tris, image }
}

/// Topology of a triangle soup after welding by position.
#[derive(Debug)]
pub struct Topo {
    pub vertices: usize,
    pub edges: usize,
    pub faces: usize,
    pub euler: i64,
    pub components: usize,
    pub volume: f64,
    pub watertight_oriented: bool,
    pub vertex_manifold: bool,
}

/// An independent re-implementation of the topology checks.
pub fn topology(positions: &[[f32; 3]], tris: &[[u32; 3]]) -> Topo {
    use std::collections::{BTreeMap, BTreeSet};
    let mut ids: BTreeMap<[u32; 3], u32> = BTreeMap::new();
    let weld: Vec<u32> = positions
        .iter()
        .map(|p| {
            let n = ids.len() as u32;
            *ids.entry(p.map(f32::to_bits)).or_insert(n)
        })
        .collect();
    let t: Vec<[u32; 3]> = tris.iter().map(|t| t.map(|i| weld[i as usize])).collect();
    let mut directed: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    for f in &t {
        for (a, b) in [(f[0], f[1]), (f[1], f[2]), (f[2], f[0])] {
            *directed.entry((a, b)).or_default() += 1;
        }
    }
    let watertight_oriented = directed.iter().all(|(&(a, b), &n)| n == 1 && directed.get(&(b, a)) == Some(&1));
    let undirected: BTreeSet<(u32, u32)> = directed.keys().map(|&(a, b)| (a.min(b), a.max(b))).collect();
    let used: BTreeSet<u32> = t.iter().flatten().copied().collect();
    // Vertex-manifold: each vertex's corners form one cycle.
    let mut fans: BTreeMap<u32, BTreeMap<u32, u32>> = BTreeMap::new();
    for f in &t {
        for k in 0..3 {
            fans.entry(f[k]).or_default().insert(f[(k + 1) % 3], f[(k + 2) % 3]);
        }
    }
    let vertex_manifold = fans.values().all(|fan| {
        let (&start, _) = fan.iter().next().expect("fan");
        let mut cur = start;
        let mut steps = 0;
        loop {
            match fan.get(&cur) {
                Some(&next) => cur = next,
                None => return false,
            }
            steps += 1;
            if cur == start || steps > fan.len() {
                break;
            }
        }
        cur == start && steps == fan.len()
    });
    let mut parent: Vec<u32> = (0..ids.len() as u32).collect();
    fn find(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            x = p[x as usize];
        }
        x
    }
    for f in &t {
        for k in 1..3 {
            let (a, b) = (find(&mut parent, f[0]), find(&mut parent, f[k]));
            if a != b {
                parent[b as usize] = a;
            }
        }
    }
    let components = used.iter().filter(|&&v| find(&mut parent, v) == v).count();
    let mut volume = 0.0;
    for f in tris {
        let [a, b, c] = f.map(|i| positions[i as usize].map(f64::from));
        volume += (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
            + a[2] * (b[0] * c[1] - b[1] * c[0]))
            / 6.0;
    }
    Topo {
        vertices: used.len(),
        edges: undirected.len(),
        faces: t.len(),
        euler: used.len() as i64 - undirected.len() as i64 + t.len() as i64,
        components,
        volume,
        watertight_oriented,
        vertex_manifold,
    }
}

/// IoU of an orthographic front render (projection on XY) against the shape, after mapping the model's XY bounding
/// box onto the shape's pixel bounding box.
pub fn silhouette_iou(positions: &[[f32; 3]], tris: &[[u32; 3]], shape: &Shape) -> f64 {
    let (w, h) = (shape.w as usize, shape.h as usize);
    let truth: Vec<bool> = (0..w * h).map(|i| coverage(shape, (i % w) as u32, (i / w) as u32) >= 0.5).collect();
    silhouette_iou_mask(positions, tris, &truth, w, h)
}

/// [`silhouette_iou`] against a reference mask of `w`×`h` pixels, the model's box mapped onto the mask's box.
pub fn silhouette_iou_mask(positions: &[[f32; 3]], tris: &[[u32; 3]], truth: &[bool], w: usize, h: usize) -> f64 {
    let (mut bx0, mut by0, mut bx1, mut by1) = (usize::MAX, usize::MAX, 0usize, 0usize);
    for (i, &t) in truth.iter().enumerate() {
        if t {
            bx0 = bx0.min(i % w);
            bx1 = bx1.max(i % w + 1);
            by0 = by0.min(i / w);
            by1 = by1.max(i / w + 1);
        }
    }
    silhouette_iou_in_box(positions, tris, truth, w, h, [bx0 as f64, by0 as f64, bx1 as f64, by1 as f64])
}

/// IoU of the orthographic front render against `truth` (`w`×`h`), with the model's XY bounding box mapped onto
/// the pixel box `[x0, y0, x1, y1]`: the box the generator framed the model by, so that a part missing from (or
/// added to) the model costs only its own area.
pub fn silhouette_iou_in_box(
    positions: &[[f32; 3]],
    tris: &[[u32; 3]],
    truth: &[bool],
    w: usize,
    h: usize,
    pixel_box: [f64; 4],
) -> f64 {
    let [bx0, by0, bx1, by1] = pixel_box;
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in positions {
        x0 = x0.min(f64::from(p[0]));
        x1 = x1.max(f64::from(p[0]));
        y0 = y0.min(f64::from(p[1]));
        y1 = y1.max(f64::from(p[1]));
    }
    // Model point → pixel coordinates.
    let to_px = |p: [f32; 3]| -> (f64, f64) {
        let px = bx0 + (f64::from(p[0]) - x0) / (x1 - x0) * (bx1 - bx0);
        let py = by0 + (y1 - f64::from(p[1])) / (y1 - y0) * (by1 - by0);
        (px, py)
    };
    let mut render = vec![false; w * h];
    for t in tris {
        let v = t.map(|i| to_px(positions[i as usize]));
        let area = (v[1].0 - v[0].0) * (v[2].1 - v[0].1) - (v[1].1 - v[0].1) * (v[2].0 - v[0].0);
        if area.abs() < 1e-12 {
            continue;
        }
        let xmin = v.iter().map(|p| p.0).fold(f64::MAX, f64::min).floor().max(0.0) as usize;
        let xmax = (v.iter().map(|p| p.0).fold(f64::MIN, f64::max).ceil() as usize).min(w);
        let ymin = v.iter().map(|p| p.1).fold(f64::MAX, f64::min).floor().max(0.0) as usize;
        let ymax = (v.iter().map(|p| p.1).fold(f64::MIN, f64::max).ceil() as usize).min(h);
        for y in ymin..ymax {
            for x in xmin..xmax {
                let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                let e = |a: (f64, f64), b: (f64, f64)| (b.0 - a.0) * (cy - a.1) - (b.1 - a.1) * (cx - a.0);
                let (e0, e1, e2) = (e(v[0], v[1]), e(v[1], v[2]), e(v[2], v[0]));
                if (e0 >= 0.0 && e1 >= 0.0 && e2 >= 0.0) || (e0 <= 0.0 && e1 <= 0.0 && e2 <= 0.0) {
                    render[y * w + x] = true;
                }
            }
        }
    }
    let inter = truth.iter().zip(&render).filter(|(a, b)| **a && **b).count();
    let union = truth.iter().zip(&render).filter(|(a, b)| **a || **b).count();
    inter as f64 / union.max(1) as f64
}

/// The variable that makes the tests strict about the tools they drive (scripts/test.sh, and so CI, sets it).
pub const TOOLS_VAR: &str = "MESH402_TEST_TOOLS";

/// Runs the Khronos glTF-Validator on `glb` and says whether it passed (0 errors, 0 warnings), with its output.
///
/// The validator needs Node.js and `npm ci` in tests/js. With `MESH402_TEST_TOOLS=1` (scripts/test.sh) a missing
/// one fails the test: the check never skips there. Without it, and without Node or the module, a small
/// structural check in Rust stands in (whole GLB, readable chunks, indices in range, unit normals), so that
/// `cargo test -p mesh402-mesh` works for someone who uses the crate alone.
pub fn run_khronos(glb: &[u8], label: &str) -> (bool, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tests/js/validate-gltf.mjs");
    let module = root.join("tests/js/node_modules/gltf-validator");
    let strict = std::env::var_os(TOOLS_VAR).is_some_and(|value| value == "1");
    let node_runs = || std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let validator_runs = module.is_dir() && node_runs();
    if !(strict || validator_runs) {
        eprintln!(
            "{label}: Node.js or the glTF-Validator is missing, a structural check stands in (set {TOOLS_VAR}=1)"
        );
        return structural_check(glb);
    }
    assert!(
        module.is_dir(),
        "the Khronos glTF-Validator is missing: run `npm ci` in tests/js (expected {})",
        module.display()
    );
    let dir = std::env::temp_dir().join(format!("mesh402-mesh-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{label}.glb"));
    std::fs::write(&path, glb).expect("write glb");
    let output = match std::process::Command::new("node").arg(&script).arg(&path).output() {
        Ok(o) => o,
        Err(err) => panic!("node is required to run the glTF validator but could not be started: {err}"),
    };
    let _ = std::fs::remove_file(&path);
    let text = format!("{}\n{}", String::from_utf8_lossy(&output.stderr), String::from_utf8_lossy(&output.stdout));
    (output.status.success(), text)
}

/// What can be checked of a GLB without the validator: the header's length is the file's, the chunks read,
/// indices point at vertices and normals have unit length (the validator's ACCESSOR_NON_UNIT).
fn structural_check(glb: &[u8]) -> (bool, String) {
    if glb.len() < 20 || &glb[0..4] != b"glTF" || u32_at(glb, 4) != 2 || u32_at(glb, 8) as usize != glb.len() {
        return (false, "structural check: not a whole GLB 2.0 file".into());
    }
    let Ok(parsed) = std::panic::catch_unwind(|| read_glb(glb)) else {
        return (false, "structural check: the chunks cannot be read".into());
    };
    let n_vertices = parsed.positions.len() as u32;
    if let Some(tri) = parsed.tris.iter().find(|tri| tri.iter().any(|&i| i >= n_vertices)) {
        return (false, format!("structural check: triangle {tri:?} points past {n_vertices} vertices"));
    }
    let not_unit = |n: &[f32; 3]| ((n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt() - 1.0).abs() > 5e-4;
    if let Some(normal) = parsed.normals.iter().find(|n| not_unit(n)) {
        return (false, format!("structural check: normal {normal:?} is not unit length"));
    }
    (true, "structural check passed (not the Khronos validator)".into())
}

/// Runs the Khronos glTF-Validator on `glb`; panics with the report unless it has 0 errors and 0 warnings.
pub fn validate_with_khronos(glb: &[u8], label: &str) {
    let (passed, text) = run_khronos(glb, label);
    assert!(passed, "glTF-Validator rejected {label}: {text}");
}

/// Aspect ratios of the triangles in 3D, sorted: the longest edge over the shortest altitude, 1 for equilateral.
pub fn aspect_ratios(positions: &[[f32; 3]], tris: &[[u32; 3]]) -> Vec<f64> {
    let mut out: Vec<f64> = tris
        .iter()
        .map(|t| {
            let p = t.map(|i| positions[i as usize].map(f64::from));
            let d = |a: [f64; 3], b: [f64; 3]| (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>();
            let e1 = [p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]];
            let e2 = [p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]];
            let c = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
            let area = 0.5 * (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt();
            // Longest edge over the shortest altitude, scaled so that an equilateral triangle scores 1.
            let longest = d(p[0], p[1]).max(d(p[1], p[2])).max(d(p[2], p[0]));
            longest / (2.0 * area.max(1e-30)) * 3f64.sqrt() / 2.0
        })
        .collect();
    out.sort_by(f64::total_cmp);
    out
}
