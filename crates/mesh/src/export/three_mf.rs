//! 3MF (core 1.3 with the materials extension): a package for printing, in millimetres, one object per body,
//! coloured by the texture.

use mesh402_core::{Format, OutputFile};

use super::{Source, primary, stored};
use crate::build::Mesh3;

/// `model.3mf`: the model in millimetres, its longest side the source's print size, +Z up and resting on the build
/// plate at z = 0; every body a separate object (printable on its own, closed and wound outward as the model's
/// bodies are); colour from the texture, each triangle's corners mapped into it (`texture2dgroup`).
pub(super) fn write(source: &Source) -> Result<Vec<OutputFile>, String> {
    let (mesh, texture_jpeg) = (source.mesh, &source.texture.jpeg[..]);
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
    let scale = source.print_size_mm / longest;
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
        // The fastest deflate level: the XML shrinks nearly as much (its numbers repeat) in under half the time.
        let options = if deflate {
            stored(1).compression_method(zip::CompressionMethod::Deflated).compression_level(Some(1))
        } else {
            stored(1)
        };
        package.start_file(name, options).map_err(|err| err.to_string())?;
        package.write_all(bytes).map_err(|err| err.to_string())?;
    }
    Ok(primary(Format::ThreeMf, package.finish().map_err(|err| err.to_string())?.into_inner()))
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
