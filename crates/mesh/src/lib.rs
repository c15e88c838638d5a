//! The embedded generator: one photo becomes a closed, watertight, textured model (GLB, OBJ or STL).
//!
//! The method is silhouette inflation: decode → mask (alpha, a border colour model or a learned saliency network,
//! chosen per picture) → contours → constrained Delaunay triangulation → Poisson heights → depth per part (round
//! rows, tubes for limbs, the camera's elevation, parts standing on a floor: `thickness.rs`) → closed mesh per part →
//! front-projected texture → self-check → file. It is pure and deterministic: no I/O and no mutable global state
//! (the vendored network is parsed once into an immutable model), and the same bytes and parameters always give
//! byte-identical files. The network's inference runs on `rten`'s thread pool; everything else on the caller's
//! thread.
//!
//! Conventions of every model: +Y up, the photo's front faces +Z, metres (the silhouette's longer side is one
//! metre), origin at the bottom centre of the silhouette. The back of an inflated model lies as far behind each
//! part's middle surface as the front lies before it, and shows the photo mirrored.
#![deny(missing_docs)]

mod build;
mod check;
mod closer;
mod contour;
mod decode;
mod embedded;
pub mod export;

pub use build::Mesh3;
pub use export::preview;
mod heights;
mod mask;
mod refine;
mod saliency;
mod segment;
mod structure;
mod texture;
mod thickness;
mod triangulate;

use std::time::Instant;

pub use embedded::EmbeddedGenerator;
use mesh402_core::{
    GenerateError, ImageKind, ImageLimits, MaskSource, MeshParams, Mode, Model, Preflight, Progress, Stage, Stats,
};

use contour::{Field, Loop, Outline, signed_area, simplify, subdivide};
use mask::Mask;
use triangulate::{TriangulateError, triangulate};

/// Cheap check run before payment: validates the parameters, checks that the bytes are of the declared kind and
/// the header's dimensions are within the default [`ImageLimits`]. Pictures up to [`PREFLIGHT_DECODE_PIXELS`] are
/// then decoded and refused if they show nothing (blank, one colour, noise); larger ones only have their file
/// structure proven whole (every marker, chunk and checksum), which costs a few milliseconds instead of a full
/// decode. The segmentation (and its network) runs only in [`generate`]: a picture that passes here and turns out
/// undecodable or without an object fails there with the same codes.
pub fn preflight(bytes: &[u8], kind: ImageKind, params: &MeshParams) -> Result<Preflight, GenerateError> {
    preflight_with_limits(bytes, kind, params, &ImageLimits::default())
}

/// [`preflight`] with explicit limits.
pub fn preflight_with_limits(
    bytes: &[u8],
    kind: ImageKind,
    params: &MeshParams,
    limits: &ImageLimits,
) -> Result<Preflight, GenerateError> {
    params.validate()?;
    let (width, height, turned) = decode::header(bytes, kind, limits)?;
    if u64::from(width) * u64::from(height) > PREFLIGHT_DECODE_PIXELS {
        let (width, height) = if turned { (height, width) } else { (width, height) };
        if width.min(height) < decode::MIN_SIDE {
            return Err(GenerateError::ImageTooSmall { width, height, min: decode::MIN_SIDE });
        }
        structure::check(bytes, kind)?;
        return Ok(Preflight { width, height });
    }
    // The working copy the generator would look at, without copying a picture that is already small enough.
    let full = decode::decode_full(bytes, kind, limits)?;
    let factor = decode::work_factor(&full);
    let reduced;
    let work = if factor == 1 {
        &full
    } else {
        reduced = decode::box_reduce(&full, factor);
        &reduced
    };
    if let Some(reason) = segment::nothing_to_see(work) {
        return Err(GenerateError::no_object(reason));
    }
    let (width, height) = full.dimensions();
    Ok(Preflight { width, height })
}

/// The structural check [`preflight`] gives a picture larger than [`PREFLIGHT_DECODE_PIXELS`] (its container's
/// framing and checksums, without decoding a pixel), on its own: for the fuzz target that feeds it any bytes
/// without first finding a header that declares that many pixels.
pub fn check_structure(bytes: &[u8], kind: ImageKind) -> Result<(), GenerateError> {
    structure::check(bytes, kind)
}

/// The largest picture, in pixels, that [`preflight`] decodes in full; larger ones get the structural check.
pub const PREFLIGHT_DECODE_PIXELS: u64 = 2_000_000;

