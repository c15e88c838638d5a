//! USDZ for AR (Apple's AR Quick Look and any USD reader): an uncompressed zip whose first entry is a USD layer in
//! text form (`model.usda`, allowed in a package by the USDZ specification and the ARKit rules) and whose second is
//! the JPEG texture, each entry's data aligned to 64 bytes. The layer declares metres and +Y up and holds one mesh
//! (points, vertex normals, texture coordinates `st`) bound to a `UsdPreviewSurface` material that reads the
//! texture through a `UsdUVTexture`.

use std::fmt::Write as _;
use std::io::Write as _;

use mesh402_core::{Format, OutputFile};

use super::{Source, min_max, primary, stored};
use crate::build::Mesh3;

/// The package's entries start at multiples of this many bytes, as the USDZ specification requires.
const ALIGNMENT: u16 = 64;

/// The texture's name inside the package, as the layer refers to it.
const TEXTURE_ENTRY: &str = "texture.jpg";

/// `model.usdz`.
pub(super) fn write(source: &Source) -> Result<Vec<OutputFile>, String> {
    let layer = layer(source.mesh);
    let mut package = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in [("model.usda", layer.as_bytes()), (TEXTURE_ENTRY, &source.texture.jpeg[..])] {
        package.start_file(name, stored(ALIGNMENT)).map_err(|err| err.to_string())?;
        package.write_all(bytes).map_err(|err| err.to_string())?;
    }
    Ok(primary(Format::Usdz, package.finish().map_err(|err| err.to_string())?.into_inner()))
}

/// The USD layer (`usda` text) of the mesh and its material.
fn layer(mesh: &Mesh3) -> String {
    let mut s = String::with_capacity(mesh.positions.len() * 90 + mesh.tris.len() * 24 + 4096);
    s.push_str(
        "#usda 1.0\n(\n    defaultPrim = \"Model\"\n    doc = \"mesh402: a model made from a photo\"\n    \
         metersPerUnit = 1\n    upAxis = \"Y\"\n)\n\n\
         def Xform \"Model\" (\n    kind = \"component\"\n)\n{\n    \
         def Mesh \"Mesh\" (\n        prepend apiSchemas = [\"MaterialBindingAPI\"]\n    )\n    {\n",
    );
    let (lo, hi) = min_max(&mesh.positions);
    let _ =
        writeln!(s, "        float3[] extent = [({}, {}, {}), ({}, {}, {})]", lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]);
    s.push_str("        int[] faceVertexCounts = [");
    join(&mut s, mesh.tris.iter(), |s, _| s.push('3'));
    s.push_str("]\n        int[] faceVertexIndices = [");
    join(&mut s, mesh.tris.iter(), |s, t| {
        let _ = write!(s, "{}, {}, {}", t[0], t[1], t[2]);
    });
    s.push_str("]\n        rel material:binding = </Model/Materials/Photo>\n        normal3f[] normals = [");
    join(&mut s, mesh.normals.iter(), |s, n| {
        let _ = write!(s, "({}, {}, {})", n[0], n[1], n[2]);
    });
    s.push_str("] (\n            interpolation = \"vertex\"\n        )\n        point3f[] points = [");
    join(&mut s, mesh.positions.iter(), |s, p| {
        let _ = write!(s, "({}, {}, {})", p[0], p[1], p[2]);
    });
    // USD's texture coordinates have their origin at the bottom left, glTF's at the top left.
    s.push_str("]\n        texCoord2f[] primvars:st = [");
    join(&mut s, mesh.uvs.iter(), |s, t| {
        let _ = write!(s, "({}, {})", t[0], 1.0 - t[1]);
    });
    s.push_str(
        "] (\n            interpolation = \"vertex\"\n        )\n        \
         uniform token subdivisionScheme = \"none\"\n    }\n\n    \
         def Scope \"Materials\"\n    {\n        def Material \"Photo\"\n        {\n            \
         token outputs:surface.connect = </Model/Materials/Photo/Surface.outputs:surface>\n\n            \
         def Shader \"Surface\"\n            {\n                uniform token info:id = \"UsdPreviewSurface\"\n                \
         color3f inputs:diffuseColor.connect = </Model/Materials/Photo/Texture.outputs:rgb>\n                \
         float inputs:metallic = 0\n                float inputs:roughness = 0.9\n                \
         token outputs:surface\n            }\n\n            \
         def Shader \"Coordinates\"\n            {\n                \
         uniform token info:id = \"UsdPrimvarReader_float2\"\n                string inputs:varname = \"st\"\n                \
         float2 outputs:result\n            }\n\n            \
         def Shader \"Texture\"\n            {\n                uniform token info:id = \"UsdUVTexture\"\n",
    );
    let _ = writeln!(s, "                asset inputs:file = @{TEXTURE_ENTRY}@");
    s.push_str(
        "                float2 inputs:st.connect = </Model/Materials/Photo/Coordinates.outputs:result>\n                \
         token inputs:sourceColorSpace = \"sRGB\"\n                token inputs:wrapS = \"clamp\"\n                \
         token inputs:wrapT = \"clamp\"\n                float3 outputs:rgb\n            }\n        }\n    }\n}\n",
    );
    s
}

/// Writes each item with `item`, separated by `, `.
fn join<T>(s: &mut String, items: impl Iterator<Item = T>, mut item: impl FnMut(&mut String, T)) {
    for (k, value) in items.enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        item(s, value);
    }
}
