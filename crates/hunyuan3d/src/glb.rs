//! Checking a GLB that came over the network before it is stored: the `gltf` crate parses and validates the
//! document (a GLB header, a JSON chunk whose indices all resolve); on top of that every buffer view must lie inside
//! the binary chunk and every accessor inside its view, the model must have triangles (not more than allowed), and
//! its positions' bounds (which glTF requires on `POSITION` accessors) must be finite and of a sensible size.

use gltf::Gltf;
use gltf::mesh::Mode;

/// What a checked model holds.
#[derive(Debug, Clone, PartialEq)]
pub struct GlbFacts {
    /// Triangles over all meshes.
    pub triangles: u64,
    /// Vertices over all primitives.
    pub vertices: u64,
    /// Meshes.
    pub meshes: u32,
    /// The smallest and largest position over all primitives.
    pub bounds: ([f32; 3], [f32; 3]),
}

/// Largest coordinate accepted (a model is a few units across; this catches garbage, not large objects).
const MAX_COORDINATE: f32 = 1.0e6;

/// Checks `bytes` as a GLB with at most `max_triangles` triangles; the error says what is wrong.
pub fn check_glb(bytes: &[u8], max_triangles: u64) -> Result<GlbFacts, String> {
    if bytes.get(..4) != Some(b"glTF".as_slice()) {
        return Err("it is not a GLB file".into());
    }
    let document = Gltf::from_slice(bytes).map_err(|error| format!("it is not valid glTF: {error}"))?;
    let blob_len = document.blob.as_ref().map_or(0, Vec::len);
    for buffer in document.buffers() {
        if !matches!(buffer.source(), gltf::buffer::Source::Bin) {
            return Err("it refers to an external buffer (a GLB must be self-contained)".into());
        }
        if buffer.length() > blob_len {
            return Err(format!("its buffer claims {} bytes, the binary chunk has {blob_len}", buffer.length()));
        }
    }
    for view in document.views() {
        let end = view.offset().checked_add(view.length());
        if end.is_none_or(|end| end > view.buffer().length()) {
            return Err(format!("buffer view {} lies outside its buffer", view.index()));
        }
    }
    for accessor in document.accessors() {
        let Some(view) = accessor.view() else { continue };
        let element = accessor.size();
        let stride = view.stride().unwrap_or(element);
        let needed = accessor.count().checked_sub(1).map_or(Some(0), |last| {
            last.checked_mul(stride).and_then(|bytes| bytes.checked_add(element + accessor.offset()))
        });
        if needed.is_none_or(|needed| needed > view.length()) {
            return Err(format!("accessor {} lies outside its buffer view", accessor.index()));
        }
    }
    let (mut triangles, mut vertices, mut lower, mut upper) = (0u64, 0u64, [f32::MAX; 3], [f32::MIN; 3]);
    for mesh in document.meshes() {
        for primitive in mesh.primitives() {
            if primitive.mode() != Mode::Triangles {
                continue;
            }
            let positions = primitive.get(&gltf::Semantic::Positions).ok_or("a primitive has no positions")?;
            let count = positions.count() as u64;
            vertices += count;
            triangles += primitive.indices().map_or(count, |indices| indices.count() as u64) / 3;
            let corner = |value: Option<serde_json::Value>| -> Result<[f32; 3], String> {
                let values: Vec<f32> = value
                    .and_then(|value| serde_json::from_value(value).ok())
                    .ok_or("a POSITION accessor has no min/max bounds")?;
                let corner: [f32; 3] = values.try_into().map_err(|_| "POSITION bounds are not 3D")?;
                if corner.iter().all(|c| c.is_finite() && c.abs() <= MAX_COORDINATE) {
                    Ok(corner)
                } else {
                    Err("POSITION bounds are not finite or absurdly large".into())
                }
            };
            let (min, max) = (corner(positions.min())?, corner(positions.max())?);
            for axis in 0..3 {
                lower[axis] = lower[axis].min(min[axis]);
                upper[axis] = upper[axis].max(max[axis]);
            }
        }
    }
    if triangles == 0 {
        return Err("it has no triangles".into());
    }
    if triangles > max_triangles {
        return Err(format!("it has {triangles} triangles, more than the {max_triangles} allowed"));
    }
    let extent = (0..3).map(|axis| upper[axis] - lower[axis]).fold(0.0f32, f32::max);
    if extent.is_nan() || extent <= 1.0e-6 {
        return Err("its bounds are empty (every vertex in one point)".into());
    }
    Ok(GlbFacts { triangles, vertices, meshes: document.meshes().len() as u32, bounds: (lower, upper) })
}
