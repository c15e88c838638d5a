//! Benchmarks of the whole pipeline on photo-like synthetic JPEGs of about 1 and 12 megapixels.
//!
//! Run with `cargo bench -p mesh402-mesh --bench generate`. The bar: at most 300 ms per 1 MP photo on one core.

mod synth;

use mesh402_mesh::{ImageKind, MeshParams, generate};

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
