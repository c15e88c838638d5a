//! Wavefront OBJ: the mesh in text, its MTL material and the JPEG texture beside it (three files).

use mesh402_core::{Format, OutputFile};

use super::Source;
use crate::build::Mesh3;

/// `model.obj` and its companions ([`Format::companion_files`]): `model.mtl` and `texture.jpg`.
pub(super) fn write(source: &Source) -> Result<Vec<OutputFile>, String> {
    let (obj, mtl) = obj(source.mesh);
    let [mtl_name, texture_name] = Format::Obj.companion_files() else {
        return Err("OBJ's companion files are a material and a texture".into());
    };
    Ok(vec![
        OutputFile { name: Format::Obj.file_name().into(), media_type: Format::Obj.media_type(), bytes: obj },
        OutputFile { name: (*mtl_name).into(), media_type: "model/mtl", bytes: mtl },
        OutputFile { name: (*texture_name).into(), media_type: "image/jpeg", bytes: source.texture.jpeg.clone() },
    ])
}

/// Writes an OBJ (referring to `model.mtl`) and the MTL (referring to `texture.jpg`).
fn obj(mesh: &Mesh3) -> (Vec<u8>, Vec<u8>) {
    use std::fmt::Write;
    let mut s = String::with_capacity(mesh.positions.len() * 80 + mesh.tris.len() * 40);
    s.push_str("# mesh402: +Y up, front +Z, metres\nmtllib model.mtl\no model\n");
    for p in &mesh.positions {
        let _ = writeln!(s, "v {} {} {}", p[0], p[1], p[2]);
    }
    for t in &mesh.uvs {
        // OBJ texture coordinates have their origin at the bottom-left.
        let _ = writeln!(s, "vt {} {}", t[0], 1.0 - t[1]);
    }
    for n in &mesh.normals {
        let _ = writeln!(s, "vn {} {} {}", n[0], n[1], n[2]);
    }
    s.push_str("usemtl photo\n");
    for t in &mesh.tris {
        let [a, b, c] = t.map(|i| i + 1);
        let _ = writeln!(s, "f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}");
    }
    let mtl = "# mesh402\nnewmtl photo\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nNs 10\nillum 1\nmap_Kd texture.jpg\n";
    (s.into_bytes(), mtl.as_bytes().to_vec())
}
