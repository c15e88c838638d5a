//! Writes the mask the generator finds for one image: `cargo run --release -p mesh402-mesh --example segment --
//! IMAGE OUT.png [alpha|colour|learned]`.
//!
//! Without a source the per-picture choice is made; with one, that source alone is used. Prints the source, the
//! number of parts and the time taken; the PNG is white where the object is.

use std::process::ExitCode;
use std::time::Instant;

use mesh402_core::{ImageKind, MaskSource};
use mesh402_mesh::segment_with;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: segment IMAGE OUT.png [alpha|colour|learned]");
        return ExitCode::from(2);
    }
    let kind = match args[1].rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("png") => ImageKind::Png,
        Some("jpg" | "jpeg") => ImageKind::Jpeg,
        Some("webp") => ImageKind::Webp,
        _ => {
            eprintln!("{}: not a .png, .jpg or .webp file", args[1]);
            return ExitCode::from(2);
        }
    };
    let source = match args.get(3).map(String::as_str) {
        None => None,
        Some("alpha") => Some(MaskSource::Alpha),
        Some("colour") => Some(MaskSource::Colour),
        Some("learned") => Some(MaskSource::Learned),
        Some(other) => {
            eprintln!("unknown source {other}");
            return ExitCode::from(2);
        }
    };
    let bytes = match std::fs::read(&args[1]) {
        Ok(b) => b,
        Err(err) => {
            eprintln!("{}: {err}", args[1]);
            return ExitCode::from(1);
        }
    };
    let started = Instant::now();
    let seg = match segment_with(&bytes, kind, source) {
        Ok(seg) => seg,
        Err(err) => {
            eprintln!("{} ({})", err, err.code());
            return ExitCode::from(1);
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let pixels = seg.object.iter().map(|&o| if o { 255u8 } else { 0 }).collect();
    let Some(image) = image::GrayImage::from_raw(seg.width, seg.height, pixels) else {
        eprintln!("mask size mismatch");
        return ExitCode::from(1);
    };
    if let Err(err) = image.save(&args[2]) {
        eprintln!("{}: {err}", args[2]);
        return ExitCode::from(1);
    }
    println!(
        "source {} closer {} confidence {:.2} parts {} size {}x{} in {ms:.0} ms",
        seg.source.name(),
        seg.looked_closer,
        seg.confidence,
        seg.n_parts,
        seg.width,
        seg.height
    );
    ExitCode::SUCCESS
}
