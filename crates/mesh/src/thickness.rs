//! Thickness: how far the model's front and back lie from the silhouette plane at each point of a part, and where
//! the part lies in depth.
//!
//! A photo shows an object's width, never its depth; the depth is a prior, drawn from what product photos show:
//! objects standing upright on a floor, seen three-quarters and from slightly above. Six rules, each from the
//! photo's evidence:
//!
//! 1. **Round rows.** Most objects are about as deep as they are wide at each height: bottles, cups and vases are
//!    solids of revolution about their vertical axis, a vehicle or a box seen three-quarters spans about as much in
//!    depth as across the picture, a figure's torso and legs are round. So each horizontal run of the silhouette
//!    (the span of the part on one image row, between two crossings of its outline) becomes a circle in depth: at
//!    a point `x` of a run centred at `c` with half-width `r`, the half-thickness is `√(r² − (x − c)²)`. A part
//!    whose silhouette is symmetric about a vertical axis thereby becomes its surface of revolution, round when
//!    seen from above. A point takes the median of its own row's circle and those of the rows a little above and
//!    below it, so that a row crossing where a handle joins its body does not make the body bulge there.
//! 2. **Limbs stay tubes.** Rows alone would make a slab of everything that runs horizontally (an arm held out, a
//!    handle's top, a spout), so the row circle is capped by the part's local roundness `√u` from the Poisson
//!    heights (`−Δu = 4`, `u = 0` on the silhouette; a disc of radius R gives R, a long bar of width w gives
//!    0.71·w): where a part is narrow across, in any direction, it is a tube; where it is wide (a body) the row
//!    circle decides. A few averaging steps smooth the seams where a row's run changes abruptly (where a handle or
//!    a leg joins its body).
//! 3. **The camera looks down.** Seen from an elevation θ, an upright object leans back in the camera's frame: a
//!    point higher up is nearer the camera by `tan θ` per unit of image height, and each row's slice through it is
//!    `1/cos θ` deeper than it is wide. θ is a prior of [`ELEVATION_DEGREES`]. A round blob (a ball, a fruit, a
//!    stone: a silhouette that is an ellipse) looks the same from every elevation and does not lean.
//! 4. **Parts stand on the floor.** On a floor seen from above, a point higher in the picture is farther away, by
//!    `1/tan θ` per unit of image height. A part whose lowest point is higher than the lowest of all parts (two
//!    objects side by side, one behind the other) is placed farther back; and a part that stands on a slanted
//!    line (an edge of its lower convex hull between two contacts: two wheels, two feet, a book's bottom edge; else
//!    the line through its two lowest feet, [`two_feet_slope`]) is turned to recede along it (a vehicle or an
//!    animal seen three-quarters), with its rows' circles narrowed to the object's width across that direction,
//!    when that turn is a three-quarter view's ([`THREE_QUARTER_TURNS`]). Where the outline also shows the floor
//!    edge across it, from the nearest corner (a truck's front wheels, a cow's front hooves), the two floor edges
//!    span a box
//!    ([`ground_box`]): a part that nearly fits it, and whose outline runs up one of its ends as a box's corner
//!    does ([`has_a_vertical_end`]), lies where its lines of sight cross it, its legs and wheels
//!    tubes within it, each thin member whose lowest point is on the floor standing where that point's line of
//!    sight meets the floor (a chair's near legs on the near floor edges, its far legs farther back), the other
//!    thin members against the box's far side; a part that does not fit (a head and a tail beyond it) is at least
//!    no deeper than its width. A part no floor turned that stands on two feet or more (a walking figure) has
//!    each foot where its line of sight meets the floor, its legs leaning back to it from the hip
//!    ([`feet_on_the_floor`]).
//! 5. **Boxes are boxes.** A part whose silhouette is a box's (a convex hexagon, opposite edges parallel, one pair
//!    vertical) is that box, turned and seen from the elevation its edges give (see [`Cuboid`]): a book comes out
//!    as thin as it is, a carton as deep, with flat faces.
//!
//! 6. **Solids of revolution.** A part symmetric about a vertical line (a bottle, a goblet, a can, a fruit) is the
//!    largest stack of horizontal discs whose ellipses, seen from the camera's elevation, stay inside its
//!    silhouette, the elevation read from a flat rim where it has one (see [`Revolution`]): round from above, its
//!    foot flat, its lean exact. A part whose body is symmetric where nothing joins it (a teapot, a mug) is that
//!    body, its spout and handle tubes beside it. One lying on its side (a spool, a can on its side) is symmetric
//!    about a slanted principal axis, and is the same turned upright in the picture (see [`LyingRevolution`]).
//!
//! `depth` scales all of it (1 = as described, 0.5 = half as deep); a flat picture with nothing standing on a floor
//! still gets rules 1 and 2, and rules 3 and 4 only move and lean the parts, never change their front silhouette.

use crate::triangulate::{Mesh2, boundary_edges};

/// How much deeper than its local roundness `√u` a part may be where its rows are wide: 1.2 lets a body be a
/// little fuller than the Poisson dome (which tapers to nothing at the top and bottom of an upright cylinder)
/// while an arm held out stays a tube.
const ROUNDNESS_CAP: f64 = 1.2;

/// How far up and down (a share of the part's height) the rows whose circles a point takes the median of reach:
/// more than half the thickness of a handle's or a spout's join, so that the join's rows are outvoted.
const ATTACHMENT_ROWS: f64 = 0.08;

/// The least share of its local roundness `√u` a point keeps, where its row grazes a notch of the outline (the
/// row's run is then a sliver though the part is thick there): the surface never pinches to the silhouette
/// plane inside the part.
const ROUNDNESS_FLOOR: f64 = 0.4;

/// The camera's assumed elevation above the object, in degrees: product photos are taken from slightly above.
/// Measured on the object set of `tests/fixtures/objects` (rendered at 22–25°), 15–25° all give median F-scores
/// within 0.04 of each other; 30° leans objects too far.
pub(crate) const ELEVATION_DEGREES: f64 = 20.0;

/// Averaging steps over the mesh's edges that smooth the seams of the row circles.
const SMOOTHING_STEPS: usize = 8;

/// The share of a part's height, from its bottom, within which its lower hull may touch the floor.
const GROUND_BAND: f64 = 0.4;

/// A part whose silhouette is an ellipse to this degree (its [`ellipse_likeness`]) is taken for a round blob,
/// which looks alike from any elevation and does not lean; below [`NOT_ELLIPTIC`] it leans fully, between the two
/// in proportion. A disc scores 1, a fruit with its stem 0.95, a can or a fist 0.87, a bottle 0.84.
const ELLIPTIC: f64 = 0.95;
/// See [`ELLIPTIC`].
const NOT_ELLIPTIC: f64 = 0.90;

/// The least width, as a share of the part's, of a lower hull edge that counts as a line of support between two
/// ground contacts (two wheels, two feet, a book's bottom edge); a round base's hull has only short edges.
const SUPPORT_WIDTH: f64 = 0.2;

/// The turns (degrees from facing the camera) a floor's evidence may give a part: a product photo shows its object
/// three-quarters. A line of support that would turn it further (a standing figure's two feet, a running animal's
/// hooves in the air, a handle's bottom beside a base) is not the floor under its length, and the part is not
/// turned by it; nor is one that would turn it hardly at all (a tail's tip and a foot). Two floor edges that agree
/// on the camera's elevation are a floor at any smaller turn (a chair seen from 15°), up to [`FLOOR_BOX_TURN`]. On
/// the objects of `tests/fixtures/objects`, the floors that are (a truck's, a chair's, a cow's) give 34–35°; on the
/// second set (`tests/fixtures/objects-second`) the floors that are not gave 14–18° and 53–72°. The third set
/// (`tests/fixtures/objects-turned`) sees objects of both from 20° to 50°.
const THREE_QUARTER_TURNS: std::ops::RangeInclusive<f64> = 20.0..=50.0;

/// The largest turn (degrees from facing the camera) at which two floor edges that agree on the camera's elevation
/// are taken for a floor: a little past the widest three-quarter turn ([`THREE_QUARTER_TURNS`]), since the truck of
/// `tests/fixtures/objects-turned` seen from 50° reads 50.0° one way and just over it mirrored (without the margin
/// it lost its box mirrored: side IoU 0.81 → 0.62); the floor boxes misread from a figure's feet gave 72°.
const FLOOR_BOX_TURN: f64 = 55.0;

/// A floor box whose shorter horizontal side is less than this share of its longer is a plate standing on edge,
/// which no floor evidence in a picture distinguishes from a misread (a figure's feet gave one 14 px wide and
/// 186 px long).
const FLOOR_BOX_SIDES: f64 = 1.0 / 6.0;

/// Parts whose lowest point is higher than this share of the whole silhouette's height above its bottom are not
/// taken to stand on the floor (a lid, a leaf, a letter's dot), and are not moved back.
const STANDING_BAND: f64 = 0.25;

/// Where a point of the model lies in depth: the front at `centre + half`, the back at `centre − half`.
pub(crate) struct Lift {
    /// The middle between front and back (working pixels toward the camera), also the silhouette's own depth.
    pub centre: Vec<f64>,
    /// Half the thickness (working pixels): zero on the silhouette, positive inside.
    pub half: Vec<f64>,
}

/// The whole silhouette's rows (image y, down): every part is placed relative to them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows {
    /// The highest row of any part.
    pub top: f64,
    /// The lowest row of any part: the floor's nearest line.
    pub bottom: f64,
}

/// The lift of every vertex of one part (`mesh`, with its Poisson solution `u`): the module's six rules (a box
/// first, then a solid of revolution, else the rows, limbs, lean and floor).
pub(crate) fn lift(mesh: &Mesh2, u: &[f64], depth: f64, eps: f64, rows: Rows) -> Lift {
    let elevation = ELEVATION_DEGREES.to_radians();
    let (lean, floor) = (elevation.tan(), 1.0 / elevation.tan());
    let (lo, hi) = bounds(mesh);
    let standing = rows.bottom - hi[1] <= STANDING_BAND * (rows.bottom - rows.top);
    let behind = if standing { ((hi[1] - rows.bottom) * floor).clamp(-(hi[0] - lo[0]), 0.0) } else { 0.0 };
    let hull = silhouette_hull(mesh);
    // A shape the rules below give whole is moved back to where the part stands and scaled by `depth`.
    let placed = |lift: Lift| Lift {
        centre: lift.centre.into_iter().map(|c| depth * (c + behind)).collect(),
        half: lift.half.into_iter().map(|h| depth * h).collect(),
    };
    if let Some(lift) = Cuboid::fit(mesh, hull.clone()).and_then(|cuboid| cuboid.lift(mesh)) {
        return placed(lift);
    }
    let runs = RowRuns::new(mesh);
    if let Some(revolution) = Revolution::fit(&runs, elevation) {
        let (centre, mut half) = revolution.lift(mesh, u, eps, (rows.top + rows.bottom) / 2.0);
        smooth(mesh, &mut half);
        return placed(Lift { centre, half });
    }
    if let Some(lift) = LyingRevolution::fit(mesh, elevation).map(|lying| lying.lift(mesh, u, eps)) {
        return placed(lift);
    }
    // A part standing on a floor that shows both its floor edges fills the box they span, its narrow parts (legs,
    // wheels, a tail) tubes within it.
    let ground = ground_box(&hull, lo, hi);
    let fills_its_box = ground.is_some() && has_a_vertical_end(&runs, lo, hi);
    if let Some(lift) =
        ground.as_ref().filter(|_| fills_its_box).and_then(|ground| ground_box_lift(ground, mesh, u, eps))
    {
        return placed(lift);
    }
    // Round blobs (a ball, a fruit, a stone: an elliptic silhouette) look the same from any elevation: no lean.
    let upright = ((ELLIPTIC - ellipse_likeness(mesh)) / (ELLIPTIC - NOT_ELLIPTIC)).clamp(0.0, 1.0);
    let (lean, deeper) = (upright * lean, 1.0 + upright * (1.0 / elevation.cos() - 1.0));
    // A line of support that would turn the part other than three-quarters is not the floor under its length; the
    // line through its two lowest feet may still be. On a floor seen from θ, a part turned by t recedes by
    // tan t · cos θ per unit of picture width.
    let three_quarter = |r: &f64| THREE_QUARTER_TURNS.contains(&(r.abs() / elevation.cos()).atan().to_degrees());
    let recede = Some(ground_slope(&hull, lo, hi) * floor)
        .filter(three_quarter)
        .or_else(|| two_feet_slope(&hull, &runs, lo, hi).map(|slope| slope * floor).filter(three_quarter))
        .unwrap_or(0.0);
    // A part turned by `recede` is that much wider across the picture than across itself.
    let across = deeper / (1.0 + recede * recede).sqrt();
    // A part whose floor edges give its width, though much of it lies outside that box (a cow's head and tail),
    // is still no deeper than that width crossed slantwise.
    let slab = ground.map_or(f64::MAX, |ground| deeper * (ground.half_extents[1] - 1.0) / ground.axes[0][0].abs());
    let half = half_thickness(mesh, u, eps).into_iter().map(|h| (h * across).min(slab) * depth).collect();
    let (centre_x, middle_y) = ((lo[0] + hi[0]) / 2.0, (rows.top + rows.bottom) / 2.0);
    // A part not turned by its floor may still show its floor in its feet: a walking figure's stride.
    let feet =
        if standing && recede == 0.0 { feet_on_the_floor(mesh, lo, hi, floor) } else { vec![0.0; mesh.points.len()] };
    let centre = mesh
        .points
        .iter()
        .zip(feet)
        .map(|(p, foot)| depth * (behind + (p[0] - centre_x) * recede + (middle_y - p[1]) * lean + foot))
        .collect();
    Lift { centre, half }
}

