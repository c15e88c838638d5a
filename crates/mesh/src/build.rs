//! Closing the mesh: the planar triangulation lifted into a solid (inflated or extruded), in glTF conventions:
//! +Y up, the photo's front facing +Z, metres, the origin at the bottom centre of the silhouette.

use crate::thickness::{Lift, Rows};
use crate::triangulate::{Mesh2, boundary_edges};

/// A closed triangle mesh ready to be written.
#[derive(Debug, Clone, Default)]
pub struct Mesh3 {
    /// Positions in metres.
    pub positions: Vec<[f32; 3]>,
    /// Unit vertex normals.
    pub normals: Vec<[f32; 3]>,
    /// Texture coordinates (origin top-left, as in glTF).
    pub uvs: Vec<[f32; 2]>,
    /// Counter-clockwise triangles seen from outside.
    pub tris: Vec<[u32; 3]>,
}

impl Mesh3 {
    /// Re-frames the model exactly on its own vertices: origin at the bottom centre and the longer side one metre.
    /// The frame is set from the outlines before meshing; the meshed outline sits within a fraction of a pixel of
    /// them, and this removes that difference.
    pub(crate) fn normalise(&mut self) {
        let mut lo = [f32::MAX; 2];
        let mut hi = [f32::MIN; 2];
        for p in &self.positions {
            for d in 0..2 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let longer = f64::from((hi[0] - lo[0]).max(hi[1] - lo[1]));
        if !(longer > 0.0 && longer.is_finite()) {
            return;
        }
        let scale = 1.0 / longer;
        let centre_x = (f64::from(lo[0]) + f64::from(hi[0])) / 2.0;
        for p in &mut self.positions {
            *p = [
                ((f64::from(p[0]) - centre_x) * scale) as f32,
                ((f64::from(p[1]) - f64::from(lo[1])) * scale) as f32,
                (f64::from(p[2]) * scale) as f32,
            ];
        }
    }

    /// Adds `part`'s vertices and triangles (a separate body) to this mesh.
    pub(crate) fn append(&mut self, part: Mesh3) {
        let base = self.positions.len() as u32;
        self.positions.extend(part.positions);
        self.normals.extend(part.normals);
        self.uvs.extend(part.uvs);
        self.tris.extend(part.tris.into_iter().map(|t| t.map(|i| i + base)));
    }
}

/// Maps working-image coordinates to model coordinates and texture coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    /// Metres per working pixel: the silhouette's longer side is one metre.
    pub scale: f64,
    /// Horizontal centre of the silhouette.
    pub centre_x: f64,
    /// The silhouette's highest and lowest rows (image y), where the parts are placed in depth from.
    pub rows: Rows,
    /// The texture's rectangle in working coordinates: x0, y0, x1, y1.
    pub uv_rect: [f64; 4],
}

impl Frame {
    /// The frame around `points` (every part's outline) with the texture covering `uv_rect`.
    pub fn new(points: &[[f64; 2]], uv_rect: [f64; 4]) -> Frame {
        let mut lo = [f64::MAX; 2];
        let mut hi = [f64::MIN; 2];
        for p in points {
            for d in 0..2 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let longer = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-9);
        Frame {
            scale: 1.0 / longer,
            centre_x: (lo[0] + hi[0]) / 2.0,
            rows: Rows { top: lo[1], bottom: hi[1] },
            uv_rect,
        }
    }

    /// The longer side of the silhouette in working pixels.
    pub fn longer_side(&self) -> f64 {
        1.0 / self.scale
    }

    fn position(&self, p: [f64; 2], z: f64) -> [f32; 3] {
        [
            ((p[0] - self.centre_x) * self.scale) as f32,
            ((self.rows.bottom - p[1]) * self.scale) as f32,
            (z * self.scale) as f32,
        ]
    }

    fn uv(&self, p: [f64; 2]) -> [f32; 2] {
        let [x0, y0, x1, y1] = self.uv_rect;
        let u = ((p[0] - x0) / (x1 - x0).max(1e-9)).clamp(0.0, 1.0);
        let v = ((p[1] - y0) / (y1 - y0).max(1e-9)).clamp(0.0, 1.0);
        [u as f32, v as f32]
    }
}

