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
//!    `1/tan θ` per unit of image height. A part whose lowest point is higher than the lowest of all parts (two objects
//!    side by side, one behind the other) is placed farther back; and a part that stands on a slanted line (an edge of
//!    its lower convex hull between two contacts: two wheels, two feet, a book's bottom edge; else the line through its
//!    two lowest feet, [`two_feet_slope`]) is turned to recede along it (a vehicle or an animal seen three-quarters),
//!    with its rows' circles narrowed to the object's width across that direction and a body lying along the turn
//!    crossed slantwise ([`turned_half_thickness`]), when that turn is a three-quarter view's
//!    ([`THREE_QUARTER_TURNS`]). Where the outline also shows the floor edge across it, from the nearest corner (a
//!    truck's front wheels, a cow's front hooves), the part turns along the line on the wider side of that corner
//!    ([`ground_slope`]), also further than a three-quarter view (to [`FLOOR_BOX_TURN`]), and the two floor edges span
//!    a box ([`ground_box`]): a part that nearly fits it, and whose outline runs up one of its ends as a box's corner
//!    does ([`has_a_vertical_end`]), lies where its lines of sight cross it, its legs and wheels tubes within it, each
//!    thin member whose lowest point is on the floor standing where that point's line of sight meets the floor (a
//!    chair's near legs on the near floor edges, its far legs farther back), the other thin members against the box's
//!    far side; a part that does not fit (a head and a tail beyond it) is at least no deeper than its width. A part no
//!    floor turned that stands on two feet or more (a walking figure) has each foot where its line of sight meets the
//!    floor, its legs leaning back to it from the hip ([`feet_on_the_floor`]).
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

mod cuboid;
mod floor;
mod outline;
mod revolution;

use crate::triangulate::Mesh2;
use cuboid::Cuboid;
use floor::{
    FLOOR_BOX_TURN, feet_on_the_floor, ground_box, ground_box_lift, ground_slope, has_a_vertical_end, two_feet_slope,
};
use outline::{RowRuns, bounds, ellipse_likeness, silhouette_hull};
use revolution::{LyingRevolution, Revolution};

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

/// A part whose silhouette is an ellipse to this degree (its [`ellipse_likeness`]) is taken for a round blob,
/// which looks alike from any elevation and does not lean; below [`NOT_ELLIPTIC`] it leans fully, between the two
/// in proportion. A disc scores 1, a fruit with its stem 0.95, a can or a fist 0.87, a bottle 0.84.
const ELLIPTIC: f64 = 0.95;
/// See [`ELLIPTIC`].
const NOT_ELLIPTIC: f64 = 0.90;

/// The turns (degrees from facing the camera) a floor's evidence may give a part: a product photo shows its object
/// three-quarters. A line of support that would turn it further (a standing figure's two feet, a running animal's
/// hooves in the air, a handle's bottom beside a base) is not the floor under its length, and the part is not turned by
/// it; nor is one that would turn it hardly at all (a tail's tip and a foot). Two floor edges that agree on the
/// camera's elevation are a floor at any smaller turn (a chair seen from 15°) and at any larger one up to
/// [`FLOOR_BOX_TURN`], a part showing them turned as far as they say up to that: an animal seen nearer head-on than
/// three-quarters (the camel of `tests/fixtures/objects-unseen`, seen 35° from head-on, reads 56°; not turned, side IoU
/// 0.33 and top 0.36, turned by 50° 0.58 and 0.66, by 55° 0.67 and 0.64). On the objects of `tests/fixtures/objects`,
/// the floors that are (a truck's, a chair's, a cow's) give 34–35°; on the second set (`tests/fixtures/objects-second`)
/// the floors that are not gave 14–18° and 53–72°. The third set (`tests/fixtures/objects-turned`) sees objects of both
/// from 20° to 50°.
const THREE_QUARTER_TURNS: std::ops::RangeInclusive<f64> = 20.0..=50.0;

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
    let two_feet = || two_feet_slope(&hull, &runs, lo, hi).map(|slope| slope * floor);
    let recede = recede_on_floor(ground_slope(&hull, lo, hi, ground.is_some()) * floor, ground.is_some(), two_feet);
    // A part turned by `recede` is that much wider across the picture than across itself, and a body lying along
    // that turn is crossed slantwise by the line of sight, over its height seen in the picture / cos t.
    let turn = Turn {
        across: deeper / (1.0 + recede * recede).sqrt(),
        slantwise: if recede == 0.0 { None } else { Some((1.0 + (recede / elevation.cos()).powi(2)).sqrt()) },
    };
    // A part whose floor edges give its width, though much of it lies outside that box (a cow's head and tail),
    // is still no deeper than that width crossed slantwise.
    let slab = ground.map_or(f64::MAX, |ground| deeper * (ground.half_extents[1] - 1.0) / ground.axes[0][0].abs());
    let half = turned_half_thickness(mesh, &runs, u, eps, turn).into_iter().map(|h| h.min(slab) * depth).collect();
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

