//! Binary glTF 2.0 (GLB): one mesh, one textured material and the JPEG texture, in one file.

use mesh402_core::{Format, OutputFile};
use serde_json::json;

use super::{Source, min_max, primary};
use crate::build::Mesh3;

const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;
const FLOAT: u32 = 5126;
const UNSIGNED_INT: u32 = 5125;

/// `model.glb`.
pub(super) fn write(source: &Source) -> Result<Vec<OutputFile>, String> {
    Ok(primary(Format::Glb, glb(source.mesh, &source.texture.jpeg)))
}

fn pad4(bytes: &mut Vec<u8>, fill: u8) {
    while !bytes.len().is_multiple_of(4) {
        bytes.push(fill);
    }
}

/// Writes a GLB with one mesh, one textured material (metallic 0, roughness 0.9) and the JPEG texture embedded.
fn glb(mesh: &Mesh3, texture_jpeg: &[u8]) -> Vec<u8> {
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
