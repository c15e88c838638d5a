//! Binary little-endian PLY: positions, normals and vertex colours sampled from the texture.

use mesh402_core::{Format, OutputFile};

use super::{Source, primary, sample};

/// `model.ply`: per vertex its position, unit normal and colour (the texture sampled at its texture coordinate,
/// bilinearly), and the triangles as `vertex_indices` lists.
pub(super) fn write(source: &Source) -> Result<Vec<OutputFile>, String> {
    let (mesh, texture) = (source.mesh, &source.texture.image);
    let header = format!(
        "ply\nformat binary_little_endian 1.0\ncomment mesh402: metres, +Y up, colours from the photo\n\
         element vertex {}\nproperty float x\nproperty float y\nproperty float z\n\
         property float nx\nproperty float ny\nproperty float nz\n\
         property uchar red\nproperty uchar green\nproperty uchar blue\n\
         element face {}\nproperty list uchar uint vertex_indices\nend_header\n",
        mesh.positions.len(),
        mesh.tris.len()
    );
    let mut out = Vec::with_capacity(header.len() + mesh.positions.len() * 27 + mesh.tris.len() * 13);
    out.extend_from_slice(header.as_bytes());
    for ((position, normal), uv) in mesh.positions.iter().zip(&mesh.normals).zip(&mesh.uvs) {
        for v in position.iter().chain(normal) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&sample(texture, *uv));
    }
    for t in &mesh.tris {
        out.push(3);
        for i in t {
            out.extend_from_slice(&i.to_le_bytes());
        }
    }
    Ok(primary(Format::Ply, out))
}
