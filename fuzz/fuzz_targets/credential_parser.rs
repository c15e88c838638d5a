//! Fuzzes the credential parsers: any bytes, read as `Authorization` and `Macaroon` header values,
//! must give a result and never panic; whatever parses must survive verification attempts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh402_l402::{
    Challenge, Keyring, ServerSecret, TokenId, VerifyContext, parse_authorization, parse_macaroon_header, verify,
};

fn never_revoked(_: &TokenId) -> bool {
    false
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // One input may hold several header values, one per line.
    let values: Vec<&str> = text.split('\n').collect();
    let keyring = Keyring::new(ServerSecret::from_bytes([7; 32]));
    let ctx = VerifyContext {
        service: "3d-model",
        now_unix: 1_800_000_000,
        request_binding: None,
        is_revoked: &never_revoked,
    };
    if let Ok(Some(credential)) = parse_authorization(values.iter().copied()) {
        let _ = verify(&credential, &keyring, &ctx);
        let _ = parse_authorization([credential.to_header_value().as_str()]);
    }
    for value in &values {
        if let Ok(credential) = parse_macaroon_header(value) {
            let _ = verify(&credential, &keyring, &ctx);
        }
        let _ = Challenge::parse(value);
    }
});
