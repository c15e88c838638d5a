//! `Accept-Payment` (the request header by which a client states the payment methods and intents it takes, with
//! weights): `lightning/charge, */session;q=0`.

/// Whether a request's `Accept-Payment` values admit `method`/`intent`. The most specific range that matches
/// decides (`method/intent` before `method/*` or `*/intent`, before `*/*`): its weight must be above 0. No header,
/// a malformed one, or one where no range matches admits everything (the scheme lets a server ignore those).
pub fn accepts<'a>(values: impl IntoIterator<Item = &'a str>, method: &str, intent: &str) -> bool {
    let mut best: Option<(u8, bool)> = None;
    for range in values.into_iter().flat_map(|value| value.split(',')) {
        let mut parts = range.split(';');
        let Some((range_method, range_intent)) = parts.next().and_then(|kind| kind.trim().split_once('/')) else {
            continue;
        };
        let mut weight_positive = true;
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                match value.trim().parse::<f32>() {
                    Ok(q) if (0.0..=1.0).contains(&q) => weight_positive = q > 0.0,
                    _ => return true,
                }
            }
        }
        let matches = |range: &str, value: &str| range == "*" || range == value;
        if !matches(range_method, method) || !matches(range_intent, intent) {
            continue;
        }
        let specificity = u8::from(range_method != "*") * 2 + u8::from(range_intent != "*");
        if best.is_none_or(|(known, _)| specificity > known) {
            best = Some((specificity, weight_positive));
        }
    }
    best.is_none_or(|(_, positive)| positive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_matching_range_decides() {
        let takes = |header: &str| accepts([header], "lightning", "charge");
        assert!(takes("lightning/charge"));
        assert!(takes("lightning/charge, */session;q=0"));
        assert!(!takes("lightning/charge;q=0"));
        assert!(!takes("*/*;q=0"));
        assert!(takes("*/*;q=0, lightning/*;q=0.5"));
        assert!(!takes("lightning/*, lightning/charge;q=0"));
        assert!(takes("tempo/charge"), "a header that matches nothing is ignored");
        assert!(takes("lightning/charge;q=x"), "a malformed header is ignored");
        assert!(accepts([], "lightning", "charge"));
        assert!(!accepts(["tempo/charge", "*/*; q=0"], "lightning", "charge"), "several field lines are one list");
    }
}
