//! The vendored third-party files of the web page are exactly the ones `crates/server/web/vendor/PROVENANCE.md`
//! names: each file's sha256 matches its row, every file in the folder has a row, and the licences are there. The
//! page's Content-Security-Policy lets in the viewer's one `<style>` element by its hash; that hash is recomputed
//! here from the vendored file.

use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

fn vendor() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/web/vendor")
}

#[test]
fn vendored_files_match_their_recorded_sha256() {
    let folder = vendor();
    let provenance = std::fs::read_to_string(folder.join("PROVENANCE.md")).expect("PROVENANCE.md");
    let mut checked = Vec::new();
    for row in provenance.lines().filter(|line| line.starts_with("| ") && !line.starts_with("| file")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let [file, _package, _version, _source, sha256] = cells[..] else { panic!("a row of five cells: {row}") };
        let bytes = std::fs::read(folder.join(file)).unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sha256, "{file} differs from the recorded release");
        checked.push(file.to_owned());
    }
    let mut present: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "PROVENANCE.md" && name != "LICENSES.txt")
        .collect();
    present.sort();
    checked.sort();
    assert_eq!(present, checked, "every vendored file has a provenance row");
    let licences = std::fs::read_to_string(folder.join("LICENSES.txt")).unwrap();
    for name in ["Apache License", "three", "lit", "gainmap-js", "qrcode-generator"] {
        assert!(licences.contains(name), "LICENSES.txt names {name}");
    }
}

#[test]
fn the_csp_names_the_hash_of_the_viewers_style() {
    let viewer = std::fs::read_to_string(vendor().join("model-viewer.min.js")).unwrap();
    let styles: Vec<&str> = viewer
        .match_indices("<style>")
        .map(|(start, tag)| {
            let css = &viewer[start + tag.len()..];
            &css[..css.find("</style>").expect("a closed style element")]
        })
        .collect();
    assert_eq!(styles.len(), 1, "the viewer's template has one style element");
    assert!(!styles[0].contains("${"), "the style is static, so its hash is fixed");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(styles[0].as_bytes()));
    let web = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src/web.rs")).unwrap();
    assert!(web.contains(&format!("'sha256-{hash}'")), "the CSP in web.rs lets in the viewer's style {hash}");
}