/// How far a part recedes per unit of picture width from its floor's evidence (on a floor seen from
/// [`ELEVATION_DEGREES`], a part turned by t recedes by tan t · cos θ): `along_floor`, its line of support's, where
/// that is a three-quarter turn ([`THREE_QUARTER_TURNS`]), or where the part shows both its floor edges (`floor_box`)
/// any turn beyond, to at most [`FLOOR_BOX_TURN`] (an animal seen nearer head-on than three-quarters); else the line
/// through its two lowest feet's (`two_feet`) where that is a three-quarter turn; else none. A line of support that
/// would turn a part other than three-quarters without a floor box is not the floor under its length.
fn recede_on_floor(along_floor: f64, floor_box: bool, two_feet: impl FnOnce() -> Option<f64>) -> f64 {
    let elevation = ELEVATION_DEGREES.to_radians();
    let turn = |recede: f64| (recede.abs() / elevation.cos()).atan().to_degrees();
    let three_quarter = |recede: &f64| THREE_QUARTER_TURNS.contains(&turn(*recede));
    if floor_box && turn(along_floor) > *THREE_QUARTER_TURNS.end() {
        let steepest = FLOOR_BOX_TURN.to_radians().tan() * elevation.cos();
        return along_floor.clamp(-steepest, steepest);
    }
    Some(along_floor).filter(three_quarter).or_else(|| two_feet().filter(three_quarter)).unwrap_or(0.0)
}

/// The half-thickness (working pixels) at every vertex of `mesh`: zero on the silhouette, positive inside.
/// `u` is the Poisson solution on `mesh`, `eps` the rim offset that keeps the first triangles from being slivers.
pub(crate) fn half_thickness(mesh: &Mesh2, u: &[f64], eps: f64) -> Vec<f64> {
    turned_half_thickness(mesh, &RowRuns::new(mesh), u, eps, Turn { across: 1.0, slantwise: None })
}

/// How a part's turn on its floor changes its thickness (see [`turned_half_thickness`]).
#[derive(Debug, Clone, Copy)]
struct Turn {
    /// The factor on each row's circle: a part turned on its floor is wider across the picture than across itself.
    across: f64,
    /// For a part turned by t, `1/cos t`: how much longer than a body's height in the picture the line of sight
    /// crosses it, where the body lies along the turn (an animal's trunk).
    slantwise: Option<f64>,
}

