//! Turns the request body into a [`ModelRequest`], with a clear error for every way it can be wrong.
//!
//! Body: `{"image": "data:<png|jpeg|webp media type>;base64,<data>", <generator options>…}`, or `{"prompt":
//! "<text>", …}` instead of the image (for a generator that makes models from text; the others refuse it in the
//! preflight, before any invoice). Options are the `MeshParams` fields at the top level; unknown keys are errors,
//! not silently ignored.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mesh402_api::ErrorCode;
use mesh402_core::{ImageKind, MeshParams};
use mesh402_service::{MAX_PROMPT_BYTES, ModelInput, ModelRequest};
use serde_json::Value;

use crate::error::ApiError;

/// Standard base64, padding optional (some encoders drop it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses and checks a request body. Nothing here allocates more than a small multiple of the body, whose size
/// the router has already limited.
pub fn parse_model_request(body: &[u8]) -> Result<ModelRequest, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(ErrorCode::InvalidJson, format!("The body is not valid JSON ({error})."))
    })?;
    let Value::Object(mut fields) = value else {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidJson,
            "The body must be a JSON object with an \"image\" field.",
        ));
    };
    let image = fields.remove("image").filter(|value| !value.is_null());
    let prompt = fields.remove("prompt").filter(|value| !value.is_null());
    let params: MeshParams = serde_json::from_value(Value::Object(fields))
        .map_err(|error| ApiError::new(ErrorCode::InvalidOption, format!("Invalid option: {error}.")))?;
    params.validate().map_err(ApiError::from)?;
    let input = match (image, prompt) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                ErrorCode::ImageAndPrompt,
                "Send either an \"image\" or a \"prompt\", not both.",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                ErrorCode::MissingImage,
                "The \"image\" field is required: a data URI such as data:image/png;base64,… (or a \"prompt\", \
                 where the server's generator makes models from text).",
            ));
        }
        (Some(Value::String(image)), None) => {
            let (kind, bytes) = decode_data_uri(&image)?;
            ModelInput::Image { bytes, kind }
        }
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidImageField,
                "The \"image\" field must be a string: a data URI such as data:image/png;base64,….",
            ));
        }
        (None, Some(prompt)) => ModelInput::Prompt(check_prompt(prompt)?),
    };
    Ok(ModelRequest { input, params })
}

/// A prompt must be a string of visible text, at most [`MAX_PROMPT_BYTES`]; surrounding white space is dropped
/// (so it is not part of what the credential is bound to).
fn check_prompt(prompt: Value) -> Result<String, ApiError> {
    let invalid = |message: String| ApiError::new(ErrorCode::InvalidPrompt, message);
    let Value::String(prompt) = prompt else {
        return Err(invalid("The \"prompt\" field must be a string: what the model should show.".into()));
    };
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err(invalid("The prompt is empty.".into()));
    }
    if prompt.len() > MAX_PROMPT_BYTES {
        return Err(invalid(format!(
            "The prompt is {} bytes long; at most {MAX_PROMPT_BYTES} are accepted.",
            prompt.len()
        )));
    }
    if prompt.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid("The prompt holds control characters; send plain text.".into()));
    }
    Ok(prompt.to_owned())
}

