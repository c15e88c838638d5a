//! Benchmarks of the writers and the preview: what each format and the preview picture add to a generation, on
//! a closed mesh of 20,000 triangles (a UV sphere, the default face cap) with the default 1024² texture.
//!
//! Run with `cargo bench -p mesh402-mesh --bench export`.

use image::RgbImage;
use mesh402_core::{Format, MeshParams};
use mesh402_mesh::Mesh3;
use mesh402_mesh::export::{self, Source, Texture};

fn main() {
    divan::main();
}

/// A UV sphere of radius 0.5 with `rings` × `segments` quads (two triangles each, fans at the poles).
fn sphere(rings: u32, segments: u32) -> Mesh3 {
    let mut mesh = Mesh3::default();
    for r in 0..=rings {
        let theta = std::f32::consts::PI * r as f32 / rings as f32;
        for s in 0..=segments {
            let phi = std::f32::consts::TAU * s as f32 / segments as f32;
            let n = [theta.sin() * phi.sin(), theta.cos(), theta.sin() * phi.cos()];
            mesh.positions.push(n.map(|v| v * 0.5));
            mesh.normals.push(n);
            mesh.uvs.push([s as f32 / segments as f32, r as f32 / rings as f32]);
        }
    }
    let at = |r: u32, s: u32| r * (segments + 1) + s;
    for r in 0..rings {
        for s in 0..segments {
            let (a, b, c, d) = (at(r, s), at(r + 1, s), at(r + 1, s + 1), at(r, s + 1));
            if r > 0 {
                mesh.tris.push([a, b, d]);
            }
            if r + 1 < rings {
                mesh.tris.push([b, c, d]);
            }
        }
    }
    mesh
}

/// A 1024² texture with detail (the JPEG encoder and the samplers see varied pixels) and its JPEG.
fn texture() -> Texture {
    let image = RgbImage::from_fn(1024, 1024, |x, y| image::Rgb([(x ^ y) as u8, (x / 4) as u8, (y * 3 / 4) as u8]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&image).expect("encode");
    Texture { image, jpeg }
}

fn fixture() -> (Mesh3, Texture) {
    let mesh = sphere(101, 100);
    assert_eq!(mesh.tris.len(), 20_000);
    (mesh, texture())
}

#[divan::bench(args = Format::ALL, sample_count = 10, sample_size = 1)]
fn writer(bencher: divan::Bencher, format: Format) {
    let (mesh, texture) = fixture();
    let source = Source { mesh: &mesh, texture: &texture, print_size_mm: 100.0 };
    bencher.bench(|| export::write(format, divan::black_box(&source)).expect("written").len());
}

#[divan::bench(args = [256, 512, 1024], sample_count = 10, sample_size = 1)]
fn preview(bencher: divan::Bencher, size: u32) {
    let (mesh, texture) = fixture();
    bencher
        .bench(|| mesh402_mesh::preview::render(divan::black_box(&mesh), &texture.image, size).expect("a PNG").len());
}

/// Every format and the preview at the default size: what a generation spends writing.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn everything(bencher: divan::Bencher) {
    let (mesh, texture) = fixture();
    let source = Source { mesh: &mesh, texture: &texture, print_size_mm: 100.0 };
    bencher.bench(|| export::write_all(divan::black_box(&source), &MeshParams::default()).expect("written").len());
}
