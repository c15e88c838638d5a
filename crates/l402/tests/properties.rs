//! Property tests: appending caveats never breaks a token, changing any byte always does, encoding
//! round-trips, and the parsers never panic.

use mesh402_l402::{
    Credential, Identifier, Keyring, Macaroon, MintParams, Preimage, RequestBinding, ServerSecret, TokenId,
    VerifyContext, caveat, mint, parse_authorization, parse_macaroon_header, verify,
};
use proptest::prelude::*;

const SERVICE: &str = "3d-model";
const NOW: u64 = 1_800_000_000;

fn never_revoked(_: &TokenId) -> bool {
    false
}

fn context(binding: Option<RequestBinding>) -> VerifyContext<'static> {
    VerifyContext { service: SERVICE, now_unix: NOW, request_binding: binding, is_revoked: &never_revoked }
}

/// A freshly minted, paid credential for a random token.
fn minted(secret: [u8; 32], preimage: [u8; 32], token_id: [u8; 32], binding: [u8; 32]) -> (Keyring, Credential) {
    let keyring = Keyring::new(ServerSecret::from_bytes(secret));
    let preimage = Preimage(preimage);
    let identifier = Identifier { payment_hash: preimage.hash(), token_id: TokenId(token_id) };
    let macaroon = mint(
        &keyring,
        &identifier,
        &MintParams {
            service: SERVICE,
            tier: 0,
            capabilities: &[],
            valid_until: NOW + 600,
            request_binding: Some(RequestBinding(binding)),
        },
    );
    (keyring, Credential { macaroons: vec![macaroon], preimage })
}

/// Whether a caveat is one of the conditions verification checks for [`SERVICE`].
fn is_known_condition(bytes: &[u8]) -> bool {
    caveat::Caveat::parse(bytes).is_some_and(|c| {
        c.condition == caveat::SERVICES
            || c.condition.strip_prefix(SERVICE).is_some_and(|suffix| {
                [caveat::CAPABILITIES_SUFFIX, caveat::VALID_UNTIL_SUFFIX, caveat::REQUEST_SHA256_SUFFIX]
                    .contains(&suffix)
            })
    })
}

fn arbitrary_macaroon() -> impl Strategy<Value = Macaroon> {
    (
        proptest::collection::vec(any::<u8>(), 0..48),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8),
    )
        .prop_map(|(root_key, location, identifier, caveats)| {
            let mut macaroon = Macaroon::new(&root_key, identifier, location);
            for caveat in caveats {
                macaroon.add_first_party_caveat(caveat);
            }
            macaroon
        })
}