/// Splits `data:<type>[;param]*;base64,<data>` and decodes the data.
fn decode_data_uri(uri: &str) -> Result<(ImageKind, Vec<u8>), ApiError> {
    let invalid_uri = || {
        ApiError::bad_request(
            ErrorCode::InvalidDataUri,
            "The image must be a base64 data URI with its prefix, such as data:image/png;base64,….",
        )
    };
    let Some(prefix) = uri.get(..5) else { return Err(invalid_uri()) };
    if !prefix.eq_ignore_ascii_case("data:") {
        return Err(invalid_uri());
    }
    let rest = &uri[5..];
    let Some((header, data)) = rest.split_once(',') else { return Err(invalid_uri()) };
    let mut parts = header.split(';');
    let media_type = parts.next().unwrap_or("").trim();
    if !parts.any(|part| part.trim().eq_ignore_ascii_case("base64")) {
        return Err(invalid_uri());
    }
    let kind = ImageKind::from_media_type(media_type).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnsupportedImageType,
            format!(
                "Images of type {:?} are not supported; send image/png, image/jpeg or image/webp.",
                media_type.chars().take(64).collect::<String>()
            ),
        )
    })?;
    let data = data.trim();
    if data.is_empty() {
        return Err(ApiError::new(ErrorCode::ImageEmpty, "The image data is empty."));
    }
    let bytes = BASE64
        .decode(data)
        .map_err(|_| ApiError::bad_request(ErrorCode::InvalidBase64, "The image data is not valid standard base64."))?;
    Ok((kind, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> ErrorCode {
        parse_model_request(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn each_malformed_body_has_its_own_code() {
        assert_eq!(code("not json"), ErrorCode::InvalidJson);
        assert_eq!(code("[1]"), ErrorCode::InvalidJson);
        assert_eq!(code("{}"), ErrorCode::MissingImage);
        assert_eq!(code(r#"{"image": 5}"#), ErrorCode::InvalidImageField);
        assert_eq!(code(r#"{"image": "iVBORw0KGgo="}"#), ErrorCode::InvalidDataUri);
        assert_eq!(code(r#"{"image": "data:image/png,iVBORw0KGgo="}"#), ErrorCode::InvalidDataUri);
        assert_eq!(code(r#"{"image": "data:image/gif;base64,R0lGOD=="}"#), ErrorCode::UnsupportedImageType);
        assert_eq!(code(r#"{"image": "data:image/png;base64,!!!"}"#), ErrorCode::InvalidBase64);
        assert_eq!(code(r#"{"image": "data:image/png;base64,"}"#), ErrorCode::ImageEmpty);
        assert_eq!(code(r#"{"image": "data:image/png;base64,AAAA", "colour": "red"}"#), ErrorCode::InvalidOption);
        assert_eq!(code(r#"{"image": "data:image/png;base64,AAAA", "target_faces": 1}"#), ErrorCode::InvalidOption);
        assert_eq!(code(r#"{"image": "data:image/png;base64,AAAA", "prompt": "a cup"}"#), ErrorCode::ImageAndPrompt);
        assert_eq!(code(r#"{"prompt": 5}"#), ErrorCode::InvalidPrompt);
        assert_eq!(code(r#"{"prompt": "  "}"#), ErrorCode::InvalidPrompt);
        assert_eq!(code(r#"{"prompt": "a\u0000cup"}"#), ErrorCode::InvalidPrompt);
        assert_eq!(code(&format!(r#"{{"prompt": "{}"}}"#, "a".repeat(MAX_PROMPT_BYTES + 1))), ErrorCode::InvalidPrompt);
        assert_eq!(code(r#"{"prompt": "a cup", "colour": "red"}"#), ErrorCode::InvalidOption);
    }

    #[test]
    fn a_prompt_is_trimmed_and_keeps_its_options() {
        let request = parse_model_request(br#"{"prompt": "  a red teapot\n", "target_faces": 5000}"#).unwrap();
        assert_eq!(request.input, ModelInput::Prompt("a red teapot".into()));
        assert_eq!(request.params.target_faces, 5000);
    }

    #[test]
    fn a_good_body_decodes_with_options_and_lenient_padding() {
        let request =
            parse_model_request(br#"{"target_faces": 5000, "image": "DATA:image/PNG;base64,AAECAw"}"#).unwrap();
        assert_eq!(request.input, ModelInput::Image { bytes: vec![0, 1, 2, 3], kind: ImageKind::Png });
        assert_eq!(request.params.target_faces, 5000);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            /// Any body gets an answer, never a panic.
            #[test]
            fn any_body_gets_an_answer(body in prop::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse_model_request(&body);
            }

            /// Bodies shaped like requests (a data URI of any header and data, an option of any name and value): an
            /// answer every time, and what is accepted is exactly what was sent.
            #[test]
            fn request_shaped_bodies_are_read_exactly(
                scheme in "(data:|DATA:|dat:|)",
                media_type in "(image/png|image/jpeg|image/webp|image/gif|IMAGE/PNG|text/plain|)",
                parameters in "(;base64|;charset=x;base64|;BASE64|;base32|)",
                data in "[A-Za-z0-9+/=_ -]{0,64}",
                option in "(target_faces|texture_size|depth|format|colour|)",
                value in "(1|5000|-1|0\\.5|\"glb\"|\"stl\"|null|true|\\[\\]|1e400)",
            ) {
                let uri = format!("{scheme}{media_type}{parameters},{data}");
                let body = if option.is_empty() {
                    serde_json::json!({ "image": uri }).to_string()
                } else {
                    format!("{{\"image\": {}, \"{option}\": {value}}}", serde_json::Value::String(uri.clone()))
                };
                if let Ok(request) = parse_model_request(body.as_bytes()) {
                    let ModelInput::Image { bytes, kind } = request.input else { panic!("an image request") };
                    prop_assert_eq!(Some(kind), ImageKind::from_media_type(&media_type));
                    prop_assert_eq!(bytes, BASE64.decode(data.trim()).unwrap());
                }
            }
        }
    }
}
