//! `mesh402 mesh` on the real binary: the output's name decides the format, and a name whose extension is not a
//! format mesh402 writes is refused before any work, naming the formats, with nothing written.

use std::path::Path;
use std::process::{Command, Output};

fn mesh(image: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesh402")).arg("mesh").arg(image).args(args).output().expect("the binary runs")
}

#[test]
fn the_output_name_chooses_an_offered_format_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("disc.png");
    std::fs::write(&image, mesh402_testkit::disc_png(128, 50.0)).unwrap();

    for name in ["model.fbx", "model.blend", "model.GLTF"] {
        let out = dir.path().join(name);
        let output = mesh(&image, &["-o", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}: {stderr}");
        assert!(stderr.contains(".glb, .obj, .stl, .ply, .3mf, .usdz"), "{name}: the formats are named: {stderr}");
        assert!(!out.exists(), "{name}: nothing is written");
    }

    // The name and --format must agree.
    let out = dir.path().join("model.glb");
    let output = mesh(&image, &["-o", out.to_str().unwrap(), "--format", "obj"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--format asks for obj"));
    assert!(!out.exists());

    // An offered extension, in any case, writes that format.
    let out = dir.path().join("model.STL");
    let output = mesh(&image, &["-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stl = std::fs::read(&out).unwrap();
    let facets = u32::from_le_bytes(stl[80..84].try_into().unwrap()) as usize;
    assert!(facets > 0 && stl.len() == 84 + 50 * facets, "a binary STL");

    let out = dir.path().join("model.glb");
    let output = mesh(&image, &["-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"glTF");
    let written = |dir: &Path| {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    };
    assert_eq!(written(dir.path()), ["disc.png", "model.STL", "model.glb"], "only the format asked for");

    // OBJ brings its material and texture; every format and the preview only when asked for.
    let objs = tempfile::tempdir().unwrap();
    let output = mesh(&image, &["-o", objs.path().join("disc.obj").to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(written(objs.path()), ["disc.obj", "model.mtl", "texture.jpg"]);
    let all = tempfile::tempdir().unwrap();
    let output = mesh(&image, &["-o", all.path().join("disc.usdz").to_str().unwrap(), "--all-formats"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        written(all.path()),
        [
            "disc.usdz",
            "model.3mf",
            "model.glb",
            "model.mtl",
            "model.obj",
            "model.ply",
            "model.stl",
            "preview.png",
            "texture.jpg"
        ]
    );
}
