//! Solids of revolution (rule 6 of the [thickness](super) rules): upright or lying on their side, each the largest
//! stack of discs its silhouette allows, its ends flat where the photo cannot see them.

use super::outline::{Moments, RowRuns, bounds, moments};
use super::{Lift, ROUNDNESS_CAP, ROUNDNESS_FLOOR, THREE_QUARTER_TURNS, smooth};
use crate::triangulate::{Mesh2, boundary_edges};

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
pub(super) struct Revolution {
    /// The axis (image x).
    pub(super) axis: f64,
    /// The part's lowest row (image y, down): picture height `v` is `bottom − y`.
    pub(super) bottom: f64,
    /// `r(h)` at `h = k · step` for `k = 0, 1, …`.
    pub(super) radius: Vec<f64>,
    /// The spacing of the profile's samples along the axis (working pixels).
    pub(super) step: f64,
    /// `sin θ` and `cos θ` of the camera's elevation.
    pub(super) sin: f64,
    pub(super) cos: f64,
}

/// A row is even when its body's widths left and right of the axis differ by at most this share of its half-width
/// (plus two pixels). A part is a whole solid of revolution when at least [`REVOLUTION_EVEN_ROWS`] of its rows are,
/// a body of revolution with attachments when at least [`CORE_EVEN_ROWS`] are. On the fixtures: the lathed objects
/// 0.81–0.99 (an apple's leaf and a goblet's foot that lost its shadow side make the uneven ones), the mug 0.85
/// (its handle's joins, which discs cannot cast, so it is a body with an attachment), the teapot 0.47 (its spout
/// joins the lower half); the fist 0.36, the truck 0.28, the cow 0.11, the chair 0.08.
pub(super) const REVOLUTION_UNEVEN: f64 = 0.08;
/// See [`REVOLUTION_UNEVEN`].
pub(super) const REVOLUTION_EVEN_ROWS: f64 = 0.75;
/// See [`REVOLUTION_UNEVEN`].
pub(super) const CORE_EVEN_ROWS: f64 = 0.4;
/// The largest share of a part's area its attachments may take (the part beyond the body's silhouette, row by
/// row): the teapot's spout and handle take 0.10, the mug's handle 0.07, a bar's long foot (an L) 0.41.
pub(super) const ATTACHMENTS: f64 = 0.25;
/// The most of a symmetric silhouette that the discs may leave uncovered ([`shortfall`]) for the part to be taken
/// for a solid of revolution; the lathed objects of the fixtures leave at most 0.7 %.
pub(super) const REVOLUTION_SHORTFALL: f64 = 0.02;

impl Revolution {
    /// The solid of revolution whose silhouette the part is, if the part is symmetric about a vertical line.
    pub(super) fn fit(runs: &RowRuns<'_>, elevation: f64) -> Option<Revolution> {
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
pub(super) struct LyingRevolution {
    /// The upright solid, in the turned picture.
    pub(super) revolution: Revolution,
    /// The part's vertices in the turned picture.
    pub(super) turned: Mesh2,
}

impl LyingRevolution {
    /// The lying solid of revolution whose silhouette the part is, if it is one (see the type's documentation).
    pub(super) fn fit(mesh: &Mesh2, elevation: f64) -> Option<LyingRevolution> {
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
            let points: Vec<[f64; 2]> = mesh
                .points
                .iter()
                .map(|p| {
                    let (dx, dy) = (p[0] - centre[0], p[1] - centre[1]);
                    [centre[0] + ay * dx - ax * dy, centre[1] + ax * dx + ay * dy]
                })
                .collect();
            // The turned outline has the part's own edges; the triangles are copied only for a solid that fits.
            let revolution = Revolution::fit(&RowRuns::with_outline(&points, boundary_edges(&mesh.tris)), tilt)?;
            let turned = Mesh2 { points, tris: mesh.tris.clone(), boundary: mesh.boundary.clone() };
            Some(LyingRevolution { revolution, turned })
        })
    }

    /// Where each vertex lies: the upright solid's lift in the turned picture (depth does not change when a picture
    /// turns in its own plane), smoothed like it.
    pub(super) fn lift(&self, mesh: &Mesh2, u: &[f64], eps: f64) -> Lift {
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
pub(super) fn sharp_elevation(widths: &[(f64, f64)], height: f64, step: f64) -> Option<f64> {
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
pub(super) const ELEVATION_JUMP: f64 = 4.0;
/// See [`sharp_elevation`].
pub(super) const ELEVATION_SHORTFALL: f64 = 0.005;

/// The largest profile `r(h)` (at `h = k · step`) whose discs, seen from the elevation whose sine and cosine are
/// given, stay within the half-widths `(v, w(v))`: see [`Revolution`].
pub(super) fn profile(widths: &[(f64, f64)], height: f64, step: f64, sin: f64, cos: f64) -> Vec<f64> {
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
pub(super) fn flatten_hidden_ends(radius: &mut [f64], widths: &[(f64, f64)], step: f64, sin: f64, cos: f64) {
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
pub(super) const FLAT_ENDS_REACH: f64 = 2.0;
/// The least radius, as a share of the profile's widest, of a disc that is a flat end (a can's foot and top, a
/// goblet's foot); a sphere touches the silhouette's ends with discs 0.42 of its radius across at 25° (`sin θ`),
/// and a disc in the picture had become a sphere 0.06 of its diameter short at each pole.
pub(super) const FLAT_END_WIDTH: f64 = 0.6;
/// See [`flatten_hidden_ends`]: the most the flat ends may add to the share of the silhouette left uncovered.
pub(super) const FLAT_ENDS_SHORTFALL: f64 = 0.005;

/// How much of the silhouette the profile's discs leave uncovered: the rows' half-widths beyond the discs'
/// envelope, summed, as a share of the half-widths summed.
pub(super) fn shortfall(widths: &[(f64, f64)], radius: &[f64], step: f64, sin: f64, cos: f64) -> f64 {
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
    /// frame, the axis at picture height `middle_y` at zero) and half its length, capped like every part's by its local
    /// roundness (`u`, `eps` as in [`half_thickness`](super::half_thickness)) so that an arm or a handle of a symmetric
    /// figure stays a tube. A vertex whose line of sight misses them (a pixel of an outline the discs do not quite
    /// fill) lies where the line passes nearest them, a sliver thick.
    pub(super) fn lift(&self, mesh: &Mesh2, u: &[f64], eps: f64, middle_y: f64) -> (Vec<f64>, Vec<f64>) {
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
