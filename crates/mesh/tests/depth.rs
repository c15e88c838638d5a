//! Depth and hidden sides: models of real 3D objects, rendered as product photos (`tests/fixtures/objects`, see its
//! SOURCES.md), scored against the objects' true shapes by the measure of `common/shape.rs` (aligned by the front
//! silhouette only). Every model is a closed, manifold, validator-clean GLB; the medians must stay above the
//! thresholds below and no object may fall below its floor; a solid of revolution must come out round when seen
//! from above. A second set (`tests/fixtures/objects-second`), added after the rules were written (three checks
//! were since chosen with it in view), holds them to its figures as first measured and to medians of its own.
//! A third set (`tests/fixtures/objects-turned`) sees objects of both from other turns, a fourth
//! (`tests/fixtures/objects-unseen`) is animals, figures and a machine part added after the rules. Objects the floor
//! rules turn must score alike when their photos and truths are mirrored.
//!
//! `cargo run --release -p mesh402-mesh --example depth_report [-- --second|--turned|--unseen] [--mirror]` prints
//! the same tables.

mod common;

use std::path::{Path, PathBuf};

use common::shape::{self, Triangles};
use mesh402_core::{Format, ImageKind, MeshParams};
use mesh402_mesh::generate;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/objects")
}

/// The second set: objects added after the rules were written (see its SOURCES.md).
fn second_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/objects-second")
}

/// The third set: objects of the first two seen from other turns (see its SOURCES.md).
fn turned_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/objects-turned")
}

/// The fourth set: animals, figures and a machine part added after the rules (see its SOURCES.md).
fn unseen_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/objects-unseen")
}

fn truth(name: &str) -> Triangles {
    truth_in(&dir(), name)
}

fn truth_in(dir: &Path, name: &str) -> Triangles {
    shape::read_stl(&std::fs::read(dir.join(format!("{name}.stl"))).expect("the true shape"))
}

fn stl_model(bytes: &[u8], kind: ImageKind, params: MeshParams) -> Triangles {
    let params = MeshParams { format: Format::Stl, ..params };
    let model = generate(bytes, kind, &params, &mut |_| {}).expect("a model");
    shape::read_stl(&model.files[0].bytes)
}

#[test]
fn the_measure_gives_the_truth_full_marks_and_a_flattened_truth_less() {
    let truth = truth(&objects(&dir())[0]);
    let same = shape::score(&truth, &truth);
    assert!(same.iou_front > 0.99 && same.iou_side > 0.99 && same.iou_top > 0.99, "{same:?}");
    assert!(same.chamfer < 0.002 && same.f_score_5 > 0.99, "{same:?}");
    assert!((same.depth_ratio - 1.0).abs() < 1e-9, "{same:?}");

    let flattened: Triangles = truth.iter().map(|t| t.map(|p| [p[0], p[1], 0.3 * p[2]])).collect();
    let flat = shape::score(&flattened, &truth);
    assert!((flat.depth_ratio - 0.3).abs() < 1e-6, "{flat:?}");
    assert!(flat.iou_front > 0.99, "the front does not see depth: {flat:?}");
    assert!(flat.iou_side < same.iou_side - 0.2 && flat.f_score_5 < same.f_score_5 - 0.1, "{flat:?}");
}

/// What the generator must reach on the set: the medians of the depth measure. The set's figures today are side
/// IoU 0.89, top 0.83, F-score 0.91 at 5 % and 0.97 at 10 %, depth ratio 0.93, Chamfer 0.022 (the old generator, a
/// relief of the photo: 0.44, 0.39, 0.47, 0.71, 0.41, 0.073); the thresholds leave a margin for a change that
/// trades a little of one figure for another, never one for a return toward the relief.
const MEDIAN_SIDE_IOU: f64 = 0.85;
const MEDIAN_TOP_IOU: f64 = 0.78;
const MEDIAN_F_SCORE_5: f64 = 0.87;
const MEDIAN_F_SCORE_10: f64 = 0.93;
const MEDIAN_DEPTH_RATIO: std::ops::RangeInclusive<f64> = 0.85..=1.15;
const MEDIAN_CHAMFER: f64 = 0.030;
const MEDIAN_FRONT_IOU: f64 = 0.95;
/// No object may be a slab from the side: the lowest side IoU on the set today is the chair's 0.45 (it was 0.29
/// before its thin parts were placed in the box its floor edges span).
const LEAST_SIDE_IOU: f64 = 0.40;