/// [`half_thickness`] of a part turned on its floor (`rows`: the part's [`RowRuns`]): each row's circle scaled by the
/// turn's `across`, and for a turned part capped by its column's circle (the vertical run through the point, as a
/// circle in depth) times `slantwise`. A body that lies along the turn is round about its own length, and as deep as it
/// is tall: a row through it spans its length turned (its width only slantwise), where its column spans its height. At
/// its ends (a chest, a rump, a head) the rows are short, and they decide. On the turned cows and triceratops of the
/// fixtures it took top IoU 0.69 → 0.74 (the cow from 25°), 0.60 → 0.61 (the triceratops from 35°), F-score at 5 % 0.83
/// → 0.87 and 0.67 → 0.74.
fn turned_half_thickness(mesh: &Mesh2, rows: &RowRuns<'_>, u: &[f64], eps: f64, turn: Turn) -> Vec<f64> {
    // The columns are the rows of the part mirrored about its diagonal (image x and y swapped).
    let transposed = turn.slantwise.map(|_| Mesh2 {
        points: mesh.points.iter().map(|p| [p[1], p[0]]).collect(),
        tris: mesh.tris.clone(),
        boundary: mesh.boundary.clone(),
    });
    let columns = transposed.as_ref().map(RowRuns::new);
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
            let row = median_circle(rows, *p, eps).unwrap_or(tube);
            let rows_say = row.min(ROUNDNESS_CAP * tube).max(ROUNDNESS_FLOOR * tube) * turn.across;
            match (&columns, turn.slantwise) {
                (Some(columns), Some(slantwise)) => median_circle(columns, [p[1], p[0]], eps)
                    .map_or(rows_say, |column| rows_say.min(column * slantwise)),
                _ => rows_say,
            }
        })
        .collect();
    smooth(mesh, &mut half);
    half
}

