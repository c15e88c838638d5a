//! Runs the generator on one image file: `cargo run --release -p mesh402-mesh --example mesh -- IMAGE OUT [JSON]`.
//!
//! `JSON` is an optional `MeshParams` object such as `{"target_faces":5000}`. Prints faces, vertices, bytes and
//! the time of each stage; writes every output file next to `OUT` (the primary file at `OUT` itself).

use std::path::Path;
use std::process::ExitCode;

use mesh402_core::{ImageKind, MeshParams};
use mesh402_mesh::generate;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: mesh IMAGE OUT [PARAMS_JSON]");
        return ExitCode::from(2);
    }
    let input = Path::new(&args[1]);
    let output = Path::new(&args[2]);
    let params: MeshParams = match args.get(3).map(|s| serde_json::from_str(s)).transpose() {
        Ok(p) => p.unwrap_or_default(),
        Err(err) => {
            eprintln!("bad parameters: {err}");
            return ExitCode::from(2);
        }
    };
    let kind = match input.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("png") => ImageKind::Png,
        Some("jpg" | "jpeg") => ImageKind::Jpeg,
        Some("webp") => ImageKind::Webp,
        _ => {
            eprintln!("unknown image extension");
            return ExitCode::from(2);
        }
    };
    let bytes = match std::fs::read(input) {
        Ok(b) => b,
        Err(err) => {
            eprintln!("{}: {err}", input.display());
            return ExitCode::from(1);
        }
    };
    let started = std::time::Instant::now();
    let model = match generate(&bytes, kind, &params, &mut |_| {}) {
        Ok(m) => m,
        Err(err) => {
            eprintln!("{}: {err}", err.code());
            return ExitCode::from(1);
        }
    };
    let total = started.elapsed().as_secs_f64() * 1000.0;
    for (i, file) in model.files.iter().enumerate() {
        let path = if i == 0 { output.to_path_buf() } else { output.with_file_name(&file.name) };
        if let Err(err) = std::fs::write(&path, &file.bytes) {
            eprintln!("{}: {err}", path.display());
            return ExitCode::from(1);
        }
        println!("wrote {} ({} bytes)", path.display(), file.bytes.len());
    }
    println!("faces {} vertices {}", model.stats.n_faces, model.stats.n_vertices);
    for (stage, ms) in &model.stats.stage_ms {
        println!("  {:<12} {ms:8.1} ms", stage.name());
    }
    println!("  {:<12} {total:8.1} ms", "total");
    ExitCode::SUCCESS
}