/// A picture's mask, as [`segment()`] finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// Width of the mask: the picture's, reduced to at most about a megapixel.
    pub width: u32,
    /// Height of the mask.
    pub height: u32,
    /// The integer factor from the picture's pixels to the mask's: mask pixel `(x, y)` covers picture pixels
    /// `[x·f, (x+1)·f) × [y·f, (y+1)·f)`.
    pub factor: u32,
    /// Row-major, `true` where the object is.
    pub object: Vec<bool>,
    /// Which evidence the mask came from.
    pub source: MaskSource,
    /// Separate parts kept.
    pub n_parts: u32,
    /// How sure the segmentation is of the mask, 0..=1 (1 for alpha; for an estimated mask, the lesser of the
    /// network's certainty and stability and of how far the outline follows the photo's edges).
    pub confidence: f32,
    /// Whether the network took a second, closer look at the object.
    pub looked_closer: bool,
}

/// The segmentation stage alone (decode and mask, with the default [`ImageLimits`]), for measuring and debugging it.
pub fn segment(bytes: &[u8], kind: ImageKind) -> Result<Segmentation, GenerateError> {
    segment_with(bytes, kind, None)
}

/// [`segment()`] with the mask taken from `source` alone instead of the per-picture choice (when `Some`): for
/// comparing the sources on a fixture.
pub fn segment_with(bytes: &[u8], kind: ImageKind, source: Option<MaskSource>) -> Result<Segmentation, GenerateError> {
    let decoded = decode::decode(bytes, kind, &ImageLimits::default())?;
    let mask = match source {
        None => segment::segment(&decoded.work)?,
        Some(source) => segment::segment_as(&decoded.work, source)?,
    };
    Ok(Segmentation {
        width: mask.width,
        height: mask.height,
        factor: decoded.factor,
        object: mask.data.iter().map(|&v| v == 1).collect(),
        source: mask.source,
        n_parts: mask.n_parts as u32,
        confidence: mask.confidence,
        looked_closer: mask.looked_closer,
    })
}

/// The whole pipeline with the default [`ImageLimits`]. `progress` is called with increasing percentages as stages
/// complete.
pub fn generate(
    bytes: &[u8],
    kind: ImageKind,
    params: &MeshParams,
    progress: &mut dyn FnMut(Progress),
) -> Result<Model, GenerateError> {
    generate_with_limits(bytes, kind, params, &ImageLimits::default(), progress)
}

struct Clock {
    stage_ms: Vec<(Stage, f64)>,
    last: Instant,
}

impl Clock {
    fn lap(&mut self, stage: Stage) {
        let now = Instant::now();
        let ms = now.duration_since(self.last).as_secs_f64() * 1000.0;
        self.last = now;
        match self.stage_ms.iter_mut().find(|(s, _)| *s == stage) {
            Some(entry) => entry.1 += ms,
            None => self.stage_ms.push((stage, ms)),
        }
    }
}

