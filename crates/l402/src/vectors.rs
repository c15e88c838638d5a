//! The test vectors of `L402.md` that span several modules (TV2, the negative cases) and
//! end-to-end verification.

use base64::Engine as _;

use crate::macaroon::hmac_sha256;
use crate::verify::verify_with;
use crate::*;

/// TV2: preimage = bytes 00..1f.
fn tv2_preimage() -> Preimage {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = i as u8;
    }
    Preimage(bytes)
}

fn tv2_identifier() -> Identifier {
    Identifier {
        payment_hash: tv2_preimage().hash(),
        token_id: "fed74b3ef24820f440601eff5bfb42bef4d615c4948cec8aca3cb15bd23f1013".parse().unwrap(),
    }
}

fn tv2_macaroon(caveats: &[&str]) -> Macaroon {
    let mut macaroon = Macaroon::new(&[0; 32], tv2_identifier().encode().to_vec(), Some(b"lsat".to_vec()));
    for caveat in caveats {
        macaroon.add_first_party_caveat(caveat);
    }
    macaroon
}

const TV2_CAVEATS: [&str; 3] = [
    "services=lightning_loop:0",
    "lightning_loop_capabilities=loop_out,loop_in",
    "loop_out_monthly_volume_sats=200000000",
];

const TV2_BASE64: &str = "AgEEbHNhdAJCAABjDc0pZsQzZpESVEi7sltP9BKknHMtssirwbhYG9cQ3f7XSz7ySCD0QGAe/1v7Qr701hXElIzsiso8sVvSPxATAAIZc2VydmljZXM9bGlnaHRuaW5nX2xvb3A6MAACLGxpZ2h0bmluZ19sb29wX2NhcGFiaWxpdGllcz1sb29wX291dCxsb29wX2luAAImbG9vcF9vdXRfbW9udGhseV92b2x1bWVfc2F0cz0yMDAwMDAwMDAAAAYgt9YkMYB2mVvMEpX+4/t1N4atuZoPGaW+tkA76eRYROE=";

fn never_revoked(_: &TokenId) -> bool {
    false
}

/// A context for service `svc` at `now`, without request binding.
fn ctx(service: &str, now_unix: u64) -> VerifyContext<'_> {
    VerifyContext { service, now_unix, request_binding: None, is_revoked: &never_revoked }
}

/// Verifies with the TV2 root key (32 zero bytes) instead of a keyring.
fn verify_tv2(credential: &Credential, ctx: &VerifyContext<'_>) -> Result<VerifiedToken, VerifyError> {
    verify_with(credential, ctx, |_| [Some(RootKey::from_bytes([0; 32])), None])
}

#[test]
fn tv2_payment_hash() {
    assert_eq!(tv2_preimage().hash().to_string(), "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd");
}

#[test]
fn tv2_derived_key_and_signatures() {
    let derived = hmac_sha256(b"macaroons-key-generator", &[0; 32]);
    assert_eq!(hex::encode(derived), "b9ff328a71148798a685da876fd55e84efa7553cbfea1927fe2aea3066d5aad8");
    assert_eq!(
        hex::encode(tv2_macaroon(&[]).signature()),
        "5b8375944c327dd6969ac4fa9dedca7f5d2cd0ed0effcc13992e7d6193c90ae3"
    );
    let macaroon = tv2_macaroon(&TV2_CAVEATS);
    assert_eq!(hex::encode(macaroon.signature()), "b7d624318076995bcc1295fee3fb753786adb99a0f19a5beb6403be9e45844e1");
    // Without the derivation step the chain gives a different, wrong signature.
    let mut underived = hmac_sha256(&[0; 32], &tv2_identifier().encode());
    for caveat in TV2_CAVEATS {
        underived = hmac_sha256(&underived, caveat.as_bytes());
    }
    assert!(hex::encode(underived).starts_with("0d16b1f5"));
}

#[test]
fn tv2_serialization() {
    let macaroon = tv2_macaroon(&TV2_CAVEATS);
    assert_eq!(macaroon.to_bytes().len(), 227);
    assert_eq!(macaroon.to_base64(), TV2_BASE64);
    let decoded = Macaroon::from_base64(TV2_BASE64).unwrap();
    assert_eq!(decoded, macaroon);
    assert!(decoded.verify_signature(&[0; 32]));
}

#[test]
fn tv2_client_added_preimage_caveat() {
    let mut macaroon = tv2_macaroon(&TV2_CAVEATS);
    macaroon.add_first_party_caveat(format!("preimage={}", tv2_preimage().to_hex()));
    assert_eq!(hex::encode(macaroon.signature()), "78cfc6188ac2de05e4f4ede6d42dc87f2fd6d40de05a6f596ab00d503a74c735");
    assert!(macaroon.verify_signature(&[0; 32]));

    // The `Macaroon:` header form reads the preimage from that caveat, and the token verifies.
    let credential = parse_macaroon_header(&hex::encode(macaroon.to_bytes())).unwrap();
    assert_eq!(credential.preimage, tv2_preimage());
    let token = verify_tv2(&credential, &ctx("lightning_loop", 0)).unwrap();
    assert_eq!(token.payment_hash, tv2_identifier().payment_hash);
    assert_eq!(token.token_id, tv2_identifier().token_id);
    assert_eq!(token.valid_until, None);
}