/// Per object, the old generator's figures (`depth` 0.5, a relief of the photo): side IoU, top IoU, Chamfer
/// distance and F-score at 10 %. No object may do worse on any of them (by more than 0.01, or 0.002 of Chamfer).
/// The F-score at 5 % is not among them: a rule that rounds a flat part may cost a few points of it (see
/// the README's Depth section).
const BEFORE: [(&str, f64, f64, f64, f64); 12] = [
    ("apple", 0.460, 0.471, 0.1055, 0.519),
    ("book", 0.614, 0.587, 0.0753, 0.681),
    ("bottle", 0.438, 0.337, 0.0539, 0.810),
    ("can", 0.583, 0.395, 0.0591, 0.777),
    ("chair", 0.179, 0.275, 0.0667, 0.738),
    ("cow", 0.285, 0.343, 0.0917, 0.633),
    ("goblet", 0.420, 0.297, 0.0697, 0.718),
    ("hand", 0.470, 0.442, 0.0843, 0.627),
    ("mug", 0.564, 0.381, 0.0621, 0.773),
    ("shakers", 0.376, 0.289, 0.0769, 0.701),
    ("teapot", 0.433, 0.399, 0.0792, 0.648),
    ("truck", 0.379, 0.501, 0.0633, 0.785),
];

#[test]
fn models_of_real_objects_have_their_depth_and_hidden_sides() {
    let bar =
        Medians { side: MEDIAN_SIDE_IOU, top: MEDIAN_TOP_IOU, f_score_5: MEDIAN_F_SCORE_5, chamfer: MEDIAN_CHAMFER };
    let [_, _, _, depth, _, _, f10] = holds_its_medians(&dir(), &BEFORE, &bar, LEAST_SIDE_IOU);
    assert!(f10 >= MEDIAN_F_SCORE_10, "median F-score at 10 % {f10}");
    assert!(MEDIAN_DEPTH_RATIO.contains(&depth), "median depth ratio {depth}");
}

/// Per object of the second set, its figures as first measured, before any rule was changed for it (side IoU, top
/// IoU, Chamfer distance, F-score at 10 %): no object may do worse (by more than 0.01, or 0.002 of Chamfer).
/// Their medians then were side 0.566, top 0.576, F-score at 5 % 0.553 and at 10 % 0.749, Chamfer 0.063; the
/// figure's side IoU 0.268 (a box read from its two feet, turned 72°) and the bull's top IoU 0.213 (turned 53° by
/// its hooves in the air).
const SECOND_FIRST_MEASURED: [(&str, f64, f64, f64, f64); 7] = [
    ("bull", 0.477, 0.213, 0.0872, 0.644),
    ("cartoon", 0.668, 0.602, 0.0290, 0.982),
    ("coupling", 0.637, 0.934, 0.0615, 0.772),
    ("figure", 0.268, 0.418, 0.0628, 0.749),
    ("spool", 0.788, 0.576, 0.0955, 0.566),
    ("teddy", 0.531, 0.653, 0.0526, 0.836),
    ("triceratops", 0.566, 0.317, 0.0873, 0.652),
];

