//! The self-check every model passes before it is returned: welded by position, every directed edge used once and
//! paired with its reverse, vertex-manifold, no degenerate faces, the expected number of bodies and holes, and a
//! positive volume.

use crate::build::Mesh3;

/// What the check measured on a model that passed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Topology {
    /// Vertices after welding by position.
    pub n_vertices: usize,
    /// Undirected edges.
    pub n_edges: usize,
    /// Triangles.
    pub n_faces: usize,
    /// Connected bodies.
    pub n_components: usize,
    /// Euler characteristic V − E + F.
    pub euler: i64,
    /// Signed volume in cubic metres.
    pub volume: f64,
}

/// Checks `mesh` and expects one body of genus `genus`.
pub(crate) fn check(mesh: &Mesh3, genus: usize) -> Result<Topology, String> {
    if mesh.tris.is_empty() {
        return Err("no triangles".into());
    }
    // Weld by exact position.
    let mut order: Vec<u32> = (0..mesh.positions.len() as u32).collect();
    let key = |i: u32| mesh.positions[i as usize].map(f32::to_bits);
    if mesh.positions.iter().flatten().any(|v| !v.is_finite()) {
        return Err("non-finite position".into());
    }
    order.sort_unstable_by_key(|&i| (key(i), i));
    let mut weld = vec![0u32; mesh.positions.len()];
    let mut n_vertices = 0u32;
    for (k, &i) in order.iter().enumerate() {
        if k > 0 && key(order[k - 1]) != key(i) {
            n_vertices += 1;
        }
        weld[i as usize] = n_vertices;
    }
    let n_vertices = n_vertices as usize + 1;
    let mut representative = vec![0usize; n_vertices];
    for (i, &w) in weld.iter().enumerate() {
        representative[w as usize] = i;
    }
    let tris: Vec<[u32; 3]> = mesh.tris.iter().map(|t| t.map(|i| weld[i as usize])).collect();
    for t in &tris {
        if t[0] == t[1] || t[1] == t[2] || t[2] == t[0] {
            return Err("degenerate triangle".into());
        }
        let p = t.map(|i| mesh.positions[representative[i as usize]].map(f64::from));
        let e1 = [p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]];
        let e2 = [p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]];
        let c = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
        if c[0] * c[0] + c[1] * c[1] + c[2] * c[2] <= 1e-24 {
            return Err("zero-area triangle".into());
        }
    }
    // Every directed edge once, and its reverse present.
    let mut directed: Vec<(u32, u32)> = tris.iter().flat_map(|t| [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])]).collect();
    directed.sort_unstable();
    if directed.windows(2).any(|w| w[0] == w[1]) {
        return Err("a directed edge is used twice (inconsistent winding or non-manifold edge)".into());
    }
    if directed.iter().any(|&(a, b)| directed.binary_search(&(b, a)).is_err()) {
        return Err("an edge has no opposite (the mesh is open)".into());
    }
    let n_edges = directed.len() / 2;
    // Vertex-manifold: around each vertex the corners form exactly one cycle.
    let mut corners: Vec<(u32, u32, u32)> =
        tris.iter().flat_map(|t| [(t[0], t[1], t[2]), (t[1], t[2], t[0]), (t[2], t[0], t[1])]).collect();
    corners.sort_unstable();
    let mut start = 0;
    while start < corners.len() {
        let v = corners[start].0;
        let mut end = start;
        while end < corners.len() && corners[end].0 == v {
            end += 1;
        }
        let fan = &corners[start..end];
        // Follow next(a) = b from the first corner; a single cycle visits every corner.
        let mut visited = 1usize;
        let first = fan[0].1;
        let mut current = fan[0].2;
        while current != first {
            match fan.binary_search_by(|c| c.1.cmp(&current)) {
                Ok(k) => current = fan[k].2,
                Err(_) => return Err("a vertex has an open fan".into()),
            }
            visited += 1;
            if visited > fan.len() {
                return Err("a vertex fan does not close".into());
            }
        }
        if visited != fan.len() {
            return Err("a vertex joins two separate surfaces (bow-tie)".into());
        }
        start = end;
    }
    let component = components(n_vertices, &tris);
    let mut used = vec![false; n_vertices];
    for t in &tris {
        for &i in t {
            used[i as usize] = true;
        }
    }
    let n_components = (0..n_vertices).filter(|&i| used[i] && component[i] == i as u32).count();
    let n_used = used.iter().filter(|&&u| u).count();
    let euler = n_used as i64 - n_edges as i64 + tris.len() as i64;
    let mut volume = 0.0f64;
    let mut lo = [f64::MAX; 3];
    let mut hi = [f64::MIN; 3];
    for p in &mesh.positions {
        for d in 0..3 {
            lo[d] = lo[d].min(f64::from(p[d]));
            hi[d] = hi[d].max(f64::from(p[d]));
        }
    }
    for t in &mesh.tris {
        let [a, b, c] = t.map(|i| mesh.positions[i as usize].map(f64::from));
        volume += (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
            + a[2] * (b[0] * c[1] - b[1] * c[0]))
            / 6.0;
    }
    let topology = Topology { n_vertices: n_used, n_edges, n_faces: tris.len(), n_components, euler, volume };
    if n_components != 1 {
        return Err(format!("{n_components} separate bodies"));
    }
    if euler != 2 - 2 * genus as i64 {
        return Err(format!("Euler characteristic {euler}, expected {}", 2 - 2 * genus as i64));
    }
    let box_volume = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
    if !(volume > 0.0 && volume >= 0.02 * box_volume) {
        return Err(format!("volume {volume:.3e} is not positive or too thin"));
    }
    Ok(topology)
}

/// Each vertex's body: the smallest index among the vertices its triangles connect it to (union-find over the
/// triangles); a vertex no triangle uses is its own.
pub(crate) fn components(n_vertices: usize, tris: &[[u32; 3]]) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..n_vertices as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    for t in tris {
        for &other in &t[1..] {
            let (a, b) = (find(&mut parent, t[0]), find(&mut parent, other));
            if a != b {
                parent[a.max(b) as usize] = a.min(b);
            }
        }
    }
    (0..n_vertices as u32).map(|i| find(&mut parent, i)).collect()
}
