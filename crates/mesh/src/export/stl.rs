//! Binary STL: the triangles alone, with their facet normals (no colour).

use mesh402_core::{Format, OutputFile};

use super::{Source, primary};
use crate::build::Mesh3;

/// `model.stl`.
pub(super) fn write(source: &Source) -> Result<Vec<OutputFile>, String> {
    Ok(primary(Format::Stl, stl(source.mesh)))
}

/// Writes a binary STL (facet normals from the triangles).
fn stl(mesh: &Mesh3) -> Vec<u8> {
    let mut out = Vec::with_capacity(84 + mesh.tris.len() * 50);
    let mut header = [b' '; 80];
    let text = b"mesh402 binary STL, +Y up, metres";
    header[..text.len()].copy_from_slice(text);
    out.extend_from_slice(&header);
    out.extend_from_slice(&(mesh.tris.len() as u32).to_le_bytes());
    for t in &mesh.tris {
        let p = t.map(|i| mesh.positions[i as usize]);
        let e1 = [p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]];
        let e2 = [p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]];
        let mut n = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        if len > 0.0 {
            n = n.map(|v| v / len);
        }
        for v in n.iter().chain(p.iter().flatten()) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&0u16.to_le_bytes());
    }
    out
}
