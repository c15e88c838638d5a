//! The geometry of a part's silhouette that the thickness rules read: where its rows cross its outline, its convex
//! hull and areas, its moments and how much it is an ellipse, its bounds and its connected pieces.

use crate::triangulate::{Mesh2, boundary_edges};

/// The connected sets of a part's vertices: from every vertex that may `start` one, along the mesh's edges that
/// `join` their two ends.
pub(super) fn connected_sets(
    mesh: &Mesh2,
    join: impl Fn(usize, usize) -> bool,
    start: impl Fn(usize) -> bool,
) -> Vec<Vec<usize>> {
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
pub(super) fn bounds(mesh: &Mesh2) -> ([f64; 2], [f64; 2]) {
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in &mesh.points {
        for d in 0..2 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    (lo, hi)
}

/// The convex hull of the part's silhouette vertices.
pub(super) fn silhouette_hull(mesh: &Mesh2) -> Vec<[f64; 2]> {
    convex_hull(mesh.points.iter().zip(&mesh.boundary).filter(|(_, on)| **on).map(|(p, _)| *p).collect())
}

/// The area of a triangle.
pub(super) fn triangle_area(p: [[f64; 2]; 3]) -> f64 {
    0.5 * ((p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[1][1] - p[0][1]) * (p[2][0] - p[0][0])).abs()
}

/// The convex hull of `points` (Andrew's monotone chain): from the leftmost point along the top (smallest image y)
/// to the rightmost, then back along the bottom.
pub(super) fn convex_hull(mut points: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
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
pub(super) fn polygon_area(polygon: &[[f64; 2]]) -> f64 {
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
pub(super) struct Moments {
    pub(super) centre: [f64; 2],
    pub(super) sxx: f64,
    pub(super) sxy: f64,
    pub(super) syy: f64,
}

/// The [`Moments`] of the part's triangles; `None` for a part without area.
pub(super) fn moments(mesh: &Mesh2) -> Option<Moments> {
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
pub(super) fn ellipse_likeness(mesh: &Mesh2) -> f64 {
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

/// The silhouette's edges bucketed by image row, to find where a horizontal line crosses the outline.
pub(super) struct RowRuns<'a> {
    pub(super) points: &'a [[f64; 2]],
    pub(super) edges: Vec<(u32, u32)>,
    /// For row `r` (image y in `[top + r, top + r + 1)`), indices into `edges` of the edges spanning it.
    pub(super) buckets: Vec<Vec<u32>>,
    pub(super) top: f64,
    /// The part's height in image rows.
    pub(super) height: f64,
}

impl<'a> RowRuns<'a> {
    pub(super) fn new(mesh: &'a Mesh2) -> RowRuns<'a> {
        RowRuns::with_outline(&mesh.points, boundary_edges(&mesh.tris))
    }

    /// The runs of the outline `edges` (pairs of indices into `points`, as `boundary_edges` gives them): the same
    /// outline with its points moved (a part turned in the picture) needs no new edges.
    pub(super) fn with_outline(points: &'a [[f64; 2]], edges: Vec<(u32, u32)>) -> RowRuns<'a> {
        let top = points.iter().map(|p| p[1]).fold(f64::MAX, f64::min).floor();
        let bottom = points.iter().map(|p| p[1]).fold(f64::MIN, f64::max).ceil();
        let n_rows = if top.is_finite() && bottom >= top { (bottom - top) as usize + 1 } else { 0 };
        let mut buckets = vec![Vec::new(); n_rows];
        for (i, &(a, b)) in edges.iter().enumerate() {
            let (ya, yb) = (points[a as usize][1], points[b as usize][1]);
            let first = ((ya.min(yb) - top).floor().max(0.0)) as usize;
            let last = ((ya.max(yb) - top).floor().max(0.0) as usize).min(n_rows.saturating_sub(1));
            for bucket in &mut buckets[first..=last.max(first).min(n_rows.saturating_sub(1))] {
                bucket.push(i as u32);
            }
        }
        RowRuns { points, edges, buckets, top, height: (bottom - top).max(0.0) }
    }

    /// Where the row through image y `y` crosses the outline, in no order (none outside the part's rows).
    pub(super) fn crossings(&self, y: f64) -> impl Iterator<Item = f64> + '_ {
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
    pub(super) fn inside(&self, p: [f64; 2]) -> bool {
        self.crossings(p[1]).filter(|&x| x < p[0]).count() % 2 == 1
    }

    /// The outermost crossings of the outline on the row through image y `y`: the part's extent on that row.
    pub(super) fn extent(&self, y: f64) -> Option<(f64, f64)> {
        let (left, right) =
            self.crossings(y).fold((f64::MAX, f64::MIN), |(left, right), x| (left.min(x), right.max(x)));
        (left < right).then_some((left, right))
    }

    /// How much of the row through image y `y` the part covers: its runs' lengths summed.
    pub(super) fn covered(&self, y: f64) -> f64 {
        let mut crossings: Vec<f64> = self.crossings(y).collect();
        crossings.sort_by(f64::total_cmp);
        crossings.chunks_exact(2).map(|pair| pair[1] - pair[0]).sum()
    }

    /// The nearest crossings of the outline left and right of `p` on its row: the run `p` lies in.
    pub(super) fn run_at(&self, p: [f64; 2]) -> Option<(f64, f64)> {
        let (left, right) = self.crossings(p[1]).fold((f64::MIN, f64::MAX), |(left, right), x| {
            if x <= p[0] { (left.max(x), right) } else { (left, right.min(x)) }
        });
        (left > f64::MIN && right < f64::MAX).then_some((left, right))
    }
}
