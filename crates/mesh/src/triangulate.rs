//! Triangulation: a constrained Delaunay triangulation of the silhouette's loops with Ruppert refinement (spade),
//! holes excluded, and silhouette chords split so that front and back never pinch together.

use std::collections::VecDeque;

use spade::handles::FixedVertexHandle;
use spade::{AngleLimit, ConstrainedDelaunayTriangulation, Point2, RefinementParameters, Triangulation};

use crate::contour::Loop;

/// A planar triangle mesh in working-image coordinates.
#[derive(Debug, Clone)]
pub(crate) struct Mesh2 {
    /// Vertex positions.
    pub points: Vec<[f64; 2]>,
    /// Triangles with positive signed area (counter-clockwise in y-up axes).
    pub tris: Vec<[u32; 3]>,
    /// True for vertices on the silhouette.
    pub boundary: Vec<bool>,
}

/// Why a triangulation attempt failed; the caller retries with safer parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TriangulateError {
    /// Two silhouette segments cross each other.
    SelfIntersection,
    /// The triangulation has no interior triangles, or coordinates are unusable.
    Empty,
    /// The triangulation library failed unexpectedly.
    Internal,
}

impl std::fmt::Display for TriangulateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TriangulateError::SelfIntersection => write!(f, "the silhouette intersects itself"),
            TriangulateError::Empty => write!(f, "the silhouette has no interior"),
            TriangulateError::Internal => write!(f, "the triangulation failed"),
        }
    }
}

