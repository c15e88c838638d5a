//! Writers: binary glTF 2.0 (GLB), Wavefront OBJ with MTL, binary STL, binary PLY and 3MF, all from the same
//! buffers. Each is a few dozen lines over documented, fixed layouts; the crates that write them would add
//! dependencies (and for glTF a document model) for less than this code. The 3MF package's zip is the `zip`
//! crate's.

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

/// The longest side of a 3MF model, in millimetres: a size a desktop printer prints in an hour or two.
pub(crate) const PRINT_SIZE_MM: f64 = 100.0;

/// Writes a 3MF package (3MF core 1.3 with the materials extension): the model in millimetres, its longest side
/// [`PRINT_SIZE_MM`], +Z up and resting on the build plate at z = 0; every body a separate object (printable on its
/// own, closed and wound outward as the model's bodies are); colour from the texture, each triangle's corners
/// mapped into it (`texture2dgroup`). `texture_jpeg` is the JPEG the other writers embed.
pub(crate) fn three_mf(mesh: &Mesh3, texture_jpeg: &[u8]) -> Result<Vec<u8>, String> {
    use std::fmt::Write as _;
    use std::io::Write as _;

    // +Y up becomes +Z up by a quarter turn about x (x, y, z) → (x, −z, y), which keeps the winding.
    let turned: Vec<[f64; 3]> =
        mesh.positions.iter().map(|p| [f64::from(p[0]), -f64::from(p[2]), f64::from(p[1])]).collect();
    let (mut lo, mut hi) = ([f64::MAX; 3], [f64::MIN; 3]);
    for p in &turned {
        for d in 0..3 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    let longest = (0..3).map(|d| hi[d] - lo[d]).fold(0.0, f64::max);
    if turned.is_empty() || longest <= 0.0 {
        return Err("the model has no extent".into());
    }
    let scale = PRINT_SIZE_MM / longest;
    let mut model = String::with_capacity(mesh.positions.len() * 60 + mesh.tris.len() * 80 + 1024);
    model.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <model unit=\"millimeter\" xml:lang=\"en-US\" \
         xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\" \
         xmlns:m=\"http://schemas.microsoft.com/3dmanufacturing/material/2015/02\">\n\
         <metadata name=\"Application\">mesh402</metadata>\n<resources>\n\
         <m:texture2d id=\"1\" path=\"/3D/Texture/texture.jpg\" contenttype=\"image/jpeg\" \
         tilestyleu=\"clamp\" tilestylev=\"clamp\"/>\n<m:texture2dgroup id=\"2\" texid=\"1\">\n",
    );
    // 3MF's texture origin is the bottom left, glTF's the top left.
    for uv in &mesh.uvs {
        let _ = writeln!(model, "<m:tex2coord u=\"{}\" v=\"{}\"/>", uv[0], 1.0 - uv[1]);
    }
    model.push_str("</m:texture2dgroup>\n");
    let bodies = bodies(mesh);
    for (k, tris) in bodies.iter().enumerate() {
        let id = 3 + k;
        let _ =
            writeln!(model, "<object id=\"{id}\" type=\"model\" pid=\"2\" pindex=\"{}\"><mesh><vertices>", tris[0][0]);
        // The body's own vertices, numbered from zero in the order first used.
        let mut local = std::collections::HashMap::new();
        let mut order = Vec::new();
        for &i in tris.iter().flatten() {
            local.entry(i).or_insert_with(|| {
                order.push(i);
                order.len() - 1
            });
        }
        for &i in &order {
            let p = turned[i as usize];
            let at = |d: usize| (p[d] - lo[d]) * scale;
            let _ = writeln!(model, "<vertex x=\"{:.4}\" y=\"{:.4}\" z=\"{:.4}\"/>", at(0), at(1), at(2));
        }
        model.push_str("</vertices><triangles>\n");
        for t in tris {
            let _ = writeln!(
                model,
                "<triangle v1=\"{}\" v2=\"{}\" v3=\"{}\" pid=\"2\" p1=\"{}\" p2=\"{}\" p3=\"{}\"/>",
                local[&t[0]], local[&t[1]], local[&t[2]], t[0], t[1], t[2]
            );
        }
        model.push_str("</triangles></mesh></object>\n");
    }
    model.push_str("</resources>\n<build>\n");
    for k in 0..bodies.len() {
        let _ = writeln!(model, "<item objectid=\"{}\"/>", 3 + k);
    }
    model.push_str("</build>\n</model>\n");

    let content_types = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
        <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
        <Default Extension=\"model\" ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodel+xml\"/>\
        <Default Extension=\"jpg\" ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodeltexture\"/>\
        </Types>\n";
    let relationships = |target: &str, kind: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Target=\"{target}\" Id=\"rel0\" \
             Type=\"http://schemas.microsoft.com/3dmanufacturing/2013/01/{kind}\"/></Relationships>\n"
        )
    };
    let (package_rels, model_rels) =
        (relationships("/3D/3dmodel.model", "3dmodel"), relationships("/3D/Texture/texture.jpg", "3dtexture"));
    let parts: [(&str, &[u8], bool); 5] = [
        ("[Content_Types].xml", content_types.as_bytes(), true),
        ("_rels/.rels", package_rels.as_bytes(), true),
        ("3D/_rels/3dmodel.model.rels", model_rels.as_bytes(), true),
        ("3D/3dmodel.model", model.as_bytes(), true),
        // A JPEG does not deflate.
        ("3D/Texture/texture.jpg", texture_jpeg, false),
    ];
    let mut package = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes, deflate) in parts {
        // A fixed time keeps the bytes the same from run to run.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored })
            .last_modified_time(zip::DateTime::default());
        package.start_file(name, options).map_err(|err| err.to_string())?;
        package.write_all(bytes).map_err(|err| err.to_string())?;
    }
    Ok(package.finish().map_err(|err| err.to_string())?.into_inner())
}

/// The model's bodies: its triangles grouped by the vertices they share (each part is its own closed body, with
/// vertices of its own).
fn bodies(mesh: &Mesh3) -> Vec<Vec<[u32; 3]>> {
    let component = crate::check::components(mesh.positions.len(), &mesh.tris);
    let mut groups: std::collections::BTreeMap<u32, Vec<[u32; 3]>> = std::collections::BTreeMap::new();
    for t in &mesh.tris {
        groups.entry(component[t[0] as usize]).or_default().push(*t);
    }
    groups.into_values().collect()
}