/// How far back (working pixels, negative) each vertex of a part standing on the floor moves so that each of its
/// feet stands where its line of sight meets the floor: a walking figure's far foot is higher in the picture than
/// its near one because it is farther back, by `1/tan θ` (`floor`) per unit of height above the part's lowest
/// point. Only for a part its floor did not turn: the cow of `tests/fixtures/objects`, turned along its near
/// hooves, lost side IoU 0.71 → 0.67 and F-score at 5 % 0.80 → 0.68 when its far legs were moved back as well (its
/// rows already span its width, and its far hooves' height above the turned floor line is not all depth). The feet
/// are the separate pieces of the part below a cut across it (legs, with air between them), each reaching within
/// [`FOOT_REACH`] of the floor line; the cut is the highest, in steps of 5 % of the part's height from 45 % down
/// to 10 %, that leaves two or more feet, so a leg moves from nothing at the cut (the hip) to its foot's full
/// distance at its foot. A part with fewer than two feet stays as it is. The standing figure of
/// `tests/fixtures/objects-second`, its far foot 11 % of its height above its near one: side IoU 0.34 → 0.37, top
/// 0.44 → 0.59, F-score at 5 % 0.53 → 0.72.
fn feet_on_the_floor(mesh: &Mesh2, lo: [f64; 2], hi: [f64; 2], floor: f64) -> Vec<f64> {
    let n = mesh.points.len();
    let mut shift = vec![0.0; n];
    let height = hi[1] - lo[1];
    for step in (2..=9).rev() {
        let cut = hi[1] - 0.05 * f64::from(step) * height;
        let below = |v: usize| mesh.points[v][1] > cut;
        let feet: Vec<(Vec<usize>, f64)> = connected_sets(mesh, |a, b| below(a) && below(b), below)
            .into_iter()
            .map(|piece| {
                let rise = piece.iter().map(|&v| hi[1] - mesh.points[v][1]).fold(f64::MAX, f64::min);
                (piece, rise)
            })
            .filter(|(_, rise)| *rise <= FOOT_REACH * height)
            .collect();
        if feet.len() < 2 {
            continue;
        }
        for (piece, rise) in feet {
            let foot_y = piece.iter().map(|&v| mesh.points[v][1]).fold(f64::MIN, f64::max);
            for v in piece {
                let along = ((mesh.points[v][1] - cut) / (foot_y - cut).max(1.0)).clamp(0.0, 1.0);
                shift[v] = -along * rise * floor;
            }
        }
        break;
    }
    shift
}

/// How far above the floor line (a share of the part's height) a foot may end and still stand on the floor (see
/// [`feet_on_the_floor`]): at 20° a foot that high is 0.41 of the part's height farther back, a long stride; one
/// higher is taken to be lifted (a running animal's hoof).
const FOOT_REACH: f64 = 0.15;

/// The connected sets of a part's vertices: from every vertex that may `start` one, along the mesh's edges that
/// `join` their two ends.
fn connected_sets(mesh: &Mesh2, join: impl Fn(usize, usize) -> bool, start: impl Fn(usize) -> bool) -> Vec<Vec<usize>> {
    let n = mesh.points.len();
    let mut neighbours = vec![Vec::new(); n];
    for t in &mesh.tris {
        for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
            let (a, b) = (a as usize, b as usize);
            if join(a, b) {
                neighbours[a].push(b);
                neighbours[b].push(a);
            }
        }
    }
    let mut seen = vec![false; n];
    let mut sets = Vec::new();
    for first in 0..n {
        if seen[first] || !start(first) {
            continue;
        }
        let (mut set, mut stack) = (Vec::new(), vec![first]);
        seen[first] = true;
        while let Some(v) = stack.pop() {
            set.push(v);
            for &w in &neighbours[v] {
                if !seen[w] {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        sets.push(set);
    }
    sets
}

/// The part's bounding box in the picture: its lowest and highest x and y.
fn bounds(mesh: &Mesh2) -> ([f64; 2], [f64; 2]) {
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in &mesh.points {
        for d in 0..2 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    (lo, hi)
}

/// A box standing upright, seen from above: its silhouette is a convex hexagon whose opposite edges are parallel,
/// one pair vertical (the box's height) and two slanted (its length and its width, one rising and one falling to
/// the right). Those two slopes give the camera's elevation (their product is `−sin² θ`) and the box's turn, their
/// lengths its length and width: so a book or a phone comes out as thin as it is, and a carton as deep.
#[derive(Debug, Clone, Copy)]
struct Cuboid {
    /// The hexagon's centre (image x, image y down).
    centre: [f64; 2],
    /// The box's axes in the camera's frame (x right, y up, z toward the camera), unit length.
    axes: [[f64; 3]; 3],
    /// Half the box's length, width and height (working pixels), with a margin of a pixel.
    half_extents: [f64; 3],
}

/// A part counts as convex when its area is at least this share of its convex hull's (a book's rounded spine
/// and the straps on it leave 0.95).
const CUBOID_CONVEX: f64 = 0.94;
/// The hexagon keeps at least this share of the hull's area (a book with a rounded spine 0.98; a cylinder's
/// elliptic caps lose about 5 %).
const CUBOID_HEXAGON: f64 = 0.975;
/// Opposite edges of the hexagon are parallel within this angle (radians, 6°) and of lengths within this ratio.
const CUBOID_PARALLEL: f64 = 0.105;
/// See [`CUBOID_PARALLEL`].
const CUBOID_LENGTHS: f64 = 1.25;
/// The largest share of a part's vertices the fitted box may miss.
const CUBOID_MISSES: f64 = 0.05;

impl Cuboid {
    /// The box whose silhouette the part is, if it is one (see the type's documentation).
    /// `hull` is the convex hull of the part's silhouette ([`silhouette_hull`]).
    fn fit(mesh: &Mesh2, mut hull: Vec<[f64; 2]>) -> Option<Cuboid> {
        let hull_area = polygon_area(&hull);
        let part_area: f64 = mesh.tris.iter().map(|t| triangle_area(t.map(|i| mesh.points[i as usize]))).sum();
        if hull.len() < 6 || part_area < CUBOID_CONVEX * hull_area {
            return None;
        }
        // Drop the vertex whose removal loses the least area until six are left; a box's silhouette keeps
        // nearly all of it, and a seventh vertex would not have mattered.
        while hull.len() > 6 {
            let n = hull.len();
            let loss = |i: usize| {
                let (a, b, c) = (hull[(i + n - 1) % n], hull[i], hull[(i + 1) % n]);
                ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])).abs() / 2.0
            };
            let weakest = (0..n).min_by(|&i, &j| loss(i).total_cmp(&loss(j)))?;
            hull.remove(weakest);
        }
        if polygon_area(&hull) < CUBOID_HEXAGON * hull_area {
            return None;
        }
        // Edges as vectors in y-up axes; opposite ones must be antiparallel and alike in length.
        let edges: Vec<[f64; 2]> =
            (0..6).map(|i| [hull[(i + 1) % 6][0] - hull[i][0], hull[i][1] - hull[(i + 1) % 6][1]]).collect();
        let length = |e: [f64; 2]| e[0].hypot(e[1]);
        let mut pairs = Vec::with_capacity(3);
        for i in 0..3 {
            let (e, f) = (edges[i], edges[i + 3]);
            let (le, lf) = (length(e), length(f));
            let cos = -(e[0] * f[0] + e[1] * f[1]) / (le * lf).max(1e-12);
            if cos < CUBOID_PARALLEL.cos() || le.max(lf) > CUBOID_LENGTHS * le.min(lf) {
                return None;
            }
            pairs.push([(e[0] - f[0]) / 2.0, (e[1] - f[1]) / 2.0]);
        }
        let vertical = pairs.iter().position(|d| d[0].abs() < 0.15 * d[1].abs())?;
        let slanted: Vec<[f64; 2]> =
            pairs.iter().enumerate().filter(|(i, _)| *i != vertical).map(|(_, d)| *d).collect();
        let centre = [hull.iter().map(|p| p[0]).sum::<f64>() / 6.0, hull.iter().map(|p| p[1]).sum::<f64>() / 6.0];
        Cuboid::from_edges(slanted[0], slanted[1], length(pairs[vertical]), centre)
    }

    /// The box whose floor edges are seen as `first` and `second` (picture vectors, y up, one along each of its
    /// length and width), `height` tall in the picture, centred at `centre` (image x, image y down): the two
    /// slopes give the elevation (their product is `−sin² θ`) and the turn; `None` when they cannot (the same
    /// sign, an elevation outside 5°–60°).
    fn from_edges(first: [f64; 2], second: [f64; 2], height: f64, centre: [f64; 2]) -> Option<Cuboid> {
        let length = |e: [f64; 2]| e[0].hypot(e[1]);
        let slope = |d: [f64; 2]| d[1] / d[0];
        if first[0].abs() < 1e-9 || second[0].abs() < 1e-9 {
            return None;
        }
        let product = slope(first) * slope(second);
        if product >= 0.0 {
            return None;
        }
        let sin_elevation = (-product).sqrt();
        if !(0.08..=0.87).contains(&sin_elevation) {
            return None;
        }
        let elevation = sin_elevation.asin();
        let (sin_e, cos_e) = (sin_elevation, elevation.cos());
        let turn = (slope(first) / sin_e).atan();
        let (sin_t, cos_t) = turn.sin_cos();
        // The box's axes seen from the elevation: length along (cos t, 0, −sin t), width along (sin t, 0, cos t),
        // height up; image y is `Y cos θ − Z sin θ` and depth `Y sin θ + Z cos θ`.
        let axes =
            [[cos_t, sin_t * sin_e, -sin_t * cos_e], [sin_t, -cos_t * sin_e, cos_t * cos_e], [0.0, cos_e, sin_e]];
        let projected = |axis: [f64; 3]| axis[0].hypot(axis[1]);
        let margin = 1.0;
        let half_extents = [
            length(first) / projected(axes[0]) / 2.0 + margin,
            length(second) / projected(axes[1]) / 2.0 + margin,
            height / cos_e / 2.0 + margin,
        ];
        Some(Cuboid { centre, axes, half_extents })
    }

    /// How far the box is turned from facing the camera (degrees, 0–90): its turn about the vertical, the angle
    /// between its length and the picture's horizontal seen from above, whose cosine is the length axis's share
    /// across the picture (the turn lies within ±90°).
    fn turn_degrees(&self) -> f64 {
        self.axes[0][0].clamp(-1.0, 1.0).acos().to_degrees()
    }

    /// Where the box is along the line of sight through each vertex; `None` when the box misses more than
    /// [`CUBOID_MISSES`] of them (the fit is then not the part's shape). A vertex it misses (a strap or a hinge
    /// that sticks out) lies at the depth where the box's bounds cross, a pixel thick.
    fn lift(&self, mesh: &Mesh2) -> Option<Lift> {
        let (lift, missed) = self.lift_counting(mesh);
        let misses = missed.iter().filter(|&&m| m).count();
        (misses as f64 <= CUBOID_MISSES * mesh.points.len() as f64).then_some(lift)
    }

    /// Where the line of sight through `p` (image x, image y down) is inside the box: the farthest and nearest
    /// depths, and whether it misses the box.
    fn crossing(&self, p: [f64; 2]) -> (f64, f64, bool) {
        let q = [p[0] - self.centre[0], self.centre[1] - p[1]];
        // The depths between which the line of sight is inside all three slabs of the box.
        let (mut nearest, mut farthest) = (f64::MAX, f64::MIN);
        let mut missed = false;
        for (axis, &extent) in self.axes.iter().zip(&self.half_extents) {
            // The coordinate along this axis at depth z is `fixed + axis[2]·z`; it must stay within ±extent.
            let fixed = axis[0] * q[0] + axis[1] * q[1];
            if axis[2].abs() < 1e-9 {
                missed |= fixed.abs() > extent;
                continue;
            }
            let (a, b) = ((-extent - fixed) / axis[2], (extent - fixed) / axis[2]);
            nearest = nearest.min(a.max(b));
            farthest = farthest.max(a.min(b));
        }
        (farthest, nearest, missed || farthest > nearest)
    }

    /// The depth at which the line of sight through `p` (image x, image y down) meets the floor the box stands on
    /// (the plane of its bottom face); `None` for a box seen exactly level.
    fn floor_depth(&self, p: [f64; 2]) -> Option<f64> {
        let q = [p[0] - self.centre[0], self.centre[1] - p[1]];
        let up = self.axes[2];
        (up[2].abs() > 1e-9).then(|| (-self.half_extents[2] - up[0] * q[0] - up[1] * q[1]) / up[2])
    }

    /// [`Cuboid::lift`] whatever the misses, and which vertices the box missed.
    fn lift_counting(&self, mesh: &Mesh2) -> (Lift, Vec<bool>) {
        let mut centre = Vec::with_capacity(mesh.points.len());
        let mut half = Vec::with_capacity(mesh.points.len());
        let mut missed_at = Vec::with_capacity(mesh.points.len());
        for (p, &on_silhouette) in mesh.points.iter().zip(&mesh.boundary) {
            let (farthest, nearest, missed) = self.crossing(*p);
            missed_at.push(missed);
            centre.push((nearest + farthest) / 2.0);
            half.push(match (on_silhouette, missed) {
                (true, _) => 0.0,
                (false, true) => 0.5,
                (false, false) => ((nearest - farthest) / 2.0).max(0.5),
            });
        }
        (Lift { centre, half }, missed_at)
    }
}

