//! The floor (rule 4 of the [thickness](super) rules): the line a part stands on and the turn it gives, the box two
//! floor edges span and how a part fills it, and feet where their lines of sight meet the floor.

use super::cuboid::Cuboid;
use super::outline::{RowRuns, connected_sets};
use super::{Lift, ROUNDNESS_CAP, ROUNDNESS_FLOOR, smooth};
use crate::triangulate::Mesh2;

/// The share of a part's height, from its bottom, within which its lower hull may touch the floor.
pub(super) const GROUND_BAND: f64 = 0.4;

/// The least width, as a share of the part's, of a lower hull edge that counts as a line of support between two
/// ground contacts (two wheels, two feet, a book's bottom edge); a round base's hull has only short edges.
pub(super) const SUPPORT_WIDTH: f64 = 0.2;

/// The largest turn (degrees from facing the camera) at which two floor edges that agree on the camera's elevation are
/// taken for a floor: a little past the widest three-quarter turn
/// ([`THREE_QUARTER_TURNS`](super::THREE_QUARTER_TURNS)), since the truck of `tests/fixtures/objects-turned` seen from
/// 50° reads 50.0° one way and just over it mirrored (without the margin it lost its box mirrored: side IoU 0.81 →
/// 0.62); the floor boxes misread from a figure's feet gave 72°.
pub(super) const FLOOR_BOX_TURN: f64 = 55.0;

/// A floor box whose shorter horizontal side is less than this share of its longer is a plate standing on edge,
/// which no floor evidence in a picture distinguishes from a misread (a figure's feet gave one 14 px wide and
/// 186 px long).
pub(super) const FLOOR_BOX_SIDES: f64 = 1.0 / 6.0;

/// How far back (working pixels, negative) each vertex of a part standing on the floor moves so that each of its
/// feet stands where its line of sight meets the floor: a walking figure's far foot is higher in the picture than
/// its near one because it is farther back, by `1/tan θ` (`floor`) per unit of height above the part's lowest
/// point. Only for a part its floor did not turn: the cow of `tests/fixtures/objects`, turned along its near
/// hooves, lost side IoU 0.71 → 0.67 and F-score at 5 % 0.80 → 0.68 when its far legs were moved back as well (its
/// rows already span its width, and its far hooves' height above the turned floor line is not all depth). The feet
/// are the separate pieces of the part below a cut across it (legs, with air between them), each reaching within
/// [`FOOT_REACH`] of the floor line; the cut is the highest, in steps of 5 % of the part's height from 45 % down
/// to 10 %, that leaves two or more feet. The rest of the part (the body, the arms) stands over its feet, moved
/// back [`BODY_OVER_FEET`] of their mean distance, and each leg leans from there at the cut (the hip) to its foot's
/// full distance at its foot. A part with fewer than two feet stays as it is. The standing figure of
/// `tests/fixtures/objects-second`, its far foot 11 % of its height above its near one: side IoU 0.34 → 0.37, top
/// 0.44 → 0.59, F-score at 5 % 0.53 → 0.72 with the body over its near foot; over its feet 0.44, 0.64, 0.82.
pub(super) fn feet_on_the_floor(mesh: &Mesh2, lo: [f64; 2], hi: [f64; 2], floor: f64) -> Vec<f64> {
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
        let mean_rise = feet.iter().map(|(_, rise)| rise).sum::<f64>() / feet.len() as f64;
        let body = -BODY_OVER_FEET * mean_rise * floor;
        shift.iter_mut().for_each(|s| *s = body);
        for (piece, rise) in feet {
            let foot_y = piece.iter().map(|&v| mesh.points[v][1]).fold(f64::MIN, f64::max);
            for v in piece {
                let along = ((mesh.points[v][1] - cut) / (foot_y - cut).max(1.0)).clamp(0.0, 1.0);
                shift[v] = body + along * (-rise * floor - body);
            }
        }
        break;
    }
    shift
}

/// How far back a body standing on its feet is moved, as a share of its feet's mean distance back (see
/// [`feet_on_the_floor`]): over the middle of a stride (1) is where a walker's weight is, but there the figure of
/// `tests/fixtures/objects-turned` seen from 50° lost top IoU (0.555 → 0.529) where over its near foot (0) it had
/// the most deep a model (depth ratio 1.17). Measured on the two figures of the fixtures at 0, ½, ¾ and 1: ¾ gave
/// the least Chamfer distance on both (0.037 → 0.029 and 0.046 → 0.037), side IoU 0.37 → 0.44 and 0.30 → 0.35, top
/// 0.59 → 0.64 and 0.56 → 0.58; ½ 0.44 / 0.34 side, 0.65 / 0.62 top; 1 0.42 / 0.33, 0.60 / 0.53.
pub(super) const BODY_OVER_FEET: f64 = 0.75;

/// How far above the floor line (a share of the part's height) a foot may end and still stand on the floor (see
/// [`feet_on_the_floor`]): at 20° a foot that high is 0.41 of the part's height farther back, a long stride; one
/// higher is taken to be lifted (a running animal's hoof).
pub(super) const FOOT_REACH: f64 = 0.15;

