//! Writes the benchmark's photo-like synthetic JPEG: `cargo run --release -p mesh402-mesh --example synth -- W H OUT`.

#[path = "../benches/synth/mod.rs"]
mod synth;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parse = |i: usize| args.get(i).and_then(|s| s.parse::<u32>().ok());
    let (Some(width), Some(height), Some(out)) = (parse(1), parse(2), args.get(3)) else {
        eprintln!("usage: synth WIDTH HEIGHT OUT.jpg");
        std::process::exit(2);
    };
    if let Err(err) = std::fs::write(out, synth::photo_jpeg(width, height)) {
        eprintln!("{out}: {err}");
        std::process::exit(1);
    }
}
