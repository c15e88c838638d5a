//! Caveats in Aperture's conventions (`condition=value`) and the narrowing rules that check them.
//!
//! The conditions this crate writes and checks, for a service named `<service>`:
//!
//! | condition                  | value                         | rule when repeated            | last one decides            |
//! |----------------------------|-------------------------------|-------------------------------|-----------------------------|
//! | `services`                 | `name:tier[,name:tier…]`      | may only drop names           | must name the service       |
//! | `<service>_capabilities`   | `cap[,cap…]` (may be empty)   | may only drop capabilities    | (not checked)               |
//! | `<service>_valid_until`    | unix seconds                  | may not grow                  | `now < valid_until`         |
//! | `<service>_request_sha256` | 64 hex digits                 | may not change                | equals the request's digest |
//!
//! The last row is mesh402's own: it binds a token to one request. Every other condition, and any
//! caveat that is not `condition=value` text, is skipped: clients may append caveats of their own
//! (a `preimage=<hex>` caveat is common), and appending never widens what a token allows.

use crate::refusal::VerifyError;
use crate::types::{RequestBinding, parse_hex32};

/// The condition listing the services a token is good for.
pub const SERVICES: &str = "services";
/// Suffix of the per-service capabilities condition.
pub const CAPABILITIES_SUFFIX: &str = "_capabilities";
/// Suffix of the per-service expiry condition.
pub const VALID_UNTIL_SUFFIX: &str = "_valid_until";
/// Suffix of mesh402's per-service request-binding condition.
pub const REQUEST_SHA256_SUFFIX: &str = "_request_sha256";

/// A caveat read as `condition=value`, split on the first `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caveat<'a> {
    /// The text before the first `=`.
    pub condition: &'a str,
    /// The text after the first `=` (it may contain more `=`).
    pub value: &'a str,
}

impl<'a> Caveat<'a> {
    /// Reads a caveat; `None` when it is not UTF-8 or has no `=` (then it is not an Aperture caveat).
    pub fn parse(bytes: &'a [u8]) -> Option<Caveat<'a>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (condition, value) = text.split_once('=')?;
        Some(Caveat { condition, value })
    }
}

/// The `services=<service>:<tier>` caveat.
pub fn services_caveat(service: &str, tier: u32) -> String {
    format!("{SERVICES}={service}:{tier}")
}

/// The `<service>_capabilities=<a,b,…>` caveat (emitted even when the list is empty, as Aperture does).
pub fn capabilities_caveat(service: &str, capabilities: &[&str]) -> String {
    format!("{service}{CAPABILITIES_SUFFIX}={}", capabilities.join(","))
}

/// The `<service>_valid_until=<unix seconds>` caveat.
pub fn valid_until_caveat(service: &str, valid_until: u64) -> String {
    format!("{service}{VALID_UNTIL_SUFFIX}={valid_until}")
}

/// The `<service>_request_sha256=<64 hex>` caveat that binds a token to one request.
pub fn request_binding_caveat(service: &str, binding: &RequestBinding) -> String {
    format!("{service}{REQUEST_SHA256_SUFFIX}={binding}")
}

/// What the caveats of one macaroon allow, after the narrowing rules.
#[derive(Debug, Default)]
pub(crate) struct Allowed<'a> {
    pub(crate) services: Option<Vec<&'a str>>,
    pub(crate) capabilities: Option<Vec<&'a str>>,
    pub(crate) valid_until: Option<u64>,
    pub(crate) request_binding: Option<RequestBinding>,
}

/// The conditions that concern `service`.
enum Known {
    Services,
    Capabilities,
    ValidUntil,
    RequestSha256,
}

fn classify(condition: &str, service: &str) -> Option<Known> {
    if condition == SERVICES {
        return Some(Known::Services);
    }
    match condition.strip_prefix(service)? {
        CAPABILITIES_SUFFIX => Some(Known::Capabilities),
        VALID_UNTIL_SUFFIX => Some(Known::ValidUntil),
        REQUEST_SHA256_SUFFIX => Some(Known::RequestSha256),
        _ => None,
    }
}