/// The second set's medians today (side 0.668, top 0.636, F-score at 5 % 0.782 and at 10 % 0.958, Chamfer 0.033),
/// less a margin; with the largest profile's hidden cones at a solid of revolution's ends, the triceratops not
/// turned by its feet and the figure's feet side by side they were 0.637, 0.602, 0.619, 0.831 and 0.057.
const SECOND_MEDIANS: Medians = Medians { side: 0.65, top: 0.61, f_score_5: 0.75, chamfer: 0.036 };
/// The lowest side IoU on the second set today is the figure's 0.44 (a walking figure: 0.34 before its far foot
/// stood farther back, 0.37 before its body stood over its feet); the held-out check asks 0.35 of every object.
const SECOND_LEAST_SIDE_IOU: f64 = 0.40;

#[test]
fn models_of_the_second_set_keep_their_depth() {
    holds_its_medians(&second_dir(), &SECOND_FIRST_MEASURED, &SECOND_MEDIANS, SECOND_LEAST_SIDE_IOU);
}

/// The third set (`tests/fixtures/objects-turned`): ten objects of the first two seen from turns of 20° to 50°
/// rather than 35°. Per object, its figures when it was added (side IoU, top IoU, Chamfer distance, F-score at
/// 10 %), which no change may make worse (by more than 0.01, or 0.002 of Chamfer). With the rules before the flat
/// ends, the lying solids and the feet its medians were side 0.672, top 0.600, F-score at 5 % 0.591, Chamfer 0.051.
const TURNED_FIRST_MEASURED: [(&str, f64, f64, f64, f64); 10] = [
    ("bull-45", 0.474, 0.493, 0.0553, 0.843),
    ("chair-45", 0.344, 0.672, 0.0374, 0.957),
    ("cow-25", 0.695, 0.690, 0.0288, 0.986),
    ("cow-50", 0.530, 0.528, 0.0570, 0.814),
    ("figure-50", 0.304, 0.555, 0.0455, 0.878),
    ("spool-50", 0.925, 0.725, 0.0785, 0.661),
    ("teapot-20", 0.864, 0.779, 0.0234, 0.971),
    ("triceratops-25", 0.649, 0.279, 0.0926, 0.635),
    ("truck-20", 0.800, 0.773, 0.0393, 0.931),
    ("truck-50", 0.808, 0.799, 0.0475, 0.942),
];

/// The third set's medians today (side 0.722, top 0.729, F-score at 5 % 0.692, Chamfer 0.038; before a floor's two
/// edges were told apart, turned bodies crossed slantwise and a body stood over its feet 0.672, 0.681, 0.631,
/// 0.047), less a margin; its lowest side IoU is the chair's seen from 45° (0.34), then the figure's from 50° (0.35:
/// its stride, seen more from the side, is deeper still).
const TURNED_MEDIANS: Medians = Medians { side: 0.69, top: 0.70, f_score_5: 0.66, chamfer: 0.042 };
const TURNED_LEAST_SIDE_IOU: f64 = 0.33;

#[test]
fn models_of_objects_seen_from_other_turns_keep_their_depth() {
    holds_its_medians(&turned_dir(), &TURNED_FIRST_MEASURED, &TURNED_MEDIANS, TURNED_LEAST_SIDE_IOU);
}

/// The fourth set (`tests/fixtures/objects-unseen`): a camel, a diplodocus, an armadillo standing like a figure and a
/// toy elk on wheels, added after the rules, then a pig, a lion's head, a sculpted head (the mannequin) and a lying
/// drum (the rotor), added after the floor edges' wider turns. Per object, its figures as first measured, before any
/// rule was changed with it in view (side IoU, top IoU, Chamfer distance, F-score at 10 %), which no change may make
/// worse (by more than 0.01, or 0.002 of Chamfer). The first four's medians then were side 0.398, top 0.394,
/// F-score at 5 % 0.454 and at 10 % 0.666, Chamfer 0.080: the camel (seen 35° from head-on, both floor edges reading
/// 56°) and the diplodocus (seen three-quarters, a line of support at 61°, two feet at 52°) were not turned at all.
/// The next four were measured at 0.686, 0.549, 0.413, 0.686 and 0.085: the lion's head is turned 31° by the line
/// from its chin to its neck's base and made a slab by a floor box's edge across its neck (top 0.37, F-score at 5 %
/// 0.27); the drum, its axis nearly level, is not taken for a lying solid of revolution and is turned 37° by its
/// lower side the wrong way (top 0.46).
const UNSEEN_FIRST_MEASURED: [(&str, f64, f64, f64, f64); 8] = [
    ("armadillo", 0.420, 0.414, 0.0794, 0.654),
    ("camel", 0.331, 0.364, 0.0826, 0.652),
    ("diplodocus", 0.376, 0.374, 0.0796, 0.678),
    ("elk", 0.459, 0.589, 0.0577, 0.826),
    ("lion", 0.723, 0.368, 0.1332, 0.486),
    ("mannequin", 0.684, 0.685, 0.0573, 0.842),
    ("pig", 0.687, 0.639, 0.0526, 0.860),
    ("rotor", 0.683, 0.459, 0.1130, 0.530),
];