proptest! {
    #[test]
    fn appending_any_caveat_keeps_the_token_valid(
        secret in any::<[u8; 32]>(),
        preimage in any::<[u8; 32]>(),
        token_id in any::<[u8; 32]>(),
        binding in any::<[u8; 32]>(),
        extra in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..4),
    ) {
        let (keyring, mut credential) = minted(secret, preimage, token_id, binding);
        let identifier = Identifier::decode(credential.macaroons[0].identifier()).unwrap();
        let root_key = keyring.root_key(&identifier);
        for caveat in &extra {
            credential.macaroons[0].add_first_party_caveat(caveat);
            prop_assert!(credential.macaroons[0].verify_signature(root_key.as_bytes()));
        }
        if !extra.iter().any(|c| is_known_condition(c)) {
            prop_assert!(verify(&credential, &keyring, &context(Some(RequestBinding(binding)))).is_ok());
        }
    }

    #[test]
    fn appending_a_text_caveat_of_an_unknown_condition_keeps_verify_passing(
        condition in "[a-z_]{1,20}",
        value in ".{0,40}",
    ) {
        prop_assume!(!is_known_condition(format!("{condition}=").as_bytes()));
        let (keyring, mut credential) = minted([1; 32], [2; 32], [3; 32], [4; 32]);
        credential.macaroons[0].add_first_party_caveat(format!("{condition}={value}"));
        prop_assert!(verify(&credential, &keyring, &context(Some(RequestBinding([4; 32])))).is_ok());
    }

    #[test]
    fn flipping_any_byte_of_the_serialized_macaroon_never_verifies(
        secret in any::<[u8; 32]>(),
        preimage in any::<[u8; 32]>(),
        token_id in any::<[u8; 32]>(),
        index in any::<proptest::sample::Index>(),
        mask in 1u8..,
    ) {
        let (keyring, credential) = minted(secret, preimage, token_id, [9; 32]);
        let original = &credential.macaroons[0];
        let mut bytes = original.to_bytes();
        let at = index.index(bytes.len());
        bytes[at] ^= mask;
        if let Ok(changed) = Macaroon::from_bytes(&bytes) {
            let tampered = Credential { macaroons: vec![changed.clone()], preimage: credential.preimage.clone() };
            if verify(&tampered, &keyring, &context(Some(RequestBinding([9; 32])))).is_ok() {
                // Only the location is outside the signature (by the macaroon design); nothing
                // that is signed may have changed.
                prop_assert_eq!(changed.identifier(), original.identifier());
                prop_assert_eq!(changed.caveats(), original.caveats());
                prop_assert_eq!(changed.signature(), original.signature());
                prop_assert_ne!(changed.location(), original.location());
            }
        }
    }

    #[test]
    fn changing_a_caveat_the_identifier_or_the_preimage_never_verifies(
        secret in any::<[u8; 32]>(),
        preimage in any::<[u8; 32]>(),
        token_id in any::<[u8; 32]>(),
        which in 0usize..3,
        index in any::<proptest::sample::Index>(),
        mask in 1u8..,
    ) {
        let (keyring, credential) = minted(secret, preimage, token_id, [9; 32]);
        let original = &credential.macaroons[0];
        let tampered = match which {
            0 => {
                // Rebuild the macaroon with one caveat byte changed but the original signature.
                let mut caveats = original.caveats().to_vec();
                let flat: usize = caveats.iter().map(Vec::len).sum();
                let mut at = index.index(flat);
                for caveat in &mut caveats {
                    if at < caveat.len() {
                        caveat[at] ^= mask;
                        break;
                    }
                    at -= caveat.len();
                }
                let changed = with_signature(original.identifier().to_vec(), &caveats, original.signature());
                Credential { macaroons: vec![changed], preimage: credential.preimage.clone() }
            }
            1 => {
                let mut identifier = original.identifier().to_vec();
                let at = index.index(identifier.len());
                identifier[at] ^= mask;
                let changed = with_signature(identifier, original.caveats(), original.signature());
                Credential { macaroons: vec![changed], preimage: credential.preimage.clone() }
            }
            _ => {
                let mut preimage = credential.preimage.0;
                preimage[index.index(32)] ^= mask;
                Credential { macaroons: credential.macaroons.clone(), preimage: Preimage(preimage) }
            }
        };
        prop_assert!(verify(&tampered, &keyring, &context(Some(RequestBinding([9; 32])))).is_err());
    }

    #[test]
    fn arbitrary_macaroons_round_trip(macaroon in arbitrary_macaroon()) {
        prop_assert_eq!(Macaroon::from_bytes(&macaroon.to_bytes()), Ok(macaroon.clone()));
        prop_assert_eq!(Macaroon::from_base64(&macaroon.to_base64()), Ok(macaroon));
    }

    #[test]
    fn parse_authorization_never_panics(values in proptest::collection::vec(".{0,200}", 0..4)) {
        let _ = parse_authorization(values.iter().map(String::as_str));
        for value in &values {
            let _ = parse_macaroon_header(value);
            let prefixed = format!("L402 {value}");
            let _ = parse_authorization([prefixed.as_str()]);
        }
    }

    #[test]
    fn parse_authorization_never_panics_on_near_valid_input(
        index in any::<proptest::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let (_, credential) = minted([1; 32], [2; 32], [3; 32], [4; 32]);
        let mut header: Vec<char> = credential.to_header_value().chars().collect();
        let at = index.index(header.len());
        header[at] = replacement;
        let header: String = header.into_iter().collect();
        let _ = parse_authorization([header.as_str()]);
    }

    #[test]
    fn from_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Macaroon::from_bytes(&bytes);
        let mut v2 = bytes.clone();
        v2.insert(0, 2);
        let _ = Macaroon::from_bytes(&v2);
        let mut v1 = bytes;
        v1.splice(0..0, *b"0010location ");
        let _ = Macaroon::from_bytes(&v1);
    }
}

/// A macaroon with the given identifier and caveats but a signature taken from elsewhere (a forgery
/// attempt), built through the public decoder.
fn with_signature(identifier: Vec<u8>, caveats: &[Vec<u8>], signature: [u8; 32]) -> Macaroon {
    let mut shape = Macaroon::new(b"", identifier, Some(b"lsat".to_vec()));
    for caveat in caveats {
        shape.add_first_party_caveat(caveat);
    }
    let mut bytes = shape.to_bytes();
    let len = bytes.len();
    bytes[len - 32..].copy_from_slice(&signature);
    Macaroon::from_bytes(&bytes).unwrap()
}