/// [`generate`] with explicit limits.
pub fn generate_with_limits(
    bytes: &[u8],
    kind: ImageKind,
    params: &MeshParams,
    limits: &ImageLimits,
    progress: &mut dyn FnMut(Progress),
) -> Result<Model, GenerateError> {
    params.validate()?;
    let mut clock = Clock { stage_ms: Vec::new(), last: Instant::now() };
    let report = |clock: &mut Clock, progress: &mut dyn FnMut(Progress), stage: Stage, percent: u8| {
        clock.lap(stage);
        progress(Progress { stage, percent });
    };
    let decoded = decode::decode(bytes, kind, limits)?;
    report(&mut clock, progress, Stage::Decode, 10);
    let mask = segment::segment(&decoded.work)?;
    report(&mut clock, progress, Stage::Mask, 20);
    let field = Field::from_mask(&mask);
    let outlines = contour::trace(&field)
        .ok_or_else(|| GenerateError::no_object("No outline could be traced around the object"))?;
    report(&mut clock, progress, Stage::Contour, 30);
    let (outlines, crop) = select_parts(outlines, &mask, &decoded, params)?;
    // The texture depends only on the mask and the crop, so it is baked on a second thread while the geometry is
    // built: both stages are single-threaded, and the machine's other core is otherwise idle here.
    let (geometry, texture) = std::thread::scope(|scope| {
        let texture = scope.spawn(|| texture::bake(&decoded, &field, &crop, params.texture_size));
        let geometry = parts_geometry(&outlines, params, &crop, &mut clock);
        (geometry, texture.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let (mesh3, n_parts) = geometry?;
    let texture = texture?;
    for (stage, percent) in [(Stage::Triangulate, 45), (Stage::Heights, 55), (Stage::Check, 65)] {
        progress(Progress { stage, percent });
    }
    drop(decoded);
    report(&mut clock, progress, Stage::Texture, 80);
    let source = export::Source { mesh: &mesh3, texture: &texture, print_size_mm: f64::from(params.print_size_mm) };
    let files = export::write_all(&source, params)?;
    report(&mut clock, progress, Stage::Encode, 100);
    Ok(Model {
        format: params.format,
        files,
        stats: Stats {
            n_faces: mesh3.tris.len() as u32,
            n_vertices: mesh3.positions.len() as u32,
            mask_source: mask.source,
            mask_confidence: mask.confidence,
            n_parts,
            stage_ms: clock.stage_ms,
        },
    })
}

fn bounding_box(points: &[[f64; 2]]) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for p in points {
        b[0] = b[0].min(p[0]);
        b[1] = b[1].min(p[1]);
        b[2] = b[2].max(p[0]);
        b[3] = b[3].max(p[1]);
    }
    b
}

/// The loops for one attempt: simplified at `tol` pixels, subdivided to `edge`, tiny holes dropped.
fn prepare_loops(outline: &Outline, edge: f64, tol: f64) -> Option<Vec<Loop>> {
    let prepare = |l: &Loop| subdivide(&simplify(l, tol), edge);
    let outer = prepare(&outline.outer);
    if outer.len() < 3 || signed_area(&outer).abs() < 4.0 {
        return None;
    }
    let mut loops = vec![outer];
    for hole in &outline.holes {
        let h = prepare(hole);
        if h.len() >= 6 && signed_area(&h).abs() >= edge * edge {
            loops.push(h);
        }
    }
    Some(loops)
}

/// The planar mesh for one attempt: the refined triangulation (when `grade` is set, with graded rim rings placed
/// from a rough solve of the heights, `grade = (depth, ε)`), unless the rings would overflow the budget.
fn planar_mesh(
    loops: &[Loop],
    max_area: f64,
    max_new_vertices: usize,
    grade: Option<(f64, f64)>,
    edge: f64,
    per_side: f64,
) -> Result<triangulate::Mesh2, TriangulateError> {
    let (mut cdt, mesh2) = triangulate(loops, grade.is_some(), max_area, max_new_vertices)?;
    let Some((depth, eps)) = grade else {
        return Ok(mesh2);
    };
    // Graded rings cost about four faces per silhouette vertex and side; skip them on tight budgets.
    let n_rim = mesh2.boundary.iter().filter(|&&b| b).count();
    if (4 * n_rim) as f64 > 0.3 * per_side {
        return Ok(mesh2);
    }
    // A rough solve is enough to place the rings.
    let rough = heights::solve_poisson(&mesh2, 60);
    let z: Vec<f64> = thickness::half_thickness(&mesh2, &rough, eps).into_iter().map(|h| depth * h).collect();
    if triangulate::grade_rim(&mut cdt, &mesh2, &z, edge) > 0 { triangulate::extract(&cdt) } else { Ok(mesh2) }
}

/// The fewest faces a part is given; smaller shares drop the smallest parts.
const MIN_PART_FACES: f64 = 80.0;

/// The parts to model and the one texture crop around all of them: specks are dropped, then the smallest parts
/// while the face cap, shared in proportion to area, would give one too few faces to model it.
fn select_parts(
    mut outlines: Vec<Outline>,
    mask: &Mask,
    decoded: &decode::Decoded,
    params: &MeshParams,
) -> Result<(Vec<Outline>, texture::Crop), GenerateError> {
    // Loops of a few pixels are traces of specks the smoothing left; the mask's own filter decided the parts.
    let min_area = (f64::from(mask.width) * f64::from(mask.height) * 0.0002).max(16.0);
    outlines.retain(|o| o.area() >= min_area);
    let target = f64::from(params.target_faces);
    loop {
        let total: f64 = outlines.iter().map(Outline::area).sum();
        let smallest = outlines.last().map(Outline::area).unwrap_or(0.0);
        if outlines.len() <= 1 || target * smallest / total.max(1.0) >= MIN_PART_FACES {
            break;
        }
        outlines.pop();
    }
    if outlines.is_empty() {
        return Err(GenerateError::no_object("The object is too small or too thin to model"));
    }
    let all_points: Vec<[f64; 2]> = outlines.iter().flat_map(|o| o.outer.iter().copied()).collect();
    let crop = texture::crop_for(bounding_box(&all_points), decoded);
    Ok((outlines, crop))
}

/// The model of the selected parts: one frame around all of them, each part meshed and checked as its own closed
/// body with its share of the face cap, then joined. A part other than the largest that cannot be meshed is
/// dropped; the number built is returned.
fn parts_geometry(
    outlines: &[Outline],
    params: &MeshParams,
    crop: &texture::Crop,
    clock: &mut Clock,
) -> Result<(build::Mesh3, u32), GenerateError> {
    let all_points: Vec<[f64; 2]> = outlines.iter().flat_map(|o| o.outer.iter().copied()).collect();
    let frame = build::Frame::new(&all_points, crop.work);
    let target = f64::from(params.target_faces);
    let total: f64 = outlines.iter().map(Outline::area).sum();
    let mut joined = build::Mesh3::default();
    let mut n_parts = 0u32;
    for (i, outline) in outlines.iter().enumerate() {
        // Shares are rounded down so that together they never exceed the cap.
        let share = (target * outline.area() / total).floor();
        match geometry(outline, params, share, &frame, clock) {
            Ok(part) => {
                joined.append(part);
                n_parts += 1;
            }
            Err(err) if i == 0 => return Err(err),
            Err(_) => {}
        }
    }
    joined.normalise();
    Ok((joined, n_parts))
}

/// Triangulation, heights, lifting and the self-check of one part, with feedback on the edge length until the face cap
/// is met and safer parameters after a failed check.
fn geometry(
    outline: &Outline,
    params: &MeshParams,
    target: f64,
    frame: &build::Frame,
    clock: &mut Clock,
) -> Result<build::Mesh3, GenerateError> {
    let area = outline.area().max(1.0);
    let per_side = target * 0.45;
    let mut edge = (4.0 * area / (3f64.sqrt() * per_side)).sqrt().max(1.0);
    let mut tol = (edge / 8.0).clamp(0.5, 1.0);
    let mut eps_factor = 0.5;
    let mut last_error = String::from("no attempt was made");
    for _attempt in 0..16 {
        let Some(loops) = prepare_loops(outline, edge, tol) else {
            return Err(GenerateError::no_object("The object is too small or too thin to model"));
        };
        let n_boundary: usize = loops.iter().map(Vec::len).sum();
        if n_boundary as f64 > per_side * 0.5 && tol < edge / 4.0 {
            // The outline alone would use most of the budget: simplify it harder.
            tol = (tol * 2.0).min(edge / 4.0);
            continue;
        }
        let refine = params.mode == Mode::Inflate;
        let max_area = 3f64.sqrt() / 4.0 * edge * edge * 1.6;
        let depth = f64::from(params.depth);
        let eps = edge * eps_factor;
        let grade = refine.then_some((depth, eps));
        // The triangulation library is not ours: a panic inside it becomes a failed attempt, never a crash.
        let planar = std::panic::catch_unwind(|| {
            planar_mesh(&loops, max_area, (per_side * 1.5) as usize, grade, edge, per_side)
        })
        .unwrap_or(Err(TriangulateError::Internal));
        let mesh2 = match planar {
            Ok(m) => m,
            Err(TriangulateError::SelfIntersection) => {
                last_error = TriangulateError::SelfIntersection.to_string();
                tol = (tol * 0.5).max(0.1);
                continue;
            }
            Err(err) => {
                last_error = err.to_string();
                edge *= 0.7;
                continue;
            }
        };
        clock.lap(Stage::Triangulate);
        let walls = if params.mode == Mode::Extrude { 2 * triangulate::boundary_edges(&mesh2.tris).len() } else { 0 };
        let n_faces = 2 * mesh2.tris.len() + walls;
        if n_faces as f64 > target {
            edge *= (n_faces as f64 / target).sqrt() * 1.05;
            tol = tol.max(edge / 8.0);
            let n_rim = mesh2.boundary.iter().filter(|&&b| b).count();
            if n_rim as f64 > 0.3 * per_side {
                // The silhouette itself is what overflows the budget: simplify it harder.
                tol *= 1.5;
            }
            last_error = format!("{n_faces} faces exceed the cap of {target}");
            continue;
        }
        let genus = loops.len() - 1;
        // The check sees each part upright and unmoved (its lift's centre at zero): moving every point of a vertical
        // line by the same depth keeps the body closed, manifold and of the same volume, and the check's measure of
        // thinness (volume against the bounding box) must not count a lean as emptiness.
        let (mesh3, placed) = match params.mode {
            Mode::Inflate => {
                let u = heights::solve_poisson(&mesh2, usize::MAX);
                let lift = thickness::lift(&mesh2, &u, depth, eps, frame.rows);
                let upright = thickness::Lift { centre: vec![0.0; lift.half.len()], half: lift.half.clone() };
                (build::inflate(&mesh2, &upright, frame), Some(lift))
            }
            Mode::Extrude => {
                let slab = depth * frame.longer_side() / 8.0;
                (build::extrude(&mesh2, slab, frame), None)
            }
        };
        clock.lap(Stage::Heights);
        let checked = check::check(&mesh3, genus);
        clock.lap(Stage::Check);
        match checked {
            Ok(_) => return Ok(placed.map(|lift| build::inflate(&mesh2, &lift, frame)).unwrap_or(mesh3)),
            Err(reason) => {
                last_error = reason;
                eps_factor *= 2.0;
                tol = (tol * 0.5).max(0.1);
            }
        }
    }
    Err(GenerateError::MeshCheckFailed { reason: last_error })
}
