//! Fuzzes the macaroon decoder: any bytes (V2, V1 or garbage) must decode or fail cleanly, and
//! whatever decodes must re-encode to a macaroon that decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh402_l402::{Identifier, Macaroon};

fuzz_target!(|data: &[u8]| {
    if let Ok(macaroon) = Macaroon::from_bytes(data) {
        let encoded = macaroon.to_bytes();
        assert_eq!(Macaroon::from_bytes(&encoded).as_ref(), Ok(&macaroon));
        assert_eq!(Macaroon::from_base64(&macaroon.to_base64()).as_ref(), Ok(&macaroon));
        let _ = Identifier::decode(macaroon.identifier());
        let _ = macaroon.verify_signature(b"key");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Macaroon::from_base64(text);
    }
});
