//! Boxes: a part whose silhouette is a box's (rule 5 of the [thickness](super) rules), and the box a part standing
//! on a floor fills (rule 4's floor box).

use super::Lift;
use super::outline::{polygon_area, triangle_area};
use crate::triangulate::Mesh2;

/// A box standing upright, seen from above: its silhouette is a convex hexagon whose opposite edges are parallel,
/// one pair vertical (the box's height) and two slanted (its length and its width, one rising and one falling to
/// the right). Those two slopes give the camera's elevation (their product is `−sin² θ`) and the box's turn, their
/// lengths its length and width: so a book or a phone comes out as thin as it is, and a carton as deep.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cuboid {
    /// The hexagon's centre (image x, image y down).
    pub(super) centre: [f64; 2],
    /// The box's axes in the camera's frame (x right, y up, z toward the camera), unit length.
    pub(super) axes: [[f64; 3]; 3],
    /// Half the box's length, width and height (working pixels), with a margin of a pixel.
    pub(super) half_extents: [f64; 3],
}

/// A part counts as convex when its area is at least this share of its convex hull's (a book's rounded spine
/// and the straps on it leave 0.95).
pub(super) const CUBOID_CONVEX: f64 = 0.94;
/// The hexagon keeps at least this share of the hull's area (a book with a rounded spine 0.98; a cylinder's
/// elliptic caps lose about 5 %).
pub(super) const CUBOID_HEXAGON: f64 = 0.975;
/// Opposite edges of the hexagon are parallel within this angle (radians, 6°) and of lengths within this ratio.
pub(super) const CUBOID_PARALLEL: f64 = 0.105;
/// See [`CUBOID_PARALLEL`].
pub(super) const CUBOID_LENGTHS: f64 = 1.25;
/// The largest share of a part's vertices the fitted box may miss.
pub(super) const CUBOID_MISSES: f64 = 0.05;

impl Cuboid {
    /// The box whose silhouette the part is, if it is one (see the type's documentation).
    /// `hull` is the convex hull of the part's silhouette ([`silhouette_hull`](super::outline::silhouette_hull)).
    pub(super) fn fit(mesh: &Mesh2, mut hull: Vec<[f64; 2]>) -> Option<Cuboid> {
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
    pub(super) fn from_edges(first: [f64; 2], second: [f64; 2], height: f64, centre: [f64; 2]) -> Option<Cuboid> {
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
    pub(super) fn turn_degrees(&self) -> f64 {
        self.axes[0][0].clamp(-1.0, 1.0).acos().to_degrees()
    }

    /// Where the box is along the line of sight through each vertex; `None` when the box misses more than
    /// [`CUBOID_MISSES`] of them (the fit is then not the part's shape). A vertex it misses (a strap or a hinge
    /// that sticks out) lies at the depth where the box's bounds cross, a pixel thick.
    pub(super) fn lift(&self, mesh: &Mesh2) -> Option<Lift> {
        let (lift, missed) = self.lift_counting(mesh);
        let misses = missed.iter().filter(|&&m| m).count();
        (misses as f64 <= CUBOID_MISSES * mesh.points.len() as f64).then_some(lift)
    }

    /// Where the line of sight through `p` (image x, image y down) is inside the box: the farthest and nearest
    /// depths, and whether it misses the box.
    pub(super) fn crossing(&self, p: [f64; 2]) -> (f64, f64, bool) {
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
    pub(super) fn floor_depth(&self, p: [f64; 2]) -> Option<f64> {
        let q = [p[0] - self.centre[0], self.centre[1] - p[1]];
        let up = self.axes[2];
        (up[2].abs() > 1e-9).then(|| (-self.half_extents[2] - up[0] * q[0] - up[1] * q[1]) / up[2])
    }

    /// [`Cuboid::lift`] whatever the misses, and which vertices the box missed.
    pub(super) fn lift_counting(&self, mesh: &Mesh2) -> (Lift, Vec<bool>) {
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