#[test]
fn tv2_valid_until_expiry() {
    let macaroon = tv2_macaroon(&["services=svc:0", "svc_capabilities=", "svc_valid_until=1700000000"]);
    assert_eq!(hex::encode(macaroon.signature()), "72fc96cae961697ba318ec55680f580c79f9d947d7b554e31f67f4fa8ec069b6");
    let credential = Credential { macaroons: vec![macaroon], preimage: tv2_preimage() };
    let token = verify_tv2(&credential, &ctx("svc", 1_699_999_999)).unwrap();
    assert_eq!(token.valid_until, Some(1_700_000_000));
    for now in [1_700_000_000, 1_700_000_001, u64::MAX] {
        assert_eq!(verify_tv2(&credential, &ctx("svc", now)), Err(VerifyError::Expired { valid_until: 1_700_000_000 }));
    }
    assert_eq!(verify_tv2(&credential, &ctx("other", 0)), Err(VerifyError::WrongService));
}

#[test]
fn boltwall_style_token_is_rejected() {
    // URL-safe base64, location "location", a 132-character ASCII-hex identifier, an
    // `expiration=<ms>` caveat.
    let ascii_identifier = hex::encode(tv2_identifier().encode()).into_bytes();
    assert_eq!(ascii_identifier.len(), 132);
    let mut macaroon = Macaroon::new(&[0; 32], ascii_identifier, Some(b"location".to_vec()));
    macaroon.add_first_party_caveat("expiration=1700000000000");
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(macaroon.to_bytes());
    let header = format!("LSAT {text}:{}", tv2_preimage().to_hex());
    let credential = parse_authorization([header.as_str()]).unwrap().unwrap();
    assert_eq!(
        verify_tv2(&credential, &ctx("svc", 0)),
        Err(VerifyError::BadIdentifier(IdentifierError::Length { len: 132 }))
    );
}

// ---- End-to-end with a keyring ----

const SERVICE: &str = "3d-model";
const NOW: u64 = 1_800_000_000;

fn keyring() -> Keyring {
    Keyring::new(ServerSecret::from_bytes([42; 32]))
}

fn minted(keyring: &Keyring, binding: Option<RequestBinding>) -> Credential {
    let preimage = Preimage([9; 32]);
    let identifier = Identifier { payment_hash: preimage.hash(), token_id: TokenId([5; 32]) };
    let macaroon = mint(
        keyring,
        &identifier,
        &MintParams { service: SERVICE, tier: 0, capabilities: &[], valid_until: NOW + 600, request_binding: binding },
    );
    Credential { macaroons: vec![macaroon], preimage }
}

#[test]
fn minted_tokens_verify_through_the_header() {
    let keyring = keyring();
    let binding = RequestBinding::digest(b"request");
    let credential = minted(&keyring, Some(binding));
    let header =
        Challenge { macaroon: credential.macaroons[0].clone(), invoice: "lnbcrt1".into() }.header_values()[0].clone();
    let reparsed = Challenge::parse(&header).unwrap().macaroon;
    let credential = Credential { macaroons: vec![reparsed], preimage: credential.preimage };
    let parsed = parse_authorization([credential.to_header_value().as_str()]).unwrap().unwrap();
    let context = VerifyContext { request_binding: Some(binding), ..ctx(SERVICE, NOW) };
    let token = verify(&parsed, &keyring, &context).unwrap();
    assert_eq!(token.token_id, TokenId([5; 32]));
    assert_eq!(token.valid_until, Some(NOW + 600));
}