/// Inflation: the front at `centre + half`, the back at `centre − half` (working pixels, `half` zero on the
/// silhouette, see `thickness.rs`), silhouette vertices shared. The back reuses the front's texture coordinates, so
/// it shows the photo mirrored.
pub(crate) fn inflate(mesh: &Mesh2, lift: &Lift, frame: &Frame) -> Mesh3 {
    let (centre, half) = (&lift.centre, &lift.half);
    let n = mesh.points.len();
    let mut out = Mesh3::default();
    let mut back_index = vec![0u32; n];
    for (i, p) in mesh.points.iter().enumerate() {
        let z = if mesh.boundary[i] { centre[i] } else { centre[i] + half[i] };
        out.positions.push(frame.position(*p, z));
        out.uvs.push(frame.uv(*p));
        back_index[i] = i as u32;
    }
    for (i, p) in mesh.points.iter().enumerate() {
        if !mesh.boundary[i] {
            back_index[i] = out.positions.len() as u32;
            out.positions.push(frame.position(*p, centre[i] - half[i]));
            out.uvs.push(frame.uv(*p));
        }
    }
    for t in &mesh.tris {
        // Image y points down, model Y up: a positive planar triangle faces −Z, so the front reverses it.
        out.tris.push([t[0], t[2], t[1]]);
        out.tris.push([back_index[t[0] as usize], back_index[t[1] as usize], back_index[t[2] as usize]]);
    }
    out.normals = vertex_normals(&out.positions, &out.tris);
    out
}

/// Extrusion: flat front and back caps `thickness` working pixels apart and straight side walls with their own
/// vertices (hard edges). Walls take the texture colour of the silhouette.
pub(crate) fn extrude(mesh: &Mesh2, thickness: f64, frame: &Frame) -> Mesh3 {
    let n = mesh.points.len() as u32;
    let half = thickness / 2.0;
    let mut out = Mesh3::default();
    for z in [half, -half] {
        for p in &mesh.points {
            out.positions.push(frame.position(*p, z));
            out.uvs.push(frame.uv(*p));
            out.normals.push([0.0, 0.0, if z > 0.0 { 1.0 } else { -1.0 }]);
        }
    }
    for t in &mesh.tris {
        out.tris.push([t[0], t[2], t[1]]);
        out.tris.push([t[0] + n, t[1] + n, t[2] + n]);
    }
    for (a, b) in boundary_edges(&mesh.tris) {
        let (pa, pb) = (mesh.points[a as usize], mesh.points[b as usize]);
        let base = out.positions.len() as u32;
        let corners = [(pa, half), (pb, half), (pb, -half), (pa, -half)];
        for (p, z) in corners {
            out.positions.push(frame.position(p, z));
            out.uvs.push(frame.uv(p));
        }
        out.tris.push([base, base + 1, base + 2]);
        out.tris.push([base, base + 2, base + 3]);
        let normal = face_normal(&out.positions, [base, base + 1, base + 2]);
        let normal = normalize(normal).unwrap_or([1.0, 0.0, 0.0]);
        out.normals.extend([normal; 4]);
    }
    out
}

fn face_normal(positions: &[[f32; 3]], t: [u32; 3]) -> [f64; 3] {
    let p = t.map(|i| positions[i as usize].map(f64::from));
    let e1 = [p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]];
    let e2 = [p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]];
    [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]]
}

fn normalize(v: [f64; 3]) -> Option<[f32; 3]> {
    let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if len > 1e-30 && len.is_finite() {
        let n = [(v[0] / len) as f32, (v[1] / len) as f32, (v[2] / len) as f32];
        let l2 = n[0] * n[0] + n[1] * n[1] + n[2] * n[2];
        (l2 > 0.99).then_some(n)
    } else {
        None
    }
}

/// Area-weighted vertex normals; a vertex with no usable faces points +Z.
pub(crate) fn vertex_normals(positions: &[[f32; 3]], tris: &[[u32; 3]]) -> Vec<[f32; 3]> {
    let mut acc = vec![[0.0f64; 3]; positions.len()];
    for t in tris {
        let n = face_normal(positions, *t);
        for &i in t {
            for d in 0..3 {
                acc[i as usize][d] += n[d];
            }
        }
    }
    acc.into_iter().map(|v| normalize(v).unwrap_or([0.0, 0.0, 1.0])).collect()
}
