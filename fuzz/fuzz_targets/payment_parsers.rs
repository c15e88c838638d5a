//! Fuzzes the `Payment` scheme's parsers: any bytes, read as `WWW-Authenticate`, `Authorization` and
//! `Accept-Payment` values, must give a result and never panic; whatever parses must survive verification.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh402_mpp::{
    ChallengeKey, PaymentChallenge, VerifyContext, accepts, parse_authorization, parse_challenges, verify,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // One input may hold several header values, one per line.
    let values: Vec<&str> = text.split('\n').collect();
    let keys = [ChallengeKey::from_bytes([7; 32])];
    let context = VerifyContext { realm: "models.example.com", now_unix: 1_800_000_000, request_binding: None };
    if let Ok(Some(credential)) = parse_authorization(values.iter().copied()) {
        let _ = verify(&credential, &keys, &context);
        let _ = parse_authorization([credential.header_value().as_str()]);
    }
    for value in &values {
        for parsed in parse_challenges(value) {
            if let Some(Ok(challenge)) = PaymentChallenge::from_parsed(&parsed) {
                let _ = challenge.charge();
                let _ = challenge.expires_unix();
                let _ = parse_challenges(&challenge.header_value());
            }
        }
    }
    let _ = accepts(values.iter().copied(), "lightning", "charge");
});