fn cross(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/// The constrained Delaunay triangulation the planar mesh is cut from.
pub(crate) type Cdt = ConstrainedDelaunayTriangulation<Point2<f64>>;

/// Triangulates the region inside the outer loop and outside the holes. With `refine`, triangles are refined to a
/// minimum angle of 25° and an area of at most `max_area`, adding at most `max_new_vertices` vertices.
pub(crate) fn triangulate(
    loops: &[Loop],
    refine: bool,
    max_area: f64,
    max_new_vertices: usize,
) -> Result<(Cdt, Mesh2), TriangulateError> {
    let mut cdt = Cdt::new();
    let mut handles: Vec<Vec<FixedVertexHandle>> = Vec::with_capacity(loops.len());
    for l in loops {
        let mut hs = Vec::with_capacity(l.len());
        for p in l {
            let h = cdt.insert(Point2::new(p[0], p[1])).map_err(|_| TriangulateError::Empty)?;
            hs.push(h);
        }
        handles.push(hs);
    }
    for hs in &handles {
        let n = hs.len();
        for i in 0..n {
            let (a, b) = (hs[i], hs[(i + 1) % n]);
            if a == b || !cdt.can_add_constraint(a, b) {
                return Err(TriangulateError::SelfIntersection);
            }
            cdt.add_constraint(a, b);
        }
    }
    if refine {
        let params = RefinementParameters::<f64>::new()
            .exclude_outer_faces(true)
            .with_max_additional_vertices(max_new_vertices)
            .with_angle_limit(AngleLimit::from_deg(25.0))
            .with_max_allowed_area(max_area)
            .with_min_required_area(max_area / 400.0);
        cdt.refine(params);
    }
    let mesh = extract(&cdt)?;
    Ok((cdt, mesh))
}

/// Cuts the planar mesh out of `cdt`: faces inside an odd number of constraint loops, compacted, oriented, with
/// silhouette chords split.
pub(crate) fn extract(cdt: &Cdt) -> Result<Mesh2, TriangulateError> {
    // Parity flood fill from the convex hull: crossing a constraint edge flips inside and outside.
    let mut parity = vec![u8::MAX; cdt.num_all_faces()];
    let mut queue = VecDeque::new();
    for edge in cdt.convex_hull() {
        let crossing = u8::from(cdt.is_constraint_edge(edge.fix().as_undirected()));
        for face in [edge.face(), edge.rev().face()] {
            if let Some(inner) = face.as_inner() {
                let k = inner.fix().index();
                if parity[k] == u8::MAX {
                    parity[k] = crossing;
                    queue.push_back(inner.fix());
                }
            }
        }
    }
    while let Some(fixed) = queue.pop_front() {
        let here = parity[fixed.index()];
        for edge in cdt.face(fixed).adjacent_edges() {
            if let Some(other) = edge.rev().face().as_inner() {
                let k = other.fix().index();
                if parity[k] == u8::MAX {
                    parity[k] = here ^ u8::from(cdt.is_constraint_edge(edge.fix().as_undirected()));
                    queue.push_back(other.fix());
                }
            }
        }
    }
    let mut tris = Vec::new();
    for face in cdt.inner_faces() {
        if parity[face.fix().index()] != 1 {
            continue;
        }
        let vs = face.vertices();
        tris.push([vs[0].fix().index(), vs[1].fix().index(), vs[2].fix().index()]);
    }
    if tris.is_empty() {
        return Err(TriangulateError::Empty);
    }
    let mut used: Vec<usize> = tris.iter().flatten().copied().collect();
    used.sort_unstable();
    used.dedup();
    let all: Vec<[f64; 2]> = cdt
        .vertices()
        .map(|v| {
            let p = v.position();
            [p.x, p.y]
        })
        .collect();
    let mut remap = vec![u32::MAX; all.len()];
    let mut points = Vec::with_capacity(used.len());
    for (new, &old) in used.iter().enumerate() {
        remap[old] = new as u32;
        points.push(*all.get(old).ok_or(TriangulateError::Empty)?);
    }
    let mut tris: Vec<[u32; 3]> = tris.iter().map(|t| [remap[t[0]], remap[t[1]], remap[t[2]]]).collect();
    for t in &mut tris {
        if cross(points[t[0] as usize], points[t[1] as usize], points[t[2] as usize]) < 0.0 {
            t.swap(1, 2);
        }
    }
    let mut mesh = Mesh2 { boundary: vec![false; points.len()], points, tris };
    mark_boundary(&mut mesh);
    split_chords(&mut mesh);
    Ok(mesh)
}

/// Graded rings at the rim: the surface is vertical at the silhouette, so the first triangles inward are steep
/// slivers in 3D. Each silhouette vertex whose first inward neighbours rise steeply gets two points along its
/// inward normal at `D/9` and `4D/9`, where `D` is the distance to its nearest interior neighbour: with `z ∝ √d`
/// near the rim, the height then climbs in three even steps. Points that fall outside the silhouette are ignored
/// when the mesh is cut out. Returns the number of points inserted into `cdt`.
pub(crate) fn grade_rim(cdt: &mut Cdt, mesh: &Mesh2, z: &[f64], edge: f64) -> usize {
    let n = mesh.points.len();
    let mut next = vec![u32::MAX; n];
    let mut prev = vec![u32::MAX; n];
    for (a, b) in boundary_edges(&mesh.tris) {
        next[a as usize] = b;
        prev[b as usize] = a;
    }
    let mut neighbours: Vec<(u32, u32)> = mesh
        .tris
        .iter()
        .flat_map(|t| [(t[0], t[1]), (t[1], t[2]), (t[2], t[0]), (t[1], t[0]), (t[2], t[1]), (t[0], t[2])])
        .collect();
    neighbours.sort_unstable();
    neighbours.dedup();
    let mut points = Vec::new();
    let mut start = 0;
    while start < neighbours.len() {
        let v = neighbours[start].0;
        let mut end = start;
        while end < neighbours.len() && neighbours[end].0 == v {
            end += 1;
        }
        let (vi, p, nx) = (v as usize, prev[v as usize], next[v as usize]);
        if mesh.boundary[vi] && p != u32::MAX && nx != u32::MAX {
            let pv = mesh.points[vi];
            let (pp, pn) = (mesh.points[p as usize], mesh.points[nx as usize]);
            let tangent = [pn[0] - pp[0], pn[1] - pp[1]];
            let len = (tangent[0] * tangent[0] + tangent[1] * tangent[1]).sqrt();
            if len > 1e-9 {
                let inward = [-tangent[1] / len, tangent[0] / len];
                // The nearest interior neighbour in front of the rim: its distance along the normal and height.
                let nearest = neighbours[start..end]
                    .iter()
                    .map(|&(_, i)| i as usize)
                    .filter(|&i| !mesh.boundary[i])
                    .filter_map(|i| {
                        let q = mesh.points[i];
                        let along = (q[0] - pv[0]) * inward[0] + (q[1] - pv[1]) * inward[1];
                        (along > 0.0).then_some((along, z[i]))
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0));
                if let Some((along, rise)) = nearest {
                    let reach = along.clamp(0.3 * edge, edge);
                    if rise > 1.5 * along {
                        for fraction in [1.0 / 9.0, 4.0 / 9.0] {
                            let d = reach * fraction;
                            points.push([pv[0] + d * inward[0], pv[1] + d * inward[1]]);
                        }
                    }
                }
            }
        }
        start = end;
    }
    let mut inserted = 0;
    for p in points {
        if cdt.insert(Point2::new(p[0], p[1])).is_ok() {
            inserted += 1;
        }
    }
    inserted
}

/// Sorted undirected edges with the number of triangles using each.
fn edge_counts(tris: &[[u32; 3]]) -> Vec<((u32, u32), u32)> {
    let mut edges: Vec<(u32, u32)> = tris
        .iter()
        .flat_map(|t| [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])])
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    edges.sort_unstable();
    let mut out: Vec<((u32, u32), u32)> = Vec::with_capacity(edges.len() / 2 + 1);
    for e in edges {
        match out.last_mut() {
            Some((last, count)) if *last == e => *count += 1,
            _ => out.push((e, 1)),
        }
    }
    out
}