#[test]
fn every_failure_has_its_reason() {
    let keyring = keyring();
    let binding = RequestBinding::digest(b"request");
    let credential = minted(&keyring, Some(binding));
    let base = VerifyContext { request_binding: Some(binding), ..ctx(SERVICE, NOW) };
    assert!(verify(&credential, &keyring, &base).is_ok());

    let check = |credential: &Credential, keyring: &Keyring, ctx: &VerifyContext<'_>, code| {
        let err = verify(credential, keyring, ctx).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
    };

    let empty = Credential { macaroons: vec![], preimage: credential.preimage.clone() };
    check(&empty, &keyring, &base, "no_macaroon");

    let wrong_preimage = Credential { preimage: Preimage([8; 32]), ..credential.clone() };
    check(&wrong_preimage, &keyring, &base, "preimage_mismatch");

    let revoked = VerifyContext { is_revoked: &|id: &TokenId| *id == TokenId([5; 32]), ..base };
    check(&credential, &keyring, &revoked, "revoked");

    let other_keyring = Keyring::new(ServerSecret::from_bytes([43; 32]));
    check(&credential, &other_keyring, &base, "bad_signature");

    let expired = VerifyContext { now_unix: NOW + 600, ..base };
    check(&credential, &keyring, &expired, "expired");

    let other_service = VerifyContext { service: "other", ..base };
    check(&credential, &keyring, &other_service, "wrong_service");

    let other_request = VerifyContext { request_binding: Some(RequestBinding::digest(b"another request")), ..base };
    check(&credential, &keyring, &other_request, "request_mismatch");

    let unbound = minted(&keyring, None);
    check(&unbound, &keyring, &base, "missing_request_binding");
    // Without a binding in the context, a bound token is accepted (routes that are not the
    // paid request).
    let no_binding = VerifyContext { request_binding: None, ..base };
    assert!(verify(&credential, &keyring, &no_binding).is_ok());

    let mut widened = credential.clone();
    widened.macaroons[0].add_first_party_caveat(format!("{SERVICE}_valid_until={}", NOW + 601));
    check(&widened, &keyring, &base, "widened_caveat");

    let mut malformed = credential.clone();
    malformed.macaroons[0].add_first_party_caveat(format!("{SERVICE}_valid_until=soon"));
    check(&malformed, &keyring, &base, "malformed_caveat");

    let mut narrowed = credential.clone();
    narrowed.macaroons[0].add_first_party_caveat(format!("{SERVICE}_valid_until={}", NOW + 1));
    assert_eq!(verify(&narrowed, &keyring, &base).unwrap().valid_until, Some(NOW + 1));

    let mut crowded = credential.clone();
    for i in 0..MAX_CAVEATS {
        crowded.macaroons[0].add_first_party_caveat(format!("note={i}"));
    }
    check(&crowded, &keyring, &base, "too_many_caveats");

    let mut bad_identifier = credential.clone();
    bad_identifier.macaroons[0] = Macaroon::new(b"k", vec![0; 65], None);
    check(&bad_identifier, &keyring, &base, "bad_identifier");
}

#[test]
fn several_macaroons_must_all_verify_and_share_the_payment() {
    let keyring = keyring();
    let credential = minted(&keyring, None);
    let base = ctx(SERVICE, NOW);

    let mut narrowed = credential.macaroons[0].clone();
    narrowed.add_first_party_caveat(format!("{SERVICE}_valid_until={}", NOW + 5));
    let both = Credential {
        macaroons: vec![credential.macaroons[0].clone(), narrowed],
        preimage: credential.preimage.clone(),
    };
    assert_eq!(verify(&both, &keyring, &base).unwrap().valid_until, Some(NOW + 5));

    let mut forged = both.clone();
    forged.macaroons[1] = Macaroon::new(b"not the key", forged.macaroons[1].identifier().to_vec(), None);
    assert_eq!(verify(&forged, &keyring, &base), Err(VerifyError::BadSignature));

    let other_payment = minted_with(&keyring, Preimage([3; 32]));
    let mixed = Credential {
        macaroons: vec![credential.macaroons[0].clone(), other_payment],
        preimage: credential.preimage.clone(),
    };
    assert_eq!(verify(&mixed, &keyring, &base), Err(VerifyError::MixedPaymentHashes));
}

fn minted_with(keyring: &Keyring, preimage: Preimage) -> Macaroon {
    let identifier = Identifier { payment_hash: preimage.hash(), token_id: TokenId([6; 32]) };
    mint(
        keyring,
        &identifier,
        &MintParams { service: SERVICE, tier: 0, capabilities: &["a"], valid_until: NOW + 600, request_binding: None },
    )
}

#[test]
fn rotated_secrets_still_verify() {
    let old = keyring();
    let credential = minted(&old, None);
    let rotated = Keyring::new(ServerSecret::from_bytes([77; 32])).with_previous(ServerSecret::from_bytes([42; 32]));
    assert!(verify(&credential, &rotated, &ctx(SERVICE, NOW)).is_ok());
    let dropped = Keyring::new(ServerSecret::from_bytes([77; 32]));
    assert_eq!(verify(&credential, &dropped, &ctx(SERVICE, NOW)), Err(VerifyError::BadSignature));
}

#[test]
fn verification_checks_the_preimage_before_the_signature() {
    // A forged macaroon with a wrong preimage reports the cheaper failure first.
    let keyring = keyring();
    let mut credential = minted(&keyring, None);
    credential.preimage = Preimage([0; 32]);
    credential.macaroons[0].add_first_party_caveat("x=y");
    let forged_signature = Macaroon::from_bytes(&{
        let mut bytes = credential.macaroons[0].to_bytes();
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        bytes
    })
    .unwrap();
    credential.macaroons[0] = forged_signature;
    assert_eq!(verify(&credential, &keyring, &ctx(SERVICE, NOW)), Err(VerifyError::PreimageMismatch));
}