/// The slope (image y down per unit of x) of the line through a part's two lowest feet: the lowest point of its
/// silhouette's hull in the floor band and the lowest other one at least [`SUPPORT_WIDTH`] of the part's width
/// away with air between the two (the line between them is outside the silhouette at a quarter, half and three
/// quarters of its length: two legs, not a heel and a toe under an arch, which turned the figure of
/// `tests/fixtures/objects-turned` seen mirrored from 50° by 43°). On a floor seen from above the two nearest
/// contacts lie on the floor's near line, which turns the part; [`ground_slope`] averages every support edge and
/// is misled by a low chin or muzzle beside the feet (the triceratops of `tests/fixtures/objects-second`: its
/// hull's edge from the front foot to the chin turned it 18° the wrong way).
pub(super) fn two_feet_slope(hull: &[[f64; 2]], runs: &RowRuns<'_>, lo: [f64; 2], hi: [f64; 2]) -> Option<f64> {
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
/// base, a single point of support). Where the part shows both its floor edges (`two_floor_edges`: it has a
/// [`ground_box`]), the edges falling to its nearest corner and those rising from it are two lines, one along it
/// and one across it, and only the side with the wider edges is averaged: averaged with its floor edge across, the
/// cow of `tests/fixtures/objects-turned` seen from 50° turned 26° (side IoU 0.53, F-score at 5 % 0.52), along its
/// near hooves alone 51° (0.75, 0.82). Without both floor edges the two sides are not told apart from a chin or a
/// muzzle beside a foot (the triceratops of `tests/fixtures/objects-second`: side IoU 0.66 → 0.48 when split).
pub(super) fn ground_slope(hull: &[[f64; 2]], lo: [f64; 2], hi: [f64; 2], two_floor_edges: bool) -> f64 {
    let floor_line = hi[1] - GROUND_BAND * (hi[1] - lo[1]);
    // Width and rise of the edges falling to the right (index 0) and rising to it (1), or of all in one.
    let (mut width, mut rise) = ([0.0; 2], [0.0; 2]);
    // The hull runs left to right along its top and back along its bottom: the bottom's edges go leftward.
    for i in 0..hull.len() {
        let (right, left) = (hull[i], hull[(i + 1) % hull.len()]);
        let spans = right[0] - left[0] >= SUPPORT_WIDTH * (hi[0] - lo[0]);
        if spans && left[1] >= floor_line && right[1] >= floor_line {
            let side = usize::from(!two_floor_edges || right[1] < left[1]);
            width[side] += right[0] - left[0];
            rise[side] += right[1] - left[1];
        }
    }
    let side = usize::from(width[1] >= width[0]);
    if width[side] > 0.0 { rise[side] / width[side] } else { 0.0 }
}

/// The box a part standing on a floor fills, when its silhouette shows both of its floor edges: a box (or a
/// vehicle, an animal) turned on a floor and seen from above touches the floor along two lines from its nearest
/// corner, one along it and one across it, rising in the picture to either side. The line along it is the widest
/// line of support ([`ground_slope`]'s); the line across is the longest lower hull edge beyond the support's lower
/// end whose slope, with the support's, gives a plausible elevation (their product is `−sin² θ`, see [`Cuboid`]).
/// The box spans the part's width across the picture and its height.
pub(super) fn ground_box(hull: &[[f64; 2]], lo: [f64; 2], hi: [f64; 2]) -> Option<Cuboid> {
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
pub(super) fn ground_box_lift(ground: &Cuboid, mesh: &Mesh2, u: &[f64], eps: f64) -> Option<Lift> {
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
pub(super) const FLOOR_CONTACT: f64 = 2.0;

/// A point where a part stands on the floor: its image row and the depth at which its line of sight meets the
/// floor.
pub(super) struct Foot {
    pub(super) y: f64,
    pub(super) floor: f64,
}

/// `p` (image x, image y down) as a point on the floor, when its line of sight meets the floor where the box is; a
/// point above the floor (a back's slats above the seat) meets it beyond the box.
pub(super) fn standing_on_floor(ground: &Cuboid, p: [f64; 2]) -> Option<Foot> {
    let floor = ground.floor_depth(p)?;
    let (far, near, _) = ground.crossing(p);
    (floor >= far - FLOOR_CONTACT && floor <= near + FLOOR_CONTACT).then_some(Foot { y: p[1], floor })
}

/// A vertex is part of a thin member (a leg, a wheel, a strut) where its tube is at most this share of the box's
/// depth along its line of sight.
pub(super) const THIN_MEMBER: f64 = 0.5;

/// The thin members of a part in its ground box: the connected sets of vertices (along the mesh's edges) that the
/// box holds and whose tube (`half`) is at most [`THIN_MEMBER`] of the box's depth there (`room`); silhouette
/// vertices join the member of an inside neighbour.
pub(super) fn thin_members(mesh: &Mesh2, room: &[f64], half: &[f64], missed: &[bool]) -> Vec<Vec<usize>> {
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
pub(super) fn has_a_vertical_end(runs: &RowRuns<'_>, lo: [f64; 2], hi: [f64; 2]) -> bool {
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
pub(super) const VERTICAL_END: f64 = 0.3;
/// See [`has_a_vertical_end`], as a share of the part's width.
pub(super) const VERTICAL_END_WIDTH: f64 = 0.04;

/// The largest share of a part's vertices outside its [`ground_box`] (a cab's front beyond the far wheel, a mirror,
/// an ear): those lie where their line of sight passes the box, a little thick.
pub(super) const GROUND_BOX_MISSES: f64 = 0.15;

/// How far (a share of its slope) an edge's slope may differ from the floor edge's to continue it.
pub(super) const FLOOR_EDGE_BEND: f64 = 0.25;

/// The elevations (degrees) the two floor edges of [`ground_box`] may imply.
pub(super) const FLOOR_ELEVATIONS: std::ops::RangeInclusive<f64> = 10.0..=30.0;
