//! Writers: binary glTF 2.0 (GLB), Wavefront OBJ with MTL, binary STL and binary PLY, all from the same buffers.
//! Each is a few dozen lines over documented, fixed layouts; the crates that write them would add dependencies
//! (and for glTF a document model) for less than this code.

use serde_json::json;

use crate::build::Mesh3;

const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;
const FLOAT: u32 = 5126;
const UNSIGNED_INT: u32 = 5125;

fn pad4(bytes: &mut Vec<u8>, fill: u8) {
    while !bytes.len().is_multiple_of(4) {
        bytes.push(fill);
    }
}

fn min_max<const N: usize>(values: &[[f32; N]]) -> (Vec<f32>, Vec<f32>) {
    let mut lo = vec![f32::MAX; N];
    let mut hi = vec![f32::MIN; N];
    for v in values {
        for d in 0..N {
            lo[d] = lo[d].min(v[d]);
            hi[d] = hi[d].max(v[d]);
        }
    }
    (lo, hi)
}

/// Writes a GLB with one mesh, one textured material (metallic 0, roughness 0.9) and the JPEG texture embedded.
pub(crate) fn glb(mesh: &Mesh3, texture_jpeg: &[u8]) -> Vec<u8> {
    let mut bin: Vec<u8> = Vec::new();
    let mut views = Vec::new();
    let mut push_view = |bin: &mut Vec<u8>, data: &[u8], target: Option<u32>| -> usize {
        pad4(bin, 0);
        let offset = bin.len();
        bin.extend_from_slice(data);
        let mut view = json!({"buffer": 0, "byteOffset": offset, "byteLength": data.len()});
        if let Some(target) = target {
            view["target"] = json!(target);
        }
        views.push(view);
        views.len() - 1
    };
    let positions: Vec<u8> = mesh.positions.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    let normals: Vec<u8> = mesh.normals.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    let uvs: Vec<u8> = mesh.uvs.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    let indices: Vec<u8> = mesh.tris.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    let v_pos = push_view(&mut bin, &positions, Some(ARRAY_BUFFER));
    let v_nrm = push_view(&mut bin, &normals, Some(ARRAY_BUFFER));
    let v_uv = push_view(&mut bin, &uvs, Some(ARRAY_BUFFER));
    let v_idx = push_view(&mut bin, &indices, Some(ELEMENT_ARRAY_BUFFER));
    let v_img = push_view(&mut bin, texture_jpeg, None);
    pad4(&mut bin, 0);
    let (pos_min, pos_max) = min_max(&mesh.positions);
    let (nrm_min, nrm_max) = min_max(&mesh.normals);
    let (uv_min, uv_max) = min_max(&mesh.uvs);
    let n_vertices = mesh.positions.len();
    let document = json!({
        "asset": {"version": "2.0", "generator": "mesh402"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "model"}],
        "meshes": [{"name": "model", "primitives": [{
            "attributes": {"POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2},
            "indices": 3,
            "material": 0,
            "mode": 4
        }]}],
        "materials": [{
            "name": "photo",
            "pbrMetallicRoughness": {
                "baseColorTexture": {"index": 0},
                "metallicFactor": 0.0,
                "roughnessFactor": 0.9
            }
        }],
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}],
        "images": [{"bufferView": v_img, "mimeType": "image/jpeg"}],
        "accessors": [
            {"bufferView": v_pos, "componentType": FLOAT, "count": n_vertices, "type": "VEC3",
             "min": pos_min, "max": pos_max},
            {"bufferView": v_nrm, "componentType": FLOAT, "count": n_vertices, "type": "VEC3",
             "min": nrm_min, "max": nrm_max},
            {"bufferView": v_uv, "componentType": FLOAT, "count": n_vertices, "type": "VEC2",
             "min": uv_min, "max": uv_max},
            {"bufferView": v_idx, "componentType": UNSIGNED_INT, "count": mesh.tris.len() * 3, "type": "SCALAR"}
        ],
        "bufferViews": views,
        "buffers": [{"byteLength": bin.len()}]
    });
    let mut json_bytes = serde_json::to_vec(&document).unwrap_or_default();
    pad4(&mut json_bytes, b' ');
    let total = 12 + 8 + json_bytes.len() + 8 + bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json_bytes);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}

/// Writes an OBJ (referring to `model.mtl`) and the MTL (referring to `texture.jpg`).
pub(crate) fn obj(mesh: &Mesh3) -> (Vec<u8>, Vec<u8>) {
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

/// Writes a binary STL (facet normals from the triangles).
pub(crate) fn stl(mesh: &Mesh3) -> Vec<u8> {
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

/// Writes a binary little-endian PLY: per vertex its position, unit normal and colour (the texture sampled at its
/// texture coordinate, bilinearly), and the triangles as `vertex_indices` lists. `texture_jpeg` is the JPEG the
/// other writers embed.
pub(crate) fn ply(mesh: &Mesh3, texture_jpeg: &[u8]) -> Result<Vec<u8>, String> {
    let texture = image::load_from_memory_with_format(texture_jpeg, image::ImageFormat::Jpeg)
        .map_err(|err| format!("the texture could not be read back: {err}"))?
        .into_rgb8();
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
        out.extend_from_slice(&sample(&texture, *uv));
    }
    for t in &mesh.tris {
        out.push(3);
        for i in t {
            out.extend_from_slice(&i.to_le_bytes());
        }
    }
    Ok(out)
}

/// The texture's colour at texture coordinate `uv` (origin top-left), bilinear between pixel centres, clamped at
/// the edges.
fn sample(texture: &image::RgbImage, uv: [f32; 2]) -> [u8; 3] {
    let (w, h) = (texture.width(), texture.height());
    let x = (uv[0] * w as f32 - 0.5).clamp(0.0, (w - 1) as f32);
    let y = (uv[1] * h as f32 - 0.5).clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |x: u32, y: u32, c: usize| f32::from(texture.get_pixel(x, y).0[c]);
    [0, 1, 2].map(|c| {
        let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
        let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
        (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
    })
}