/// A part whose silhouette is symmetric about a vertical line (a bottle, a can, a goblet, a vase, a lamp, a fruit)
/// is taken for a solid of revolution standing upright, seen from the camera's elevation θ: a stack of horizontal
/// discs, the disc at height `h` (along the tilted axis) of radius `r(h)`. Such a disc is seen as an ellipse centred
/// `h·cos θ` up the picture, `r` wide and `r·sin θ` tall, and the silhouette is the envelope of those ellipses. So
/// where the silhouette is `w(v)` wide on each side of the axis at picture height `v`, the disc must satisfy
/// `r(h)² ≤ w(v)² + ((v − h·cos θ) / sin θ)²` for every `v`; the profile is the largest that does,
/// `r(h)² = min_v (w(v)² + ((v − h·cos θ) / sin θ)²)`: the biggest solid of revolution with that silhouette. It
/// is exact for a sphere, a cylinder's elliptic rims and a goblet's foot; where one view cannot tell (the hidden
/// underside of a rim seen from above) it is the fullest shape the picture allows. Each point of the part then
/// lies where its line of sight crosses those discs, so a goblet is round seen from above, its foot a flat cone
/// rather than a ball, and the whole leans back as seen from above.
///
/// A body with attachments (a teapot's spout and handle, a mug's handle) is the same, its profile taken from the
/// body's own rows: on a row an attachment joins, the side without it. The attachments' points, which the discs do
/// not reach, are tubes as thick as their local roundness, at the depth where their line of sight passes nearest
/// the body (beside it, in the plane of its axis: which way a spout points in depth, one photo cannot tell).
#[derive(Debug, Clone)]
struct Revolution {
    /// The axis (image x).
    axis: f64,
    /// The part's lowest row (image y, down): picture height `v` is `bottom − y`.
    bottom: f64,
    /// `r(h)` at `h = k · step` for `k = 0, 1, …`.
    radius: Vec<f64>,
    /// The spacing of the profile's samples along the axis (working pixels).
    step: f64,
    /// `sin θ` and `cos θ` of the camera's elevation.
    sin: f64,
    cos: f64,
}

/// A row is even when its body's widths left and right of the axis differ by at most this share of its half-width
/// (plus two pixels). A part is a whole solid of revolution when at least [`REVOLUTION_EVEN_ROWS`] of its rows are,
/// a body of revolution with attachments when at least [`CORE_EVEN_ROWS`] are. On the fixtures: the lathed objects
/// 0.81–0.99 (an apple's leaf and a goblet's foot that lost its shadow side make the uneven ones), the mug 0.85
/// (its handle's joins, which discs cannot cast, so it is a body with an attachment), the teapot 0.47 (its spout
/// joins the lower half); the fist 0.36, the truck 0.28, the cow 0.11, the chair 0.08.
const REVOLUTION_UNEVEN: f64 = 0.08;
/// See [`REVOLUTION_UNEVEN`].
const REVOLUTION_EVEN_ROWS: f64 = 0.75;
/// See [`REVOLUTION_UNEVEN`].
const CORE_EVEN_ROWS: f64 = 0.4;
/// The largest share of a part's area its attachments may take (the part beyond the body's silhouette, row by
/// row): the teapot's spout and handle take 0.10, the mug's handle 0.07, a bar's long foot (an L) 0.41.
const ATTACHMENTS: f64 = 0.25;
/// The most of a symmetric silhouette that the discs may leave uncovered ([`shortfall`]) for the part to be taken
/// for a solid of revolution; the lathed objects of the fixtures leave at most 0.7 %.
const REVOLUTION_SHORTFALL: f64 = 0.02;

impl Revolution {
    /// The solid of revolution whose silhouette the part is, if the part is symmetric about a vertical line.
    fn fit(runs: &RowRuns<'_>, elevation: f64) -> Option<Revolution> {
        let rows: Vec<Option<(f64, f64)>> =
            (0..runs.buckets.len()).map(|r| runs.extent(runs.top + r as f64 + 0.5)).collect();
        let centres: Vec<f64> = rows.iter().flatten().map(|(l, r)| (l + r) / 2.0).collect();
        if centres.len() < 8 {
            return None;
        }
        // The axis is where most rows are centred: a handle or a spout moves the centres of its own rows, each
        // by its own amount, while the body's rows all agree.
        let agree = |axis: f64| centres.iter().filter(|&&c| (c - axis).abs() <= 1.5).count();
        let axis = centres.iter().copied().max_by_key(|&c| agree(c))?;
        // The body's run on each row is the one the axis passes through (a handle's loop beside it is not the
        // body's); none where the axis passes through a hole.
        let body: Vec<Option<(f64, f64)>> =
            (0..rows.len()).map(|r| rows[r].and_then(|_| runs.run_at([axis, runs.top + r as f64 + 0.5]))).collect();
        // Rows a mask cut short on one side (a shadow taken for the floor, a highlight lost) may be uneven; a
        // solid of revolution's rows are nearly all even, an asymmetric part's (a fist, a cow) are not, and a
        // body of revolution with a handle or a spout has its rows even where no attachment joins it.
        let is_even = |(left, right): (f64, f64)| {
            ((axis - left) - (right - axis)).abs() <= REVOLUTION_UNEVEN * ((right - left) / 2.0 + 2.0)
        };
        let rows_seen = centres.len() as f64;
        let even = body.iter().flatten().filter(|&&run| is_even(run)).count() as f64;
        if even < CORE_EVEN_ROWS * rows_seen {
            return None;
        }
        let bottom = runs.top + runs.height;
        let height = bottom - runs.top;
        let step = 1.0;
        // The half-width at each picture height, rows without the body (and one beyond each end) at zero. A whole
        // solid takes the wider side of each uneven row (a side the mask cut short is the other's mirror); a body
        // with attachments the narrower (the attachment is on the other side). Whole first, where most rows are
        // even; a body with attachments when discs cannot cast the whole (a handle's joins widen a few rows).
        let widths_of = |whole: bool| {
            let mut widths: Vec<(f64, f64)> = body
                .iter()
                .enumerate()
                .map(|(r, run)| {
                    let w = match *run {
                        None => 0.0,
                        Some((left, right)) if whole || is_even((left, right)) => (axis - left).max(right - axis),
                        Some((left, right)) => (axis - left).min(right - axis),
                    };
                    (bottom - (runs.top + r as f64 + 0.5), w.max(0.0))
                })
                .collect();
            widths.push((bottom - runs.top + 0.5, 0.0));
            widths.push((-0.5, 0.0));
            widths
        };
        let whole = even >= REVOLUTION_EVEN_ROWS * rows_seen;
        let attempts: &[bool] = if whole { &[true, false] } else { &[false] };
        attempts.iter().find_map(|&whole_solid| {
            let widths = widths_of(whole_solid);
            let (sin, cos) = sharp_elevation(&widths, height, step).unwrap_or(elevation).sin_cos();
            let mut radius = profile(&widths, height, step, sin, cos);
            flatten_hidden_ends(&mut radius, &widths, step, sin, cos);
            // Discs must be able to cast the silhouette: a bar held out level is symmetric, but no stack of discs
            // seen from above is a long flat bar.
            // The body must be most of the part: a vertical bar with a long foot (an L) is not a bottle with a
            // handle.
            let (body_area, area) =
                body.iter().zip(&widths).enumerate().fold((0.0, 0.0), |(b, a), (r, (_, (_, w)))| {
                    let covered = runs.covered(runs.top + r as f64 + 0.5);
                    (b + (2.0 * w).min(covered), a + covered)
                });
            if body_area < (1.0 - ATTACHMENTS) * area {
                return None;
            }
            (shortfall(&widths, &radius, step, sin, cos) <= REVOLUTION_SHORTFALL).then_some(Revolution {
                axis,
                bottom,
                radius,
                step,
                sin,
                cos,
            })
        })
    }
}