/// The fourth set's medians today (side 0.674, top 0.524, F-score at 5 % 0.500, Chamfer 0.069; the first four
/// alone 0.439, 0.502, 0.513, 0.069 after the camel was turned as far as its floor edges say, side 0.33 → 0.67),
/// less a margin. Below the held-out asks: the diplodocus is still not turned (side 0.38), the armadillo (0.42) and
/// the toy elk (0.46) come out too shallow (depth ratios 0.69 and 0.75), and the lion and the drum are turned the
/// wrong way.
const UNSEEN_MEDIANS: Medians = Medians { side: 0.65, top: 0.50, f_score_5: 0.48, chamfer: 0.072 };
const UNSEEN_LEAST_SIDE_IOU: f64 = 0.36;

#[test]
fn models_of_objects_added_after_the_rules_keep_their_depth() {
    holds_its_medians(&unseen_dir(), &UNSEEN_FIRST_MEASURED, &UNSEEN_MEDIANS, UNSEEN_LEAST_SIDE_IOU);
}

/// Every fixture but the book is turned the same way (by 35° in the first two sets), so a rule could lean on that
/// and look right. The objects whose turn the floor rules decide (a floor box, a line of support, two feet),
/// mirrored left to right with their truths, must score as they do unmirrored; so must the figure, whose feet
/// stand apart, the spool, whose axis lies slanted, and the truck seen from 50°, whose floor box is at the edge of
/// the turns.
#[test]
fn mirrored_photos_of_turned_objects_score_as_the_originals() {
    for (dir, name) in [
        (dir(), "truck"),
        (dir(), "cow"),
        (dir(), "chair"),
        (second_dir(), "triceratops"),
        (second_dir(), "teddy"),
        (second_dir(), "figure"),
        (second_dir(), "spool"),
        (turned_dir(), "truck-50"),
        (turned_dir(), "figure-50"),
        (unseen_dir(), "camel"),
        (unseen_dir(), "pig"),
    ] {
        let photo = std::fs::read(dir.join(format!("{name}.jpg"))).expect("the photo");
        let truth = truth_in(&dir, name);
        let original = shape::score(&stl_model(&photo, ImageKind::Jpeg, MeshParams::default()), &truth);
        let flipped = image::imageops::flip_horizontal(&image::load_from_memory(&photo).expect("a photo"));
        let mut png = Vec::new();
        flipped.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("PNG encoding");
        let mirrored_truth: Triangles = truth.iter().map(|t| t.map(|p| [-p[0], p[1], p[2]])).collect();
        let mirrored = shape::score(&stl_model(&png, ImageKind::Png, MeshParams::default()), &mirrored_truth);
        for (what, a, b) in [
            ("side IoU", original.iou_side, mirrored.iou_side),
            ("top IoU", original.iou_top, mirrored.iou_top),
            ("F-score at 5 %", original.f_score_5, mirrored.f_score_5),
        ] {
            // The masks of a photo and its mirror differ by a pixel here and there: the truck seen from 50°
            // scores
            // 0.044 apart at F@5 %; mirrored, it had lost 0.19 of side IoU when its floor box fell just past the
            // widest turn accepted (FLOOR_BOX_TURN in thickness.rs).
            assert!((a - b).abs() <= 0.05, "{name}: {what} {a:.3} as photographed, {b:.3} mirrored");
        }
    }
}

