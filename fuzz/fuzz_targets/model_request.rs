//! Fuzzes the request parser (`POST /api/l402/3d-model`'s body): any bytes must parse into a request or give a
//! JSON error with a 4xx status, never panic; a body that parses gives back its image or prompt unchanged when
//! written again as a data URI. This covers the data-URI decoder (media type, parameters, base64) as well.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use mesh402_server::request::parse_model_request;
use mesh402_service::ModelInput;

fuzz_target!(|data: &[u8]| {
    match parse_model_request(data) {
        Ok(request) => {
            if let ModelInput::Image { bytes, kind } = &request.input {
                let uri = format!(
                    "data:{};base64,{}",
                    kind.media_type(),
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                );
                let again = parse_model_request(serde_json::json!({ "image": uri }).to_string().as_bytes())
                    .expect("a data URI written from a parsed image parses");
                assert!(matches!(again.input, ModelInput::Image { bytes: ref b, kind: k } if b == bytes && k == *kind));
            }
        }
        Err(error) => assert!(error.status.is_client_error(), "{:?}", error.code),
    }
});