/// A solid of revolution lying on its side (a spool, a can or a bottle on its side, a rolling pin, a log): its
/// silhouette is symmetric about its axis, which is then one of the silhouette's principal axes and lies more than
/// 45° from the vertical, yet slants as a level axis turned three-quarters does (at least 7° at 20°: a bar level
/// in the picture lies square to the line of sight, and is a tube). The picture turned so that the axis is vertical
/// is fitted as an upright [`Revolution`], its end that is lower in the photo at the top: on a floor the lower end
/// is the nearer, as an upright solid's top
/// is. Its tilt out of the picture is read from a flat rim where one shows (as an upright solid's elevation), else
/// taken for a three-quarter view's: a horizontal axis turned the middle of [`THREE_QUARTER_TURNS`] from the picture,
/// seen from the camera's elevation (`asin(sin 35° · cos 20°)`, 32.6°). The spool of `tests/fixtures/objects-second`
/// (its true tilt 32°): side IoU 0.79 → 0.96, top 0.62 → 0.79, F-score at 5 % 0.33 → 0.55.
struct LyingRevolution {
    /// The upright solid, in the turned picture.
    revolution: Revolution,
    /// The part's vertices in the turned picture.
    turned: Mesh2,
}

impl LyingRevolution {
    /// The lying solid of revolution whose silhouette the part is, if it is one (see the type's documentation).
    fn fit(mesh: &Mesh2, elevation: f64) -> Option<LyingRevolution> {
        let Moments { centre, sxx, sxy, syy } = moments(mesh)?;
        let major = 0.5 * (2.0 * sxy).atan2(sxx - syy);
        let turn = ((THREE_QUARTER_TURNS.start() + THREE_QUARTER_TURNS.end()) / 2.0).to_radians();
        let tilt = (turn.sin() * elevation.cos()).asin();
        [major, major + std::f64::consts::FRAC_PI_2].into_iter().find_map(|angle| {
            // The axis's direction toward its end higher in the picture (image y down).
            let (mut ay, mut ax) = angle.sin_cos();
            // A level axis turned t and seen from θ slants in the picture by tan t · sin θ: an axis more level
            // than a three-quarter turn's is square to the line of sight (a bar held out level), one more than 45°
            // from the vertical stands rather than lies.
            let least_slant = THREE_QUARTER_TURNS.start().to_radians().tan() * elevation.sin();
            if ay.abs() > std::f64::consts::FRAC_1_SQRT_2 || ay.abs() < least_slant * ax.abs() {
                return None;
            }
            if ay > 0.0 {
                (ax, ay) = (-ax, -ay);
            }
            // The rotation about the centroid taking that direction to straight down the picture, so that the
            // lower end is at the top.
            let points = mesh
                .points
                .iter()
                .map(|p| {
                    let (dx, dy) = (p[0] - centre[0], p[1] - centre[1]);
                    [centre[0] + ay * dx - ax * dy, centre[1] + ax * dx + ay * dy]
                })
                .collect();
            let turned = Mesh2 { points, tris: mesh.tris.clone(), boundary: mesh.boundary.clone() };
            let revolution = Revolution::fit(&RowRuns::new(&turned), tilt)?;
            Some(LyingRevolution { revolution, turned })
        })
    }

    /// Where each vertex lies: the upright solid's lift in the turned picture (depth does not change when a picture
    /// turns in its own plane), smoothed like it.
    fn lift(&self, mesh: &Mesh2, u: &[f64], eps: f64) -> Lift {
        let (lo, hi) = bounds(&self.turned);
        let (centre, mut half) = self.revolution.lift(&self.turned, u, eps, (lo[1] + hi[1]) / 2.0);
        smooth(mesh, &mut half);
        Lift { centre, half }
    }
}

/// The camera's elevation, where the silhouette says it: a flat rim (a goblet's foot, a plate, a coin) seen from
/// θ is an ellipse `sin θ` as tall as wide, and discs seen from any higher elevation can no longer fill its ends,
/// so how much of the silhouette the largest profile leaves uncovered ([`shortfall`]) jumps just above the true
/// elevation. Candidates from 10° to 35° in steps of 2.5°; the elevation is the one below the first jump of at
/// least [`ELEVATION_JUMP`]-fold to at least [`ELEVATION_SHORTFALL`]. Rounded rims and round bodies fill any
/// elevation's discs alike and give no such jump: then `None`, and the prior stands. On the fixtures only the
/// goblet's foot jumps (0.2 % at 25°, its true elevation, 1.5 % at 27.5°).
fn sharp_elevation(widths: &[(f64, f64)], height: f64, step: f64) -> Option<f64> {
    let mut previous: Option<(f64, f64)> = None;
    for k in 0..=10 {
        let elevation = (10.0 + 2.5 * f64::from(k)).to_radians();
        let (sin, cos) = elevation.sin_cos();
        let short = shortfall(widths, &profile(widths, height, step, sin, cos), step, sin, cos);
        if let Some((below, short_below)) = previous
            && short >= ELEVATION_SHORTFALL
            && short >= ELEVATION_JUMP * short_below
        {
            return Some(below);
        }
        previous = Some((elevation, short));
    }
    None
}

/// See [`sharp_elevation`].
const ELEVATION_JUMP: f64 = 4.0;
/// See [`sharp_elevation`].
const ELEVATION_SHORTFALL: f64 = 0.005;

/// The largest profile `r(h)` (at `h = k · step`) whose discs, seen from the elevation whose sine and cosine are
/// given, stay within the half-widths `(v, w(v))`: see [`Revolution`].
fn profile(widths: &[(f64, f64)], height: f64, step: f64, sin: f64, cos: f64) -> Vec<f64> {
    let samples = (height / cos / step).ceil() as usize + 1;
    (0..samples)
        .map(|k| {
            let centre = k as f64 * step * cos;
            widths.iter().map(|&(v, w)| w * w + ((v - centre) / sin).powi(2)).fold(f64::MAX, f64::min).sqrt()
        })
        .collect()
}

/// Makes the ends of a profile flat where the picture cannot see them. Seen from above, the largest profile puts a
/// cone under an object's foot (discs ever smaller down to the lowest row, each touching it, all hidden behind the
/// foot's own ellipse) and another over its top (discs within the top face's ellipse): a squat can would be twice
/// as tall as it is, and seen from the side a lozenge (the coupling of `tests/fixtures/objects-second`: side IoU
/// 0.64 with the cones, 0.92 without). Objects stand on flat feet and most have flat tops (a can, a cup's rim, a
/// coupling), so the discs below the highest one that reaches the silhouette's lowest row (the foot) and above the
/// lowest one that reaches its highest (the top face) are dropped, where that disc is a wide one
/// ([`FLAT_END_WIDTH`]: a ball touches its silhouette's ends with narrow discs, and keeps its round caps) and the
/// silhouette the discs cast stays covered within [`FLAT_ENDS_SHORTFALL`]; else that end is kept as it was.
fn flatten_hidden_ends(radius: &mut [f64], widths: &[(f64, f64)], step: f64, sin: f64, cos: f64) {
    let low = |k: usize| k as f64 * step * cos - radius[k] * sin;
    let high = |k: usize| k as f64 * step * cos + radius[k] * sin;
    let (Some(first), Some(last)) = (radius.iter().position(|&r| r > 0.0), radius.iter().rposition(|&r| r > 0.0))
    else {
        return;
    };
    // The foot is the highest disc that reaches the silhouette's bottom, the top face the lowest that reaches its
    // top, within a couple of rows (the rows are whole pixels, the mask's edge is not exact).
    let lowest = (first..=last).map(low).fold(f64::MAX, f64::min);
    let highest = (first..=last).map(high).fold(f64::MIN, f64::max);
    let foot = (first..=last).rev().find(|&k| low(k) <= lowest + FLAT_ENDS_REACH).unwrap_or(first);
    let top = (first..=last).find(|&k| high(k) >= highest - FLAT_ENDS_REACH).unwrap_or(last);
    // Only a wide end is flat: a ball's or a fruit's discs touch the silhouette's ends where they are narrow, and its
    // caps beyond them are round.
    let widest = radius.iter().copied().fold(0.0, f64::max);
    let wide = |k: usize| radius[k] >= FLAT_END_WIDTH * widest;
    let (foot, top) = (if wide(foot) { foot } else { first }, if wide(top) { top } else { last });
    if top <= foot || (foot == first && top == last) {
        return;
    }
    let before = shortfall(widths, radius, step, sin, cos);
    let mut flat = radius.to_vec();
    for (k, r) in flat.iter_mut().enumerate() {
        if k < foot || k > top {
            *r = 0.0;
        }
    }
    if shortfall(widths, &flat, step, sin, cos) <= before + FLAT_ENDS_SHORTFALL {
        radius.copy_from_slice(&flat);
    }
}

/// How far (working pixels) a disc's ellipse may stop short of the silhouette's lowest (highest) row and still be
/// its foot (top face): see [`flatten_hidden_ends`].
const FLAT_ENDS_REACH: f64 = 2.0;
/// The least radius, as a share of the profile's widest, of a disc that is a flat end (a can's foot and top, a
/// goblet's foot); a sphere touches the silhouette's ends with discs 0.42 of its radius across at 25° (`sin θ`),
/// and a disc in the picture had become a sphere 0.06 of its diameter short at each pole.
const FLAT_END_WIDTH: f64 = 0.6;
/// See [`flatten_hidden_ends`]: the most the flat ends may add to the share of the silhouette left uncovered.
const FLAT_ENDS_SHORTFALL: f64 = 0.005;

/// How much of the silhouette the profile's discs leave uncovered: the rows' half-widths beyond the discs'
/// envelope, summed, as a share of the half-widths summed.
fn shortfall(widths: &[(f64, f64)], radius: &[f64], step: f64, sin: f64, cos: f64) -> f64 {
    let (mut short, mut total) = (0.0, 0.0);
    for &(v, w) in widths {
        let reach = radius
            .iter()
            .enumerate()
            .map(|(k, r)| r * r - ((v - k as f64 * step * cos) / sin).powi(2))
            .fold(0.0f64, f64::max)
            .sqrt();
        short += (w - reach).max(0.0);
        total += w;
    }
    if total > 0.0 { short / total } else { 0.0 }
}