/// Applies the narrowing rules to the caveats of one macaroon, in order.
pub(crate) fn narrow<'a>(caveats: &'a [Vec<u8>], service: &str) -> Result<Allowed<'a>, VerifyError> {
    let mut allowed = Allowed::default();
    for caveat in caveats.iter().filter_map(|bytes| Caveat::parse(bytes)) {
        let Some(known) = classify(caveat.condition, service) else {
            continue;
        };
        let malformed = || VerifyError::MalformedCaveat { condition: caveat.condition.to_owned() };
        let widened = || VerifyError::WidenedCaveat { condition: caveat.condition.to_owned() };
        match known {
            Known::Services => {
                let names = parse_services(caveat.value).ok_or_else(malformed)?;
                if let Some(previous) = &allowed.services
                    && !names.iter().all(|name| previous.contains(name))
                {
                    return Err(widened());
                }
                allowed.services = Some(names);
            }
            Known::Capabilities => {
                let capabilities: Vec<&str> =
                    if caveat.value.is_empty() { Vec::new() } else { caveat.value.split(',').collect() };
                if let Some(previous) = &allowed.capabilities
                    && !capabilities.iter().all(|c| previous.contains(c))
                {
                    return Err(widened());
                }
                allowed.capabilities = Some(capabilities);
            }
            Known::ValidUntil => {
                let valid_until = parse_decimal(caveat.value).ok_or_else(malformed)?;
                if allowed.valid_until.is_some_and(|previous| valid_until > previous) {
                    return Err(widened());
                }
                allowed.valid_until = Some(valid_until);
            }
            Known::RequestSha256 => {
                let binding = RequestBinding(parse_hex32(caveat.value).map_err(|_| malformed())?);
                if allowed.request_binding.is_some_and(|previous| previous != binding) {
                    return Err(widened());
                }
                allowed.request_binding = Some(binding);
            }
        }
    }
    Ok(allowed)
}

/// Reads `name:tier[,name:tier…]` into the names; `None` when empty or malformed.
fn parse_services(value: &str) -> Option<Vec<&str>> {
    value
        .split(',')
        .map(|entry| {
            let (name, tier) = entry.split_once(':')?;
            (!name.is_empty() && parse_decimal(tier).is_some()).then_some(name)
        })
        .collect()
}

/// Reads a non-empty string of ASCII digits that fits in a `u64`.
fn parse_decimal(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caveats(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|c| c.as_bytes().to_vec()).collect()
    }

    #[test]
    fn split_on_the_first_equals_sign() {
        assert_eq!(Caveat::parse(b"expiration=1337="), Some(Caveat { condition: "expiration", value: "1337=" }));
        assert_eq!(Caveat::parse(b"expiration:1337"), None);
        assert_eq!(Caveat::parse(&[0xff, b'=', b'1']), None);
    }

    #[test]
    fn later_caveats_may_only_narrow() {
        let ok = caveats(&[
            "services=svc:0,other:1",
            "services=svc:0",
            "svc_capabilities=a,b",
            "svc_capabilities=a",
            "svc_valid_until=200",
            "svc_valid_until=100",
            "other_valid_until=999999",
        ]);
        let allowed = narrow(&ok, "svc").unwrap();
        assert_eq!(allowed.services, Some(vec!["svc"]));
        assert_eq!(allowed.capabilities, Some(vec!["a"]));
        assert_eq!(allowed.valid_until, Some(100));

        for widening in [
            &["services=svc:0", "services=svc:0,other:0"][..],
            &["svc_capabilities=", "svc_capabilities=a"],
            &["svc_valid_until=100", "svc_valid_until=101"],
            &[
                "svc_request_sha256=0000000000000000000000000000000000000000000000000000000000000000",
                "svc_request_sha256=1111111111111111111111111111111111111111111111111111111111111111",
            ],
        ] {
            assert!(
                matches!(narrow(&caveats(widening), "svc"), Err(VerifyError::WidenedCaveat { .. })),
                "{widening:?}"
            );
        }
    }

    #[test]
    fn malformed_known_conditions_fail() {
        for bad in [
            "services=",
            "services=svc",
            "services=:0",
            "services=svc:x",
            "svc_valid_until=",
            "svc_valid_until=-1",
            "svc_valid_until=+5",
            "svc_valid_until=99999999999999999999999",
            "svc_request_sha256=abc",
        ] {
            assert!(matches!(narrow(&caveats(&[bad]), "svc"), Err(VerifyError::MalformedCaveat { .. })), "{bad}");
        }
    }

    #[test]
    fn unknown_conditions_are_skipped() {
        let list = caveats(&["preimage=00", "expiration:1337", "svcx_valid_until=0", "=", "svc_valid_until_extra=1"]);
        let allowed = narrow(&list, "svc").unwrap();
        assert!(allowed.services.is_none() && allowed.valid_until.is_none());
    }

    #[test]
    fn caveat_builders() {
        assert_eq!(services_caveat("3d-model", 0), "services=3d-model:0");
        assert_eq!(capabilities_caveat("svc", &[]), "svc_capabilities=");
        assert_eq!(capabilities_caveat("svc", &["a", "b"]), "svc_capabilities=a,b");
        assert_eq!(valid_until_caveat("svc", 17), "svc_valid_until=17");
        assert_eq!(
            request_binding_caveat("svc", &RequestBinding([0xab; 32])),
            format!("svc_request_sha256={}", "ab".repeat(32))
        );
    }
}
