//! The options a buyer sets in a request for a model: the generator's `MeshParams` as they travel, each one left
//! out of the body unless set, so that the server fills in its defaults.

use mesh402_core::{Format, Mode};
use serde::{Deserialize, Serialize};

/// The options of a request for a model, at the top level of its body beside `image` or `prompt`; every one the
/// buyer leaves unset is left out, and the server takes its default
/// ([`mesh402_core::MeshParams::default`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOptions {
    /// `inflate` or `extrude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The primary file's format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// The most triangles the model may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_faces: Option<u32>,
    /// A scale on the model's depth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<f32>,
    /// The texture's side in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub texture_size: Option<u32>,
    /// The 3MF model's longest side in millimetres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_size_mm: Option<u32>,
    /// The preview picture's side in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_size: Option<u32>,
}

#[cfg(test)]
mod tests {
    use mesh402_core::MeshParams;

    use super::*;

    #[test]
    fn every_option_is_the_generators_own_and_unset_ones_are_left_out() {
        assert_eq!(serde_json::to_string(&ModelOptions::default()).unwrap(), "{}");
        let set = ModelOptions {
            mode: Some(Mode::Extrude),
            format: Some(Format::ThreeMf),
            target_faces: Some(900),
            depth: Some(0.5),
            texture_size: Some(512),
            print_size_mm: Some(40),
            preview_size: Some(256),
        };
        // The generator reads every field by the same name (it refuses names it does not know).
        let params: MeshParams = serde_json::from_value(serde_json::to_value(set).unwrap()).unwrap();
        let expected = MeshParams {
            mode: Mode::Extrude,
            format: Format::ThreeMf,
            target_faces: 900,
            depth: 0.5,
            texture_size: 512,
            print_size_mm: 40,
            preview_size: 256,
        };
        assert_eq!(params, expected);
    }
}