impl Revolution {
    /// Where each vertex's line of sight crosses the discs: the middle of the crossing (its depth in the camera's
    /// frame, the axis at picture height `middle_y` at zero) and half its length, capped like every part's by its
    /// local roundness (`u`, `eps` as in [`half_thickness`]) so that an arm or a handle of a symmetric figure stays a
    /// tube. A vertex whose line of sight misses them (a pixel of an outline the discs do not quite fill) lies where
    /// the line passes nearest them, a sliver thick.
    fn lift(&self, mesh: &Mesh2, u: &[f64], eps: f64, middle_y: f64) -> (Vec<f64>, Vec<f64>) {
        let origin = (self.bottom - middle_y) * self.sin / self.cos;
        let mut centre = Vec::with_capacity(mesh.points.len());
        let mut half = Vec::with_capacity(mesh.points.len());
        let mut excess = vec![0.0; self.radius.len()];
        for ((p, &on_silhouette), &u) in mesh.points.iter().zip(&mesh.boundary).zip(u) {
            let (x, v) = (p[0] - self.axis, self.bottom - p[1]);
            // Along the line of sight, the point at axis height h is (h·cos θ − v)/sin θ in front of the axis and
            // at depth (h − v·cos θ)/sin θ; it is inside the disc there when x² + that² ≤ r(h)², that is where
            // this excess is negative.
            for (k, (e, r)) in excess.iter_mut().zip(&self.radius).enumerate() {
                let ahead = (k as f64 * self.step * self.cos - v) / self.sin;
                *e = x * x + ahead * ahead - r * r;
            }
            let depth_at = |h: f64| (h * self.step - v * self.cos) / self.sin - origin;
            // Where the excess changes sign between two samples, the crossing lies in between (linearly).
            let crossing = |k: usize| k as f64 - 1.0 + excess[k - 1] / (excess[k - 1] - excess[k]);
            let entry = excess.iter().position(|&e| e <= 0.0).map(|k| if k == 0 { 0.0 } else { crossing(k) });
            let exit = excess
                .iter()
                .rposition(|&e| e <= 0.0)
                .map(|k| if k + 1 == excess.len() { k as f64 } else { crossing(k + 1) });
            let tube = (u + eps * eps).sqrt() - eps;
            let (middle, length) = match (entry, exit) {
                (Some(lo), Some(hi)) => {
                    let (far, near) = (depth_at(lo), depth_at(hi));
                    ((near + far) / 2.0, (near - far) / 2.0)
                }
                _ => {
                    let nearest = (0..excess.len()).min_by(|&i, &j| excess[i].total_cmp(&excess[j])).unwrap_or(0);
                    (depth_at(nearest as f64), ROUNDNESS_CAP * tube)
                }
            };
            centre.push(middle);
            // The same offset as a row circle's: the rim's first triangles are not slivers.
            let length = (length.max(0.0).powi(2) + eps * eps).sqrt() - eps;
            half.push(if on_silhouette { 0.0 } else { length.min(ROUNDNESS_CAP * tube).max(ROUNDNESS_FLOOR * tube) });
        }
        (centre, half)
    }
}

/// The convex hull of the part's silhouette vertices.
fn silhouette_hull(mesh: &Mesh2) -> Vec<[f64; 2]> {
    convex_hull(mesh.points.iter().zip(&mesh.boundary).filter(|(_, on)| **on).map(|(p, _)| *p).collect())
}

/// The area of a triangle.
fn triangle_area(p: [[f64; 2]; 3]) -> f64 {
    0.5 * ((p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[1][1] - p[0][1]) * (p[2][0] - p[0][0])).abs()
}

