//! The depth report: every object of `tests/fixtures/objects` (a product-photo render and its true shape) made
//! into a model and scored against the truth, one row per object and the medians.
//!
//! `cargo run --release -p mesh402-mesh --example depth_report -- [--second|--turned|--unseen] [--mirror]
//! [PARAMS_JSON]`: `--second` scores the second set (`tests/fixtures/objects-second`) instead, `--turned` the third
//! (objects of both seen from other turns, `tests/fixtures/objects-turned`), `--unseen` the fourth (objects added
//! after the rules, `tests/fixtures/objects-unseen`); `--mirror` mirrors
//! each photo and its truth left to right (every fixture but the book is turned the same way: a rule that only
//! works for that side shows here); a parameter
//! object such as `'{"depth":1.0}'` compares an override. The measure is `tests/common/shape.rs` (the one the
//! depth test asserts on).

#[path = "../tests/common/shape.rs"]
mod shape;

use std::path::Path;
use std::process::ExitCode;

use mesh402_core::{Format, ImageKind, MeshParams};
use mesh402_mesh::generate;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let sets = [("--second", "objects-second"), ("--turned", "objects-turned"), ("--unseen", "objects-unseen")];
    let chosen: Vec<&str> = sets.iter().filter(|(flag, _)| args.iter().any(|arg| arg == flag)).map(|s| s.1).collect();
    let set = match chosen[..] {
        [] => "objects",
        [one] => one,
        _ => {
            eprintln!("choose one set: --second, --turned or --unseen");
            return ExitCode::from(2);
        }
    };
    args.retain(|arg| !sets.iter().any(|(flag, _)| arg == flag));
    let mirror = match args.iter().position(|arg| arg == "--mirror") {
        Some(at) => {
            args.remove(at);
            true
        }
        None => false,
    };
    let mut params: MeshParams = match args.first().map(|s| serde_json::from_str(s)).transpose() {
        Ok(p) => p.unwrap_or_default(),
        Err(err) => {
            eprintln!("bad parameters: {err}");
            return ExitCode::from(2);
        }
    };
    params.format = Format::Stl;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(set);
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(".jpg").map(String::from))
            .collect(),
        Err(err) => {
            eprintln!("{}: {err}", dir.display());
            return ExitCode::from(1);
        }
    };
    names.sort();
    println!(
        "{:<14} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6}",
        "object", "front", "side", "top", "depth", "chamfer", "F@5%", "F@10%", "ms"
    );
    let mut columns: [Vec<f64>; 7] = Default::default();
    for name in &names {
        let (Ok(photo), Ok(truth)) =
            (std::fs::read(dir.join(format!("{name}.jpg"))), std::fs::read(dir.join(format!("{name}.stl"))))
        else {
            eprintln!("{name}: the photo or the truth is missing");
            return ExitCode::from(1);
        };
        let (photo, kind) = if mirror { (mirrored(&photo), ImageKind::Png) } else { (photo, ImageKind::Jpeg) };
        let started = std::time::Instant::now();
        let model = match generate(&photo, kind, &params, &mut |_| {}) {
            Ok(model) => model,
            Err(err) => {
                println!("{name:<14} failed: {err}");
                continue;
            }
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let (model, mut truth) = (shape::read_stl(&model.files[0].bytes), shape::read_stl(&truth));
        if mirror {
            truth.iter_mut().flatten().for_each(|p| p[0] = -p[0]);
        }
        let score = shape::score(&model, &truth);
        if let Ok(views) = std::env::var("DEPTH_REPORT_VIEWS") {
            write_views(&Path::new(&views).join(format!("{name}.png")), &model, &truth);
        }
        let row = score.figures();
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
        println!(
            "{name:<14} {:>6.3} {:>6.3} {:>6.3} {:>6.2} {:>7.4} {:>6.3} {:>6.3} {ms:>6.0}",
            row[0], row[1], row[2], row[3], row[4], row[5], row[6]
        );
    }
    let medians = columns.map(|mut c| shape::median(&mut c));
    println!(
        "{:<14} {:>6.3} {:>6.3} {:>6.3} {:>6.2} {:>7.4} {:>6.3} {:>6.3}",
        "median", medians[0], medians[1], medians[2], medians[3], medians[4], medians[5], medians[6]
    );
    ExitCode::SUCCESS
}

/// The photo mirrored left to right, as a PNG: the object as it would be seen turned the other way.
fn mirrored(photo: &[u8]) -> Vec<u8> {
    let image = image::load_from_memory(photo).expect("a fixture decodes");
    let mut png = Vec::new();
    image::imageops::flip_horizontal(&image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("PNG encoding");
    png
}

/// Front, side and top silhouettes side by side: the model alone red, the truth alone blue, both grey.
fn write_views(path: &Path, model: &shape::Triangles, truth: &shape::Triangles) {
    let size = 256;
    let aligned = shape::align_by_front(model, truth);
    let views = shape::silhouettes(&aligned, truth, size);
    let mut image = image::RgbImage::new(3 * size as u32, size as u32);
    for (v, (m, t)) in views.iter().enumerate() {
        for y in 0..size {
            for x in 0..size {
                let (a, b) = (m[y * size + x], t[y * size + x]);
                let colour = match (a, b) {
                    (true, true) => [120, 120, 120],
                    (true, false) => [230, 60, 60],
                    (false, true) => [60, 60, 230],
                    (false, false) => [255, 255, 255],
                };
                image.put_pixel((v * size + x) as u32, (size - 1 - y) as u32, image::Rgb(colour));
            }
        }
    }
    if let Err(err) = image.save(path) {
        eprintln!("{}: {err}", path.display());
    }
}