/// The medians a set's models must reach: side and top IoU and F-score at 5 % at least, Chamfer distance at most.
struct Medians {
    side: f64,
    top: f64,
    f_score_5: f64,
    chamfer: f64,
}

/// Checks that the objects of `dir` are those of `table`, scores them ([`score_set`], no side IoU below
/// `least_side_iou`) and holds their medians to `bar` and the front IoU to [`MEDIAN_FRONT_IOU`]; returns the medians.
fn holds_its_medians(dir: &Path, table: &[(&str, f64, f64, f64, f64)], bar: &Medians, least_side_iou: f64) -> [f64; 7] {
    let mut names: Vec<String> = table.iter().map(|(name, ..)| (*name).to_owned()).collect();
    names.sort();
    assert_eq!(objects(dir), names, "{}: the set and its table agree", dir.display());
    let medians = score_set(dir, table, least_side_iou);
    let [front, side, top, _, chamfer, f5, _] = medians;
    assert!(front >= MEDIAN_FRONT_IOU, "median front IoU {front}");
    assert!(side >= bar.side, "median side IoU {side}");
    assert!(top >= bar.top, "median top IoU {top}");
    assert!(f5 >= bar.f_score_5, "median F-score at 5 % {f5}");
    assert!(chamfer <= bar.chamfer, "median Chamfer distance {chamfer}");
    medians
}