/// The convex hull of `points` (Andrew's monotone chain): from the leftmost point along the top (smallest image y)
/// to the rightmost, then back along the bottom.
fn convex_hull(mut points: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    points.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(points.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let ordered: Box<dyn Iterator<Item = &[f64; 2]>> =
            if pass == 0 { Box::new(points.iter()) } else { Box::new(points.iter().rev()) };
        for &p in ordered {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// The area of a simple polygon.
fn polygon_area(polygon: &[[f64; 2]]) -> f64 {
    let n = polygon.len();
    (0..n)
        .map(|i| {
            let (a, b) = (polygon[i], polygon[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        .abs()
        / 2.0
}

/// A part's centroid and second moments about it (per unit of area), in image axes.
struct Moments {
    centre: [f64; 2],
    sxx: f64,
    sxy: f64,
    syy: f64,
}

/// The [`Moments`] of the part's triangles; `None` for a part without area.
fn moments(mesh: &Mesh2) -> Option<Moments> {
    let (mut area, mut mx, mut my) = (0.0, 0.0, 0.0);
    for t in &mesh.tris {
        let p = t.map(|i| mesh.points[i as usize]);
        let a = triangle_area(p);
        area += a;
        mx += a * (p[0][0] + p[1][0] + p[2][0]) / 3.0;
        my += a * (p[0][1] + p[1][1] + p[2][1]) / 3.0;
    }
    if area <= 0.0 {
        return None;
    }
    let (mx, my) = (mx / area, my / area);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for t in &mesh.tris {
        let p = t.map(|i| mesh.points[i as usize]);
        let a = triangle_area(p);
        // The triangle's exact second moments about the part's centroid: A/6 · (Σ aᵢbᵢ + Σ_{i<j} (aᵢbⱼ + aⱼbᵢ)/2).
        let d = p.map(|q| [q[0] - mx, q[1] - my]);
        let sum = |f: &dyn Fn([f64; 2], [f64; 2]) -> f64| {
            (f(d[0], d[0]) + f(d[1], d[1]) + f(d[2], d[2]) + f(d[0], d[1]) + f(d[1], d[2]) + f(d[2], d[0])) * a / 6.0
        };
        sxx += sum(&|u, v| u[0] * v[0]);
        syy += sum(&|u, v| u[1] * v[1]);
        sxy += sum(&|u, v| (u[0] * v[1] + u[1] * v[0]) / 2.0);
    }
    Some(Moments { centre: [mx, my], sxx: sxx / area, sxy: sxy / area, syy: syy / area })
}

/// How much the part's silhouette is an ellipse: its intersection over union with the ellipse of the same centre
/// and second moments (1 for an ellipse, a disc, a sphere's silhouette), triangles counted in or out by their
/// centres.
fn ellipse_likeness(mesh: &Mesh2) -> f64 {
    let Some(Moments { centre: [mx, my], sxx, sxy, syy }) = moments(mesh) else {
        return 0.0;
    };
    let triangles: Vec<([f64; 2], f64)> = mesh
        .tris
        .iter()
        .map(|t| {
            let p = t.map(|i| mesh.points[i as usize]);
            ([(p[0][0] + p[1][0] + p[2][0]) / 3.0, (p[0][1] + p[1][1] + p[2][1]) / 3.0], triangle_area(p))
        })
        .collect();
    let area: f64 = triangles.iter().map(|(_, a)| a).sum();
    // A uniform ellipse with semi-axes a, b has second moments a²/4 and b²/4 along its axes.
    let det = sxx * syy - sxy * sxy;
    if det <= 0.0 {
        return 0.0;
    }
    let inside: f64 = triangles
        .iter()
        .filter(|(c, _)| {
            let (dx, dy) = (c[0] - mx, c[1] - my);
            // Mahalanobis distance: inside the ellipse where it is at most 2 (the ellipse's boundary, since the
            // moments are a quarter of the squared semi-axes).
            (syy * dx * dx - 2.0 * sxy * dx * dy + sxx * dy * dy) / det <= 4.0
        })
        .map(|(_, a)| a)
        .sum();
    let ellipse_area = std::f64::consts::PI * 4.0 * det.sqrt();
    inside / (area + ellipse_area - inside)
}

/// The slope (image y down per unit of x) of the line through a part's two lowest feet: the lowest point of its
/// silhouette's hull in the floor band and the lowest other one at least [`SUPPORT_WIDTH`] of the part's width
/// away with air between the two (the line between them is outside the silhouette at a quarter, half and three
/// quarters of its length: two legs, not a heel and a toe under an arch, which turned the figure of
/// `tests/fixtures/objects-turned` seen mirrored from 50° by 43°). On a floor seen from above the two nearest
/// contacts lie on the floor's near line, which turns the part; [`ground_slope`] averages every support edge and
/// is misled by a low chin or muzzle beside the feet (the triceratops of `tests/fixtures/objects-second`: its
/// hull's edge from the front foot to the chin turned it 18° the wrong way).
fn two_feet_slope(hull: &[[f64; 2]], runs: &RowRuns<'_>, lo: [f64; 2], hi: [f64; 2]) -> Option<f64> {
    if hi[0] <= lo[0] {
        return None;
    }
    let floor_line = hi[1] - GROUND_BAND * (hi[1] - lo[1]);
    let lowest = |a: &&[f64; 2], b: &&[f64; 2]| a[1].total_cmp(&b[1]);
    let first = *hull.iter().filter(|p| p[1] >= floor_line).max_by(lowest)?;
    let apart = |p: &[f64; 2]| {
        let air = |t: f64| !runs.inside([first[0] + t * (p[0] - first[0]), first[1] + t * (p[1] - first[1])]);
        (p[0] - first[0]).abs() >= SUPPORT_WIDTH * (hi[0] - lo[0]) && [0.25, 0.5, 0.75].into_iter().all(air)
    };
    let second = *hull.iter().filter(|p| p[1] >= floor_line && apart(p)).max_by(lowest)?;
    let (left, right) = if first[0] < second[0] { (first, second) } else { (second, first) };
    Some((right[1] - left[1]) / (right[0] - left[0]))
}

/// The slope `dy/dx` (image y down) of the line the part stands on: the edges of its lower convex hull (the
/// silhouette's points that a floor under it would touch) that span at least [`SUPPORT_WIDTH`] of the part within
/// [`GROUND_BAND`] of its bottom, their slopes averaged by their width. Zero when there is no such edge (a round
/// base, a single point of support).
fn ground_slope(hull: &[[f64; 2]], lo: [f64; 2], hi: [f64; 2]) -> f64 {
    let floor_line = hi[1] - GROUND_BAND * (hi[1] - lo[1]);
    let (mut width, mut rise) = (0.0, 0.0);
    // The hull runs left to right along its top and back along its bottom: the bottom's edges go leftward.
    for i in 0..hull.len() {
        let (right, left) = (hull[i], hull[(i + 1) % hull.len()]);
        let spans = right[0] - left[0] >= SUPPORT_WIDTH * (hi[0] - lo[0]);
        if spans && left[1] >= floor_line && right[1] >= floor_line {
            width += right[0] - left[0];
            rise += right[1] - left[1];
        }
    }
    if width > 0.0 { rise / width } else { 0.0 }
}

/// The box a part standing on a floor fills, when its silhouette shows both of its floor edges: a box (or a
/// vehicle, an animal) turned on a floor and seen from above touches the floor along two lines from its nearest
/// corner, one along it and one across it, rising in the picture to either side. The line along it is the widest
/// line of support ([`ground_slope`]'s); the line across is the longest lower hull edge beyond the support's lower
/// end whose slope, with the support's, gives a plausible elevation (their product is `−sin² θ`, see [`Cuboid`]).
/// The box spans the part's width across the picture and its height.
fn ground_box(hull: &[[f64; 2]], lo: [f64; 2], hi: [f64; 2]) -> Option<Cuboid> {
    let floor_line = hi[1] - GROUND_BAND * (hi[1] - lo[1]);
    let n = hull.len();
    let in_band = |p: [f64; 2]| p[1] >= floor_line;
    // The widest support edge, from its right end to its left (the hull's bottom runs leftward).
    let span = |k: usize| hull[k][0] - hull[(k + 1) % n][0];
    let support = (0..n)
        .filter(|&i| span(i) >= SUPPORT_WIDTH * (hi[0] - lo[0]) && in_band(hull[i]) && in_band(hull[(i + 1) % n]))
        .max_by(|&i, &j| span(i).total_cmp(&span(j)))?;
    let (right, left) = (hull[support], hull[(support + 1) % n]);
    // Slopes with y up.
    let along = (left[1] - right[1]) / (right[0] - left[0]);
    // From the lower end (the nearest corner), walk away from the support along the hull's bottom.
    let (corner, step, toward_support) =
        if right[1] >= left[1] { (support, n - 1, -1.0) } else { ((support + 1) % n, 1, 1.0) };
    let sin2 = |degrees: f64| degrees.to_radians().sin().powi(2);
    let plausible_product = sin2(*FLOOR_ELEVATIONS.start())..=sin2(*FLOOR_ELEVATIONS.end());
    // The hull's bottom beyond the corner, edge by edge, while it stays in the floor band.
    let mut edges: Vec<([f64; 2], [f64; 2])> = Vec::new();
    let mut at = corner;
    for _ in 0..n {
        let next = (at + step) % n;
        let (a, b) = (hull[at], hull[next]);
        if !in_band(a) || !in_band(b) || (b[0] - a[0]).abs() < 1e-9 {
            break;
        }
        edges.push((a, b));
        at = next;
    }
    let slope = |(a, b): ([f64; 2], [f64; 2])| (a[1] - b[1]) / (b[0] - a[0]);
    let plausible = |e: &([f64; 2], [f64; 2])| plausible_product.contains(&(-along * slope(*e)));
    let length = |(a, b): ([f64; 2], [f64; 2])| (b[0] - a[0]).hypot(b[1] - a[1]);
    // The longest plausible edge, continued by the edges after it that keep its slope (one straight floor edge the
    // hull cut in pieces), up to where the outline turns up (a cab's front).
    let longest = (0..edges.len())
        .filter(|&i| plausible(&edges[i]))
        .max_by(|&i, &j| length(edges[i]).total_cmp(&length(edges[j])))?;
    let across = slope(edges[longest]);
    let last = (longest..edges.len())
        .take_while(|&i| (slope(edges[i]) - across).abs() <= FLOOR_EDGE_BEND * across.abs())
        .last()
        .unwrap_or(longest);
    let corner = hull[corner];
    let width_x = edges[last].1[0] - corner[0];
    // The part's width across the picture is the two floor edges' spans; its height in the picture the vertical
    // edge's and their rises.
    let length_x = toward_support * ((hi[0] - lo[0]) - width_x.abs()).max(1.0);
    let (first, second) = ([length_x, length_x * along], [width_x, width_x * across]);
    let height = (hi[1] - lo[1]) - first[1].abs() - second[1].abs();
    if height <= 0.0 {
        return None;
    }
    let centre = [corner[0] + (first[0] + second[0]) / 2.0, corner[1] - (first[1] + second[1]) / 2.0 - height / 2.0];
    let cuboid = Cuboid::from_edges(first, second, height, centre)?;
    let [length, width, _] = cuboid.half_extents;
    // Two floor edges that agree on an elevation are a floor at any turn short of FLOOR_BOX_TURN.
    (cuboid.turn_degrees() <= FLOOR_BOX_TURN && length.min(width) >= FLOOR_BOX_SIDES * length.max(width))
        .then_some(cuboid)
}

/// The lift of a part inside its [`ground_box`], when the box holds all but [`GROUND_BOX_MISSES`] of its vertices:
/// each point where its line of sight crosses the box, its narrow parts (legs, wheels, a tail) tubes within it.
fn ground_box_lift(ground: &Cuboid, mesh: &Mesh2, u: &[f64], eps: f64) -> Option<Lift> {
    let (lift, missed) = ground.lift_counting(mesh);
    if missed.iter().filter(|&&m| m).count() as f64 > GROUND_BOX_MISSES * mesh.points.len() as f64 {
        return None;
    }
    let mut half: Vec<f64> = lift
        .half
        .iter()
        .zip(u)
        .zip(&missed)
        .map(|((&h, &u), &missed)| {
            let tube = (u + eps * eps).sqrt() - eps;
            if missed { ROUNDNESS_FLOOR * tube } else { h.min(ROUNDNESS_CAP * tube) }
        })
        .collect();
    smooth(mesh, &mut half);
    // A thin part within the box (thinner than the box along its line of sight) lies against the box's far side:
    // what shows of a frame through and above its box is mostly its far side (a chair's back, a cart's handle).
    let mut centre: Vec<f64> = lift
        .centre
        .iter()
        .zip(&lift.half)
        .zip(&half)
        .zip(&missed)
        .map(|(((&c, &room), &h), &missed)| if missed { c } else { c - (room - h).max(0.0) })
        .collect();
    // Unless it stands on the floor: a member (a leg, a wheel, a frame's front with its legs) whose lowest point
    // is on the floor inside the box stands where that point's line of sight meets the floor (near legs on the
    // near floor edges, far ones higher up the picture and farther back), and rises straight up from there.
    let rise = ground.axes[2][2] / ground.axes[2][1];
    for member in thin_members(mesh, &lift.half, &half, &missed) {
        let lowest = member.iter().copied().max_by(|&a, &b| mesh.points[a][1].total_cmp(&mesh.points[b][1]));
        let Some(foot) = lowest.and_then(|v| standing_on_floor(ground, mesh.points[v])) else { continue };
        for &v in &member {
            let [x, y] = mesh.points[v];
            let (far, near, _) = ground.crossing([x, y]);
            let room = ((near - far) / 2.0 - half[v]).max(0.0);
            let middle = (near + far) / 2.0;
            centre[v] = (foot.floor + (foot.y - y) * rise).clamp(middle - room, middle + room);
        }
    }
    Some(Lift { centre, half })
}

/// How far (working pixels) beyond the box along its line of sight a member's lowest point may meet the floor and
/// still count as standing on it.
const FLOOR_CONTACT: f64 = 2.0;

/// A point where a part stands on the floor: its image row and the depth at which its line of sight meets the
/// floor.
struct Foot {
    y: f64,
    floor: f64,
}

/// `p` (image x, image y down) as a point on the floor, when its line of sight meets the floor where the box is; a
/// point above the floor (a back's slats above the seat) meets it beyond the box.
fn standing_on_floor(ground: &Cuboid, p: [f64; 2]) -> Option<Foot> {
    let floor = ground.floor_depth(p)?;
    let (far, near, _) = ground.crossing(p);
    (floor >= far - FLOOR_CONTACT && floor <= near + FLOOR_CONTACT).then_some(Foot { y: p[1], floor })
}

/// A vertex is part of a thin member (a leg, a wheel, a strut) where its tube is at most this share of the box's
/// depth along its line of sight.
const THIN_MEMBER: f64 = 0.5;

/// The thin members of a part in its ground box: the connected sets of vertices (along the mesh's edges) that the
/// box holds and whose tube (`half`) is at most [`THIN_MEMBER`] of the box's depth there (`room`); silhouette
/// vertices join the member of an inside neighbour.
fn thin_members(mesh: &Mesh2, room: &[f64], half: &[f64], missed: &[bool]) -> Vec<Vec<usize>> {
    let thin: Vec<bool> = (0..mesh.points.len())
        .map(|v| !missed[v] && (mesh.boundary[v] || half[v] <= THIN_MEMBER * room[v].max(half[v])))
        .collect();
    connected_sets(
        mesh,
        |a, b| thin[a] && thin[b] && !(mesh.boundary[a] && mesh.boundary[b]),
        |v| thin[v] && !mesh.boundary[v],
    )
}

/// Whether the part's outline runs straight up one of its ends, as a box's does at its corner nearest the picture's
/// edge (a truck's back, a chair's back post and leg): on at least [`VERTICAL_END`] of its rows, its leftmost or
/// its rightmost point is within [`VERTICAL_END_WIDTH`] of the part's side. A figure or a toy whose feet happen to
/// give two floor edges reaches its sides only at a hand or an ear (a sitting teddy bear: 19 % of its rows), and
/// is not filled out to the box they span.
fn has_a_vertical_end(runs: &RowRuns<'_>, lo: [f64; 2], hi: [f64; 2]) -> bool {
    let reach = VERTICAL_END_WIDTH * (hi[0] - lo[0]);
    let (mut rows, mut left, mut right) = (0usize, 0usize, 0usize);
    let mut y = lo[1] + 0.5;
    while y < hi[1] {
        if let Some((from, to)) = runs.extent(y) {
            rows += 1;
            left += usize::from(from <= lo[0] + reach);
            right += usize::from(to >= hi[0] - reach);
        }
        y += 1.0;
    }
    left.max(right) as f64 >= VERTICAL_END * rows as f64
}

/// See [`has_a_vertical_end`]: the truck's outline runs up its end on 48 % of its rows, the chair's 78 %.
const VERTICAL_END: f64 = 0.3;
/// See [`has_a_vertical_end`], as a share of the part's width.
const VERTICAL_END_WIDTH: f64 = 0.04;

/// The largest share of a part's vertices outside its [`ground_box`] (a cab's front beyond the far wheel, a mirror,
/// an ear): those lie where their line of sight passes the box, a little thick.
const GROUND_BOX_MISSES: f64 = 0.15;

/// How far (a share of its slope) an edge's slope may differ from the floor edge's to continue it.
const FLOOR_EDGE_BEND: f64 = 0.25;

/// The elevations (degrees) the two floor edges of [`ground_box`] may imply.
const FLOOR_ELEVATIONS: std::ops::RangeInclusive<f64> = 10.0..=30.0;

/// The half-thickness (working pixels) at every vertex of `mesh`: zero on the silhouette, positive inside.
/// `u` is the Poisson solution on `mesh`, `eps` the rim offset that keeps the first triangles from being slivers.
pub(crate) fn half_thickness(mesh: &Mesh2, u: &[f64], eps: f64) -> Vec<f64> {
    let runs = RowRuns::new(mesh);
    let mut half: Vec<f64> = mesh
        .points
        .iter()
        .zip(u)
        .zip(&mesh.boundary)
        .map(|((p, &u), &on_silhouette)| {
            if on_silhouette {
                return 0.0;
            }
            let tube = (u + eps * eps).sqrt() - eps;
            let circle = |(left, right): (f64, f64)| {
                let (centre, radius) = ((left + right) / 2.0, (right - left) / 2.0);
                let across = (radius * radius - (p[0] - centre).powi(2)).max(0.0);
                (across + eps * eps).sqrt() - eps
            };
            // The median of the rows around: a row that also crosses where a handle or a spout joins the body is
            // wider than the body's rows above and below, and must not make the body bulge there; a profile that
            // only widens or narrows (a sphere's, a bottle's) keeps the point's own row.
            let reach = ATTACHMENT_ROWS * runs.height;
            let mut rows: Vec<f64> = [-1.0, -0.5, 0.0, 0.5, 1.0]
                .iter()
                .filter_map(|k| runs.run_at([p[0], p[1] + k * reach]).map(circle))
                .collect();
            rows.sort_by(f64::total_cmp);
            let row = if rows.is_empty() { tube } else { rows[(rows.len() - 1) / 2] };
            row.min(ROUNDNESS_CAP * tube).max(ROUNDNESS_FLOOR * tube)
        })
        .collect();
    smooth(mesh, &mut half);
    half
}

/// Averages each interior vertex with its neighbours a fixed number of times (Jacobi steps, so the result does not
/// depend on the vertex order); silhouette vertices stay at zero.
fn smooth(mesh: &Mesh2, half: &mut [f64]) {
    let mut edges: Vec<(u32, u32)> = mesh
        .tris
        .iter()
        .flat_map(|t| [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])])
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let n = half.len();
    let mut sum = vec![0.0f64; n];
    let mut count = vec![0u32; n];
    for _ in 0..SMOOTHING_STEPS {
        sum.iter_mut().for_each(|s| *s = 0.0);
        count.iter_mut().for_each(|c| *c = 0);
        for &(a, b) in &edges {
            let (a, b) = (a as usize, b as usize);
            sum[a] += half[b];
            count[a] += 1;
            sum[b] += half[a];
            count[b] += 1;
        }
        for i in 0..n {
            if !mesh.boundary[i] && count[i] > 0 {
                // Half the vertex's own value and half its neighbours' mean: gentle, and never below zero.
                half[i] = 0.5 * half[i] + 0.5 * sum[i] / f64::from(count[i]);
            }
        }
    }
}

/// The silhouette's edges bucketed by image row, to find where a horizontal line crosses the outline.
struct RowRuns<'a> {
    points: &'a [[f64; 2]],
    edges: Vec<(u32, u32)>,
    /// For row `r` (image y in `[top + r, top + r + 1)`), indices into `edges` of the edges spanning it.
    buckets: Vec<Vec<u32>>,
    top: f64,
    /// The part's height in image rows.
    height: f64,
}

impl<'a> RowRuns<'a> {
    fn new(mesh: &'a Mesh2) -> RowRuns<'a> {
        let edges = boundary_edges(&mesh.tris);
        let top = mesh.points.iter().map(|p| p[1]).fold(f64::MAX, f64::min).floor();
        let bottom = mesh.points.iter().map(|p| p[1]).fold(f64::MIN, f64::max).ceil();
        let n_rows = if top.is_finite() && bottom >= top { (bottom - top) as usize + 1 } else { 0 };
        let mut buckets = vec![Vec::new(); n_rows];
        for (i, &(a, b)) in edges.iter().enumerate() {
            let (ya, yb) = (mesh.points[a as usize][1], mesh.points[b as usize][1]);
            let first = ((ya.min(yb) - top).floor().max(0.0)) as usize;
            let last = ((ya.max(yb) - top).floor().max(0.0) as usize).min(n_rows.saturating_sub(1));
            for bucket in &mut buckets[first..=last.max(first).min(n_rows.saturating_sub(1))] {
                bucket.push(i as u32);
            }
        }
        RowRuns { points: &mesh.points, edges, buckets, top, height: (bottom - top).max(0.0) }
    }

    /// Where the row through image y `y` crosses the outline, in no order (none outside the part's rows).
    fn crossings(&self, y: f64) -> impl Iterator<Item = f64> + '_ {
        let row = (y - self.top).floor();
        let bucket = if row.is_nan() || row < 0.0 { None } else { self.buckets.get(row as usize) };
        bucket.into_iter().flatten().filter_map(move |&i| {
            let (a, b) = self.edges[i as usize];
            let (pa, pb) = (self.points[a as usize], self.points[b as usize]);
            // Half-open in y, so a line through a vertex counts the vertex's two edges once.
            ((pa[1] <= y && y < pb[1]) || (pb[1] <= y && y < pa[1]))
                .then(|| pa[0] + (y - pa[1]) * (pb[0] - pa[0]) / (pb[1] - pa[1]))
        })
    }

    /// Whether `p` (image x, image y down) is inside the part's silhouette: an odd number of the outline's crossings
    /// of its row lie to its left.
    fn inside(&self, p: [f64; 2]) -> bool {
        self.crossings(p[1]).filter(|&x| x < p[0]).count() % 2 == 1
    }

    /// The outermost crossings of the outline on the row through image y `y`: the part's extent on that row.
    fn extent(&self, y: f64) -> Option<(f64, f64)> {
        let (left, right) =
            self.crossings(y).fold((f64::MAX, f64::MIN), |(left, right), x| (left.min(x), right.max(x)));
        (left < right).then_some((left, right))
    }

    /// How much of the row through image y `y` the part covers: its runs' lengths summed.
    fn covered(&self, y: f64) -> f64 {
        let mut crossings: Vec<f64> = self.crossings(y).collect();
        crossings.sort_by(f64::total_cmp);
        crossings.chunks_exact(2).map(|pair| pair[1] - pair[0]).sum()
    }

    /// The nearest crossings of the outline left and right of `p` on its row: the run `p` lies in.
    fn run_at(&self, p: [f64; 2]) -> Option<(f64, f64)> {
        let (left, right) = self.crossings(p[1]).fold((f64::MIN, f64::MAX), |(left, right), x| {
            if x <= p[0] { (left.max(x), right) } else { (left, right.min(x)) }
        });
        (left > f64::MIN && right < f64::MAX).then_some((left, right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heights::solve_poisson;
    use crate::triangulate::triangulate;

    fn polygon(points: &[[f64; 2]]) -> Mesh2 {
        triangulate(&[points.to_vec()], true, 20.0, 100_000).expect("mesh").1
    }

    #[test]
    fn an_upright_rectangle_is_a_cylinder_seen_from_its_side() {
        // 60 wide, 200 tall: every row's run is the full width, so the middle rows are circles of radius 30.
        let mut outline = Vec::new();
        for i in 0..20 {
            outline.push([0.0, 10.0 * f64::from(i)]);
        }
        for i in 0..6 {
            outline.push([10.0 * f64::from(i), 200.0]);
        }
        for i in 0..20 {
            outline.push([60.0, 200.0 - 10.0 * f64::from(i)]);
        }
        for i in 0..6 {
            outline.push([60.0 - 10.0 * f64::from(i), 0.0]);
        }
        let mesh = polygon(&outline);
        let u = solve_poisson(&mesh, usize::MAX);
        let half = half_thickness(&mesh, &u, 0.0);
        let middle = mesh
            .points
            .iter()
            .zip(&half)
            .filter(|(p, _)| (p[1] - 100.0).abs() < 40.0 && (p[0] - 30.0).abs() < 5.0)
            .map(|(_, h)| *h);
        for h in middle {
            assert!((h - 30.0).abs() < 3.0, "half-thickness {h} at the axis, radius 30");
        }
    }

    /// The silhouette of a box (length, width, height) turned by `turn` and seen from `elevation` (radians),
    /// as image points (y down), with the box's own axes.
    fn box_silhouette(size: [f64; 3], turn: f64, elevation: f64) -> Vec<[f64; 2]> {
        let (sin_t, cos_t) = turn.sin_cos();
        let (sin_e, cos_e) = elevation.sin_cos();
        let axes = [[cos_t, sin_t * sin_e], [sin_t, -cos_t * sin_e], [0.0, cos_e]];
        let corners: Vec<[f64; 2]> = (0..8)
            .map(|k: i32| {
                let signs = [f64::from(k & 1) - 0.5, f64::from((k >> 1) & 1) - 0.5, f64::from((k >> 2) & 1) - 0.5];
                let mut p = [300.0, 300.0];
                for d in 0..3 {
                    p[0] += signs[d] * size[d] * axes[d][0];
                    p[1] -= signs[d] * size[d] * axes[d][1];
                }
                p
            })
            .collect();
        let hull = convex_hull(corners);
        // Subdivided so the mesher has an outline of ordinary edges.
        let mut outline = Vec::new();
        for i in 0..hull.len() {
            let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
            let steps = ((b[0] - a[0]).hypot(b[1] - a[1]) / 8.0).ceil().max(1.0) as usize;
            for s in 0..steps {
                let t = s as f64 / steps as f64;
                outline.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
            }
        }
        outline
    }

    #[test]
    fn a_box_seen_from_above_is_a_box_as_thin_as_it_is() {
        // A book 200 long, 30 thick and 280 tall, turned 35° and seen from 25° above.
        let mesh = polygon(&box_silhouette([200.0, 30.0, 280.0], 35f64.to_radians(), 25f64.to_radians()));
        let cuboid = Cuboid::fit(&mesh, silhouette_hull(&mesh)).expect("a box");
        let elevation = cuboid.axes[2][2].asin().to_degrees();
        assert!((elevation - 25.0).abs() < 1.5, "elevation {elevation}");
        let mut extents = cuboid.half_extents.map(|e| 2.0 * (e - 1.0));
        extents[..2].sort_by(f64::total_cmp);
        for (found, truth) in extents.iter().zip([30.0, 200.0, 280.0]) {
            assert!((found - truth).abs() < 0.04 * truth + 2.0, "extents {extents:?}");
        }
        let lift = cuboid.lift(&mesh).expect("the box covers its silhouette");
        let thickest = lift.half.iter().fold(0.0f64, |a, &b| a.max(b));
        // Along a line of sight a 30-thick book is at most its width's diagonal deep, far less than its width.
        assert!(thickest < 90.0, "half-thickness {thickest}");
    }

    #[test]
    fn a_box_on_the_floor_is_found_from_its_two_floor_edges() {
        // A carton 200 long, 80 wide, 100 tall, turned 35° and seen from 20° above: its lower outline is its two
        // floor edges from the nearest corner.
        let mesh = polygon(&box_silhouette([200.0, 80.0, 100.0], 35f64.to_radians(), 20f64.to_radians()));
        let (lo, hi) = bounds(&mesh);
        let ground = ground_box(&silhouette_hull(&mesh), lo, hi).expect("two floor edges");
        let elevation = ground.axes[2][2].asin().to_degrees();
        assert!((elevation - 20.0).abs() < 2.0, "elevation {elevation}");
        let mut sizes = ground.half_extents.map(|e| 2.0 * (e - 1.0));
        sizes[..2].sort_by(f64::total_cmp);
        for (found, truth) in sizes.iter().zip([80.0, 200.0, 100.0]) {
            assert!((found - truth).abs() < 0.06 * truth + 2.0, "sizes {sizes:?}");
        }
    }

    #[test]
    fn a_point_on_the_floor_is_placed_where_its_line_of_sight_meets_the_floor() {
        let mesh = polygon(&box_silhouette([200.0, 80.0, 100.0], 35f64.to_radians(), 20f64.to_radians()));
        let (lo, hi) = bounds(&mesh);
        let ground = ground_box(&silhouette_hull(&mesh), lo, hi).expect("two floor edges");
        // A point of the box (in its own axes, from its centre) seen in the picture, and its depth.
        let seen = |coordinates: [f64; 3]| {
            let mut camera = [0.0; 3];
            for (axis, c) in ground.axes.iter().zip(coordinates) {
                for d in 0..3 {
                    camera[d] += axis[d] * c;
                }
            }
            ([ground.centre[0] + camera[0], ground.centre[1] - camera[1]], camera[2])
        };
        let [l, w, h] = ground.half_extents;
        // The floor's middle (a far leg's foot) and every bottom corner (the nearest is a near leg's foot) stand on
        // the floor at their own depth.
        for (x, y) in [(0.0, 0.0), (l, w), (l, -w), (-l, w), (-l, -w)] {
            let (p, depth) = seen([x, y, -h]);
            let foot = standing_on_floor(&ground, p).expect("on the floor");
            assert!((foot.floor - depth).abs() < 1e-6, "at {x}, {y}: {} for {depth}", foot.floor);
        }
        // The middle of the top face is seen where the floor is beyond the box: not a foot.
        assert!(standing_on_floor(&ground, seen([0.0, 0.0, h]).0).is_none());
    }

    #[test]
    fn a_cylinder_is_not_a_box() {
        let mesh = polygon(&cylinder_silhouette(60.0, 200.0, 25f64.to_radians()));
        assert!(Cuboid::fit(&mesh, silhouette_hull(&mesh)).is_none());
    }

    /// An upright cylinder (radius, height) seen from `elevation` (radians): a rectangle with elliptic caps.
    fn cylinder_silhouette(radius: f64, height: f64, elevation: f64) -> Vec<[f64; 2]> {
        let squash = elevation.sin();
        let mut outline = Vec::new();
        for i in 0..48 {
            let a = std::f64::consts::PI * f64::from(i) / 48.0;
            outline.push([300.0 + radius * a.cos(), 100.0 - radius * squash * a.sin()]);
        }
        for i in 0..48 {
            let a = std::f64::consts::PI * f64::from(i) / 48.0;
            outline.push([300.0 - radius * a.cos(), 100.0 + height * elevation.cos() + radius * squash * a.sin()]);
        }
        outline
    }

    #[test]
    fn a_cylinder_seen_from_above_is_a_round_cylinder_leaning_back() {
        let (radius, height, elevation) = (60.0, 200.0, 25f64.to_radians());
        let mesh = polygon(&cylinder_silhouette(radius, height, elevation));
        let runs = RowRuns::new(&mesh);
        let revolution = Revolution::fit(&runs, ELEVATION_DEGREES.to_radians()).expect("a solid of revolution");
        // Its flat rims tell the elevation, whatever the prior.
        let found = revolution.sin.asin().to_degrees();
        assert!((found - 25.0).abs() <= 2.5, "elevation {found}°");
        let u = solve_poisson(&mesh, usize::MAX);
        let (centre, half) = revolution.lift(&mesh, &u, 0.0, 250.0);
        // Along the axis, the line of sight crosses the tilted cylinder over 2r / cos θ.
        let along_axis: Vec<(f64, f64, f64)> = mesh
            .points
            .iter()
            .zip(centre.iter().zip(&half))
            .filter(|(p, _)| (p[0] - 300.0).abs() < 4.0 && (p[1] - 190.0).abs() < 60.0)
            .map(|(p, (c, h))| (p[1], *c, *h))
            .collect();
        assert!(along_axis.len() >= 3, "{} vertices near the axis", along_axis.len());
        let expected = radius / elevation.cos();
        for &(_, _, h) in &along_axis {
            assert!((h - expected).abs() < 0.08 * expected, "half-thickness {h} at the axis, expected {expected}");
        }
        // Higher up the picture is nearer the camera: the top leans toward it by tan θ per unit of height.
        let (low, high) = along_axis.iter().fold((along_axis[0], along_axis[0]), |(lo, hi), &p| {
            (if p.0 > lo.0 { p } else { lo }, if p.0 < hi.0 { p } else { hi })
        });
        let lean = (high.1 - low.1) / (low.0 - high.0);
        assert!((lean - elevation.tan()).abs() < 0.1, "lean {lean} per unit of height");
    }

    #[test]
    fn a_foot_higher_in_the_picture_stands_farther_back_on_the_floor() {
        // A body on two legs, the right one ending 30 px higher: its foot is farther back, by 1/tan θ per row.
        let outline = [
            [100.0, 100.0],
            [200.0, 100.0],
            [200.0, 370.0],
            [170.0, 370.0],
            [170.0, 250.0],
            [130.0, 250.0],
            [130.0, 400.0],
            [100.0, 400.0],
        ];
        let mesh = polygon(&outline);
        let (lo, hi) = bounds(&mesh);
        let floor = 1.0 / ELEVATION_DEGREES.to_radians().tan();
        let shift = feet_on_the_floor(&mesh, lo, hi, floor);
        for (p, s) in mesh.points.iter().zip(&shift) {
            if p[1] < 250.0 || p[0] < 150.0 {
                assert!(s.abs() < 1e-9, "the body and the near leg stay: {p:?} moved {s}");
            } else if p[1] >= 369.0 {
                assert!((s + 30.0 * floor).abs() < 1e-6, "the far foot at {p:?} moved {s}, not {}", -30.0 * floor);
            }
        }
        // A leg ending a third of the height above the other is lifted, not a foot: nothing moves.
        let lifted = [
            outline[0],
            outline[1],
            [200.0, 300.0],
            [170.0, 300.0],
            [170.0, 250.0],
            [130.0, 250.0],
            outline[6],
            outline[7],
        ];
        let mesh = polygon(&lifted);
        let (lo, hi) = bounds(&mesh);
        assert!(feet_on_the_floor(&mesh, lo, hi, floor).iter().all(|s| *s == 0.0), "a lifted leg is not a foot");
    }

    #[test]
    fn a_cylinder_on_its_side_is_round_about_its_axis_and_its_lower_end_nearer() {
        // The upright cylinder of the test above, laid down: its axis turned 75° in the picture, 15° from level.
        let (radius, elevation) = (60.0, 25f64.to_radians());
        let (sin, cos) = 75f64.to_radians().sin_cos();
        let lying: Vec<[f64; 2]> = cylinder_silhouette(radius, 200.0, elevation)
            .iter()
            .map(|p| {
                let (dx, dy) = (p[0] - 300.0, p[1] - 200.0);
                [300.0 + cos * dx - sin * dy, 200.0 + sin * dx + cos * dy]
            })
            .collect();
        let mesh = polygon(&lying);
        assert!(Revolution::fit(&RowRuns::new(&mesh), elevation).is_none(), "not upright");
        let lying =
            LyingRevolution::fit(&mesh, ELEVATION_DEGREES.to_radians()).expect("a solid of revolution on its side");
        // Its tilt out of the picture: its rims' 25° or the three-quarter prior's 32.6° (the rims' ellipses turned
        // back from a polygon no longer show the sharp jump an upright one's do).
        let tilt = lying.revolution.sin.asin().to_degrees();
        assert!((20.0..=35.0).contains(&tilt), "tilt {tilt}°");
        let u = solve_poisson(&mesh, usize::MAX);
        let Lift { centre, half } = lying.lift(&mesh, &u, 0.0);
        let axis = [-sin, cos];
        let on_axis: Vec<(f64, f64, f64)> = mesh
            .points
            .iter()
            .zip(centre.iter().zip(&half))
            .filter(|(p, _)| {
                let (dx, dy) = (p[0] - 300.0, p[1] - 200.0);
                (dx * axis[1] - dy * axis[0]).abs() < 4.0 && (dx * axis[0] + dy * axis[1]).abs() < 60.0
            })
            .map(|(p, (c, h))| (p[1], *c, *h))
            .collect();
        assert!(on_axis.len() >= 3, "{} vertices near the axis", on_axis.len());
        // Round: as deep as wide along its axis (up to 1/cos of its tilt where the line of sight crosses it
        // whole), not a slab.
        let deepest = 1.1 * radius / lying.revolution.cos;
        for &(_, _, h) in &on_axis {
            assert!((0.9 * radius..=deepest).contains(&h), "half-thickness {h} on the axis, radius {radius}");
        }
        // The end lower in the picture is nearer the camera.
        let lowest = on_axis.iter().max_by(|a, b| a.0.total_cmp(&b.0)).expect("a point");
        let highest = on_axis.iter().min_by(|a, b| a.0.total_cmp(&b.0)).expect("a point");
        assert!(lowest.1 > highest.1, "lower {lowest:?} is nearer than higher {highest:?}");
    }

    #[test]
    fn a_cylinder_has_flat_ends_not_the_cones_a_photo_cannot_rule_out() {
        let (radius, height, elevation) = (60.0, 200.0, 25f64.to_radians());
        let mesh = polygon(&cylinder_silhouette(radius, height, elevation));
        let revolution = Revolution::fit(&RowRuns::new(&mesh), elevation).expect("a solid of revolution");
        let discs: Vec<(usize, f64)> =
            revolution.radius.iter().copied().enumerate().filter(|&(_, r)| r > 0.0).collect();
        let (first, last) = (discs[0], discs[discs.len() - 1]);
        // Without flat ends the discs would run R·tan θ (28 px) further at each end, shrinking to points.
        let span = (last.0 - first.0) as f64 * revolution.step;
        assert!((span - height).abs() <= 6.0, "the discs span {span} along the axis, the cylinder {height}");
        for (k, r) in [first, last] {
            assert!((r - radius).abs() <= 3.0, "the end disc at {k} has radius {r}, the cylinder {radius}");
        }
    }

    #[test]
    fn a_body_with_a_handle_is_a_solid_of_revolution_and_a_tube() {
        // The cylinder (radius 60) with a handle on its right over a quarter of its height (a loop 10 thick around
        // a hole): those rows are uneven, the rest even.
        let (radius, elevation) = (60.0, 25f64.to_radians());
        let mut outline = cylinder_silhouette(radius, 200.0, elevation);
        outline.extend([[360.0, 260.0], [400.0, 260.0], [400.0, 200.0], [360.0, 200.0]]);
        let hole = vec![[362.0, 210.0], [390.0, 210.0], [390.0, 250.0], [362.0, 250.0]];
        let mesh = triangulate(&[outline, hole], true, 20.0, 100_000).expect("mesh").1;
        let revolution = Revolution::fit(&RowRuns::new(&mesh), ELEVATION_DEGREES.to_radians()).expect("a body");
        let u = solve_poisson(&mesh, usize::MAX);
        let (_, half) = revolution.lift(&mesh, &u, 0.0, 250.0);
        let near = |x: f64, y: (f64, f64)| {
            mesh.points.iter().zip(&half).filter(move |(p, _)| (p[0] - x).abs() < 4.0 && p[1] > y.0 && p[1] < y.1)
        };
        // The body keeps its own width where the bar joins it (not the bar's outer edge mirrored).
        let expected = radius / elevation.cos();
        let body: Vec<f64> = near(300.0, (205.0, 255.0)).map(|(_, h)| *h).collect();
        assert!(!body.is_empty());
        for h in body {
            assert!((h - expected).abs() < 0.08 * expected, "half-thickness {h} at the axis, expected {expected}");
        }
        // The handle is a tube about as deep as it is thick.
        let handle: Vec<f64> = near(395.0, (212.0, 248.0)).map(|(_, h)| *h).collect();
        assert!(!handle.is_empty());
        for h in handle {
            assert!(h < 9.0, "half-thickness {h} in a handle 10 thick");
        }
    }

    #[test]
    fn lopsided_parts_are_not_solids_of_revolution() {
        // A parallelogram leaning right: every row is centred elsewhere.
        let outline: Vec<[f64; 2]> = (0..20)
            .map(|i| [100.0 + 10.0 * f64::from(i), 300.0])
            .chain((0..20).map(|i| [300.0 + 5.0 * f64::from(i), 300.0 - 10.0 * f64::from(i)]))
            .chain((0..20).map(|i| [400.0 - 10.0 * f64::from(i), 100.0]))
            .chain((0..20).map(|i| [200.0 - 5.0 * f64::from(i), 100.0 + 10.0 * f64::from(i)]))
            .collect();
        let mesh = polygon(&outline);
        assert!(Revolution::fit(&RowRuns::new(&mesh), ELEVATION_DEGREES.to_radians()).is_none());
        // An L: the upright bar's rows are even, but its foot is no handle (two fifths of the part).
        let ell = [[60.0, 40.0], [60.0, 240.0], [260.0, 240.0], [260.0, 180.0], [120.0, 180.0], [120.0, 40.0]];
        let outline: Vec<[f64; 2]> = (0..6)
            .flat_map(|i| {
                let (a, b) = (ell[i], ell[(i + 1) % 6]);
                (0..10).map(move |k| {
                    [a[0] + (b[0] - a[0]) * f64::from(k) / 10.0, a[1] + (b[1] - a[1]) * f64::from(k) / 10.0]
                })
            })
            .collect();
        let mesh = polygon(&outline);
        assert!(Revolution::fit(&RowRuns::new(&mesh), ELEVATION_DEGREES.to_radians()).is_none());
    }

    #[test]
    fn a_bar_held_out_stays_a_tube() {
        // 300 wide, 30 tall: rows are long, but the bar is narrow across, so it is about as deep as it is tall.
        let outline: Vec<[f64; 2]> = (0..30)
            .map(|i| [10.0 * f64::from(i), 0.0])
            .chain((0..3).map(|i| [300.0, 10.0 * f64::from(i)]))
            .chain((0..30).map(|i| [300.0 - 10.0 * f64::from(i), 30.0]))
            .chain((0..3).map(|i| [0.0, 30.0 - 10.0 * f64::from(i)]))
            .collect();
        let mesh = polygon(&outline);
        // Symmetric, but no stack of discs seen from above casts a long level bar; nor is it a solid lying on its
        // side: level in the picture, it would lie square to the line of sight, not three-quarters.
        assert!(Revolution::fit(&RowRuns::new(&mesh), ELEVATION_DEGREES.to_radians()).is_none());
        assert!(LyingRevolution::fit(&mesh, ELEVATION_DEGREES.to_radians()).is_none());
        let u = solve_poisson(&mesh, usize::MAX);
        let deepest = half_thickness(&mesh, &u, 0.0).into_iter().fold(0.0, f64::max);
        assert!(deepest < 30.0, "half-thickness {deepest} for a bar 30 tall");
        assert!(deepest > 10.0, "half-thickness {deepest} for a bar 30 tall");
    }
}