fn mark_boundary(mesh: &mut Mesh2) {
    mesh.boundary.iter_mut().for_each(|b| *b = false);
    for ((a, b), count) in edge_counts(&mesh.tris) {
        if count == 1 {
            mesh.boundary[a as usize] = true;
            mesh.boundary[b as usize] = true;
        }
    }
}

/// Splits every interior edge whose two endpoints lie on the silhouette at its midpoint.
fn split_chords(mesh: &mut Mesh2) {
    let chords: Vec<(u32, u32)> = edge_counts(&mesh.tris)
        .into_iter()
        .filter(|&((a, b), count)| count == 2 && mesh.boundary[a as usize] && mesh.boundary[b as usize])
        .map(|(e, _)| e)
        .collect();
    if chords.is_empty() {
        return;
    }
    let mut midpoint = Vec::with_capacity(chords.len());
    for &(a, b) in &chords {
        let (pa, pb) = (mesh.points[a as usize], mesh.points[b as usize]);
        midpoint.push(mesh.points.len() as u32);
        mesh.points.push([(pa[0] + pb[0]) / 2.0, (pa[1] + pb[1]) / 2.0]);
        mesh.boundary.push(false);
    }
    let find =
        |a: u32, b: u32| -> Option<u32> { chords.binary_search(&(a.min(b), a.max(b))).ok().map(|i| midpoint[i]) };
    let mut out = Vec::with_capacity(mesh.tris.len() + 2 * chords.len());
    for &t in &mesh.tris {
        // Rotate so that the split edges come first in a canonical order, then apply one of the templates.
        let m = [find(t[0], t[1]), find(t[1], t[2]), find(t[2], t[0])];
        match m.iter().filter(|x| x.is_some()).count() {
            0 => out.push(t),
            1 => {
                let k = m.iter().position(|x| x.is_some()).unwrap_or(0);
                let (a, b, c) = (t[k], t[(k + 1) % 3], t[(k + 2) % 3]);
                let mab = m[k].unwrap_or(a);
                out.push([a, mab, c]);
                out.push([mab, b, c]);
            }
            2 => {
                // The edge without a midpoint is k; the others are (b, c) and (c, a).
                let k = m.iter().position(|x| x.is_none()).unwrap_or(0);
                let (a, b, c) = (t[k], t[(k + 1) % 3], t[(k + 2) % 3]);
                let mbc = m[(k + 1) % 3].unwrap_or(b);
                let mca = m[(k + 2) % 3].unwrap_or(c);
                out.push([a, b, mbc]);
                out.push([a, mbc, mca]);
                out.push([mca, mbc, c]);
            }
            _ => {
                let (a, b, c) = (t[0], t[1], t[2]);
                let (mab, mbc, mca) = (m[0].unwrap_or(a), m[1].unwrap_or(b), m[2].unwrap_or(c));
                out.push([a, mab, mca]);
                out.push([mab, b, mbc]);
                out.push([mca, mbc, c]);
                out.push([mab, mbc, mca]);
            }
        }
    }
    mesh.tris = out;
}

/// The undirected silhouette edges of a planar mesh, oriented as they appear in its triangles.
pub(crate) fn boundary_edges(tris: &[[u32; 3]]) -> Vec<(u32, u32)> {
    let single: Vec<(u32, u32)> = edge_counts(tris).into_iter().filter(|&(_, c)| c == 1).map(|(e, _)| e).collect();
    let mut out = Vec::with_capacity(single.len());
    for t in tris {
        for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
            if single.binary_search(&(a.min(b), a.max(b))).is_ok() {
                out.push((a, b));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circle(r: f64, n: usize, reverse: bool) -> Loop {
        let mut l: Loop = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                [100.0 + r * a.cos(), 100.0 + r * a.sin()]
            })
            .collect();
        if reverse {
            l.reverse();
        }
        l
    }

    #[test]
    fn annulus_has_no_chords_and_euler_zero() {
        let loops = vec![circle(50.0, 64, false), circle(20.0, 32, true)];
        let (_, mesh) = triangulate(&loops, true, 30.0, 100_000).expect("triangulate");
        let v = mesh.points.len() as i64;
        let f = mesh.tris.len() as i64;
        let e = edge_counts(&mesh.tris).len() as i64;
        assert_eq!(v - e + f, 0, "annulus is a disc with one hole");
        for ((a, b), count) in edge_counts(&mesh.tris) {
            if count == 2 {
                assert!(!(mesh.boundary[a as usize] && mesh.boundary[b as usize]));
            }
        }
    }
}
