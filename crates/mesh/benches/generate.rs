//! Benchmarks of the whole pipeline: photo-like synthetic JPEGs of about 1 and 12 megapixels on a plain background
//! (the colour model's path), a cluttered photo (a scene fixture, the network's path, one look) and a small object
//! in grass (the network's path with its closer second look) at 1 and 12 megapixels, with the segmentation alone.
//!
//! Run with `cargo bench -p mesh402-mesh --bench generate`. The budget on a 2-core machine: 1.0 s per 1 MP photo
//! and 1.5 s per 12 MP photo, segmentation included.

mod synth;

use mesh402_core::{ImageKind, MeshParams};
use mesh402_mesh::{generate, segment};

fn main() {
    divan::main();
}

fn run(bytes: &[u8]) -> usize {
    let model = generate(bytes, ImageKind::Jpeg, &MeshParams::default(), &mut |_| {}).expect("generate");
    model.files[0].bytes.len()
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn photo_1mp(bencher: divan::Bencher) {
    let bytes = synth::photo_jpeg(1155, 866);
    bencher.bench(|| run(divan::black_box(&bytes)));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn photo_12mp(bencher: divan::Bencher) {
    let bytes = synth::photo_jpeg(4000, 3000);
    bencher.bench(|| run(divan::black_box(&bytes)));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn preflight_1mp(bencher: divan::Bencher) {
    let bytes = synth::photo_jpeg(1155, 866);
    bencher
        .bench(|| mesh402_mesh::preflight(divan::black_box(&bytes), ImageKind::Jpeg, &MeshParams::default()).is_ok());
}

/// The cluttered scene fixture (a bear on a forest path) resized to `width`×`height` and encoded as JPEG.
fn cluttered_jpeg(width: u32, height: u32) -> Vec<u8> {
    scene_jpeg("bear_forest_border", width, height)
}

/// The small-object scene fixture (a strawberry in grass, 5 % of the frame: both looks of the network).
fn small_jpeg(width: u32, height: u32) -> Vec<u8> {
    scene_jpeg("strawberry_small_grass", width, height)
}

/// A scene fixture resized to `width`×`height` and encoded as JPEG.
fn scene_jpeg(name: &str, width: u32, height: u32) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/scenes/{name}.jpg", env!("CARGO_MANIFEST_DIR"));
    let photo = image::open(path).expect("fixture").to_rgb8();
    let resized = image::imageops::resize(&photo, width, height, image::imageops::FilterType::Triangle);
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(&resized).expect("encode");
    bytes
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn segment_cluttered_1mp(bencher: divan::Bencher) {
    let bytes = cluttered_jpeg(1155, 866);
    bencher.bench(|| segment(divan::black_box(&bytes), ImageKind::Jpeg).expect("segment").n_parts);
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn cluttered_1mp(bencher: divan::Bencher) {
    let bytes = cluttered_jpeg(1155, 866);
    bencher.bench(|| run(divan::black_box(&bytes)));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn cluttered_12mp(bencher: divan::Bencher) {
    let bytes = cluttered_jpeg(4000, 3000);
    bencher.bench(|| run(divan::black_box(&bytes)));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn preflight_12mp(bencher: divan::Bencher) {
    let bytes = synth::photo_jpeg(4000, 3000);
    bencher
        .bench(|| mesh402_mesh::preflight(divan::black_box(&bytes), ImageKind::Jpeg, &MeshParams::default()).is_ok());
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn segment_small_1mp(bencher: divan::Bencher) {
    let bytes = small_jpeg(1155, 866);
    bencher.bench(|| segment(divan::black_box(&bytes), ImageKind::Jpeg).expect("segment").looked_closer);
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn small_1mp(bencher: divan::Bencher) {
    let bytes = small_jpeg(1155, 866);
    bencher.bench(|| run(divan::black_box(&bytes)));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn small_12mp(bencher: divan::Bencher) {
    let bytes = small_jpeg(4000, 3000);
    bencher.bench(|| run(divan::black_box(&bytes)));
}