/// Models every object of `table` (name, and the side IoU, top IoU, Chamfer and F-score at 10 % it may not do
/// worse than) from its photo in `dir` as a buyer gets it, checks each model and its figures, and returns the
/// medians of [`shape::ShapeScore::figures`].
fn score_set(dir: &Path, table: &[(&str, f64, f64, f64, f64)], least_side_iou: f64) -> [f64; 7] {
    let mut columns: [Vec<f64>; 7] = Default::default();
    for &(name, side, top, chamfer, f10) in table {
        let photo = std::fs::read(dir.join(format!("{name}.jpg"))).expect("the photo");
        // The model as a buyer gets it: a GLB, validator-clean, closed, oriented and manifold.
        let model = generate(&photo, ImageKind::Jpeg, &MeshParams::default(), &mut |_| {}).expect("a model");
        let glb = common::read_glb(&model.files[0].bytes);
        let topology = common::topology(&glb.positions, &glb.tris);
        assert!(
            topology.watertight_oriented && topology.vertex_manifold && topology.volume > 0.0,
            "{name}: {topology:?}"
        );
        common::validate_with_khronos(&model.files[0].bytes, &format!("object-{name}"));
        let triangles: Triangles =
            glb.tris.iter().map(|t| t.map(|i| glb.positions[i as usize].map(f64::from))).collect();
        let score = shape::score(&triangles, &truth_in(dir, name));
        println!("{name:<12} {score:.3?}");
        assert!(score.iou_side >= side - 0.01, "{name}: side IoU {} was {side}", score.iou_side);
        assert!(score.iou_top >= top - 0.01, "{name}: top IoU {} was {top}", score.iou_top);
        assert!(score.chamfer <= chamfer + 0.002, "{name}: Chamfer {} was {chamfer}", score.chamfer);
        assert!(score.f_score_10 >= f10 - 0.01, "{name}: F-score at 10 % {} was {f10}", score.f_score_10);
        assert!(score.iou_side >= least_side_iou, "{name}: side IoU {}", score.iou_side);
        let row = score.figures();
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    let medians = columns.map(|mut c| shape::median(&mut c));
    let [front, side, top, depth, chamfer, f5, f10] = medians;
    println!(
        "median front {front:.3} side {side:.3} top {top:.3} depth {depth:.2} chamfer {chamfer:.4} F5 {f5:.3} F10 {f10:.3}"
    );
    medians
}

/// The chair stands on four legs: the near ones on the floor edges that give its box, the far ones higher up the
/// picture. Placed where their feet meet the floor, its surface is close to the truth's (before the legs stood on
/// the floor, all of them lay against the box's far side: F-score at 5 % 0.599, Chamfer 0.049).
#[test]
fn a_frames_legs_stand_where_their_feet_meet_the_floor() {
    let photo = std::fs::read(dir().join("chair.jpg")).expect("the photo");
    let score = shape::score(&stl_model(&photo, ImageKind::Jpeg, MeshParams::default()), &truth("chair"));
    assert!(score.f_score_5 >= 0.72, "F-score at 5 % {}", score.f_score_5);
    assert!(score.chamfer <= 0.040, "Chamfer {}", score.chamfer);
}

#[test]
fn the_depth_option_scales_the_depth() {
    let photo = std::fs::read(dir().join("bottle.jpg")).expect("the photo");
    let truth = truth("bottle");
    let full = shape::score(&stl_model(&photo, ImageKind::Jpeg, MeshParams::default()), &truth);
    let half =
        shape::score(&stl_model(&photo, ImageKind::Jpeg, MeshParams { depth: 0.5, ..Default::default() }), &truth);
    let ratio = half.depth_ratio / full.depth_ratio;
    assert!((ratio - 0.5).abs() < 0.05, "depth 0.5 gives {ratio} of the default depth");
    assert!((half.iou_front - full.iou_front).abs() < 1e-9, "the front does not change");
}

/// A goblet's silhouette, upright and symmetric about x = 160, as an alpha picture: a bowl, a stem, a foot.
fn goblet_half_width(y: f64) -> f64 {
    match y {
        y if (20.0..150.0).contains(&y) => 90.0 * (1.0 - ((y - 20.0) / 130.0).powi(2)).sqrt().max(0.35),
        y if (150.0..260.0).contains(&y) => 12.0,
        y if (260.0..280.0).contains(&y) => 70.0,
        _ => 0.0,
    }
}

#[test]
fn a_solid_of_revolution_is_round_from_above() {
    let (w, h) = (320u32, 300u32);
    let picture = image::RgbaImage::from_fn(w, h, |x, y| {
        let inside = (f64::from(x) + 0.5 - 160.0).abs() < goblet_half_width(f64::from(y) + 0.5);
        if inside { image::Rgba([150, 30, 60, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut png = Vec::new();
    picture.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("png");
    let model = stl_model(&png, ImageKind::Png, MeshParams::default());
    // Thin horizontal slices of the model: each is as deep as it is wide (a circle seen from above), up to the
    // 1/cos θ of the camera's elevation.
    let height = model.iter().flat_map(|t| t.iter().map(|p| p[1])).fold(f64::MIN, f64::max);
    let mut checked = 0;
    for band in [0.2, 0.3, 0.4, 0.6, 0.7, 0.8] {
        let y = band * height;
        let slice: Vec<[f64; 3]> =
            model.iter().flat_map(|t| t.iter().copied()).filter(|p| (p[1] - y).abs() < 0.004 * height).collect();
        if slice.len() < 8 {
            continue;
        }
        let extent = |d: usize| {
            slice.iter().map(|p| p[d]).fold(f64::MIN, f64::max) - slice.iter().map(|p| p[d]).fold(f64::MAX, f64::min)
        };
        let (across, deep) = (extent(0), extent(2));
        let roundness = deep / across;
        assert!((0.85..=1.25).contains(&roundness), "slice at {band} of the height: {deep} deep, {across} wide");
        checked += 1;
    }
    assert!(checked >= 5, "{checked} slices had vertices");
}

/// Every object of the set in `dir`, by name.
fn objects(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a folder of objects")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".jpg").map(String::from))
        .collect();
    names.sort();
    names
}