/// The half-thickness the runs around `p` give it (its row's run and those a little above and below, each a circle
/// in depth at `p`'s x), their median: a row that also crosses where a handle or a spout joins the body is wider
/// than the body's rows above and below, and must not make the body bulge there; a profile that only widens or
/// narrows (a sphere's, a bottle's) keeps the point's own row. `None` where no run reaches `p`'s column.
fn median_circle(runs: &RowRuns<'_>, p: [f64; 2], eps: f64) -> Option<f64> {
    let circle = |(left, right): (f64, f64)| {
        let (centre, radius) = ((left + right) / 2.0, (right - left) / 2.0);
        let across = (radius * radius - (p[0] - centre).powi(2)).max(0.0);
        (across + eps * eps).sqrt() - eps
    };
    let reach = ATTACHMENT_ROWS * runs.height;
    let mut circles: Vec<f64> =
        [-1.0, -0.5, 0.0, 0.5, 1.0].iter().filter_map(|k| runs.run_at([p[0], p[1] + k * reach]).map(circle)).collect();
    circles.sort_by(f64::total_cmp);
    (!circles.is_empty()).then(|| circles[(circles.len() - 1) / 2])
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

#[cfg(test)]
mod tests {
    use super::floor::{BODY_OVER_FEET, standing_on_floor};
    use super::outline::convex_hull;
    use super::*;
    use crate::heights::solve_poisson;
    use crate::triangulate::triangulate;

    fn polygon(points: &[[f64; 2]]) -> Mesh2 {
        triangulate(&[points.to_vec()], true, 20.0, 100_000).expect("mesh").1
    }

    /// A `width` × `height` rectangle's outline from the origin, a point every 10 (both a multiple of 10).
    fn rectangle(width: f64, height: f64) -> Vec<[f64; 2]> {
        let (across, up) = ((width / 10.0) as u32, (height / 10.0) as u32);
        (0..across)
            .map(|i| [10.0 * f64::from(i), 0.0])
            .chain((0..up).map(|i| [width, 10.0 * f64::from(i)]))
            .chain((0..across).map(|i| [width - 10.0 * f64::from(i), height]))
            .chain((0..up).map(|i| [0.0, height - 10.0 * f64::from(i)]))
            .collect()
    }

    #[test]
    fn an_upright_rectangle_is_a_cylinder_seen_from_its_side() {
        // 60 wide, 200 tall: every row's run is the full width, so the middle rows are circles of radius 30.
        let mesh = polygon(&rectangle(60.0, 200.0));
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

    #[test]
    fn a_turned_body_is_as_deep_as_it_is_tall_crossed_slantwise() {
        // 400 wide, 100 tall: a body lying along its turn. Its rows say 1.2·√u deep (the cap), its columns 50.
        let mesh = polygon(&rectangle(400.0, 100.0));
        let u = solve_poisson(&mesh, usize::MAX);
        let middle = |half: &[f64]| {
            let near: Vec<f64> = mesh
                .points
                .iter()
                .zip(half)
                .filter(|(p, _)| (p[0] - 200.0).abs() < 60.0 && (p[1] - 50.0).abs() < 5.0)
                .map(|(_, h)| *h)
                .collect();
            near.iter().sum::<f64>() / near.len() as f64
        };
        let rows = RowRuns::new(&mesh);
        let facing = middle(&turned_half_thickness(&mesh, &rows, &u, 0.0, Turn { across: 1.0, slantwise: None }));
        assert!(facing > 75.0, "rows alone give the cap, about 1.2 · 0.71 · 100 = 85: {facing}");
        // Turned by 40°: 1/cos 40° = 1.31, so 50 · 1.31 = 65 where the rows (narrowed by cos 40°) still say 65.
        let slantwise = 1.0 / 40f64.to_radians().cos();
        let turn = Turn { across: 1.0, slantwise: Some(slantwise) };
        let turned = middle(&turned_half_thickness(&mesh, &rows, &u, 0.0, turn));
        assert!((turned - 50.0 * slantwise).abs() < 4.0, "the column's circle crossed slantwise, 65.3: {turned}");
    }

    #[test]
    fn a_part_showing_both_floor_edges_turns_along_the_wider_not_their_average() {
        // The lower hull falls 40 px over 200 from the left to the nearest corner (the line along the part) and rises
        // 20 px over 100 from it to the right (the line across).
        let hull = convex_hull(vec![[0.0, 0.0], [300.0, 0.0], [300.0, 100.0], [200.0, 120.0], [0.0, 80.0]]);
        let (lo, hi) = ([0.0, 0.0], [300.0, 120.0]);
        assert!((ground_slope(&hull, lo, hi, true) - 0.2).abs() < 1e-9);
        assert!((ground_slope(&hull, lo, hi, false) - 20.0 / 300.0).abs() < 1e-9, "one line: averaged");
    }

    #[test]
    fn floor_edges_turn_a_part_further_than_three_quarters_up_to_a_floor_box_turn() {
        let cos_elevation = ELEVATION_DEGREES.to_radians().cos();
        let recede = |degrees: f64| f64::to_radians(degrees).tan() * cos_elevation;
        let turn = |recede: f64| (recede.abs() / cos_elevation).atan().to_degrees();
        let no_feet = || None;
        assert!((turn(recede_on_floor(recede(35.0), false, no_feet)) - 35.0).abs() < 1e-9);
        // Past three-quarters: a line of support alone is not a floor, two floor edges are, up to 55°.
        assert_eq!(recede_on_floor(recede(53.0), false, no_feet), 0.0);
        assert!((turn(recede_on_floor(recede(53.0), true, no_feet)) - 53.0).abs() < 1e-9);
        assert!((turn(recede_on_floor(-recede(60.0), true, no_feet)) - FLOOR_BOX_TURN).abs() < 1e-9);
        assert!(recede_on_floor(-recede(60.0), true, no_feet) < 0.0, "the same way as the floor edges");
        // Without a floor box, the two lowest feet are asked next.
        assert!((turn(recede_on_floor(recede(60.0), false, || Some(recede(40.0)))) - 40.0).abs() < 1e-9);
        assert_eq!(recede_on_floor(recede(10.0), false, || Some(recede(60.0))), 0.0);
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
        // A body on two legs, the right one ending 30 px higher: its foot is farther back, by 1/tan θ per row, and the
        // body stands over its feet, BODY_OVER_FEET of their mean distance (15 px of height) back.
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
        let body = -BODY_OVER_FEET * 15.0 * floor;
        for (p, s) in mesh.points.iter().zip(&shift) {
            if p[1] < 250.0 {
                assert!((s - body).abs() < 1e-6, "the body at {p:?} moved {s}, not {body}");
            } else if p[0] < 150.0 && p[1] >= 399.0 {
                assert!(s.abs() < 1e-9, "the near foot stays: {p:?} moved {s}");
            } else if p[0] > 150.0 && p[1] >= 369.0 {
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
