//! The auth-params of a `WWW-Authenticate` field (RFC 9110 §11.2): written one challenge per line with every value
//! quoted, and read back from a line that may hold several challenges (a Fetch client joins the lines with
//! `", "`).
//!
//! Written by hand: the crates that parse `WWW-Authenticate` are unmaintained or tied to one HTTP stack, and the
//! grammar needed here (a scheme, then `name=token` or `name="quoted"` pairs) is a few dozen lines.

/// Appends `name="value"` to a challenge, escaping `\` and `"` and dropping control characters.
pub(crate) fn push_quoted(out: &mut String, name: &str, value: &str) {
    if !out.ends_with(' ') {
        out.push_str(", ");
    }
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars().filter(|c| !c.is_control()) {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// One challenge read from a field: its scheme and its parameters in order (names lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedChallenge {
    /// The scheme as written (compare it case-insensitively).
    pub scheme: String,
    /// The parameters, names lowercased, values unquoted.
    pub params: Vec<(String, String)>,
}

/// Reads every challenge of a `WWW-Authenticate` field value. A challenge whose parameters do not parse ends the
/// reading (what was read before it is kept); a `token68` challenge (such as `Basic abc=`) is read with no
/// parameters.
pub fn parse_challenges(field: &str) -> Vec<ParsedChallenge> {
    let mut reader = Reader { rest: field };
    let mut challenges: Vec<ParsedChallenge> = Vec::new();
    loop {
        reader.skip_separators();
        if reader.rest.is_empty() {
            return challenges;
        }
        let Some(token) = reader.token() else { return challenges };
        reader.skip_spaces();
        if reader.rest.starts_with('=') && !challenges.is_empty() {
            // A parameter of the current challenge.
            reader.rest = &reader.rest[1..];
            reader.skip_spaces();
            let Some(value) = reader.value() else { return challenges };
            if let Some(current) = challenges.last_mut() {
                current.params.push((token.to_ascii_lowercase(), value));
            }
        } else {
            challenges.push(ParsedChallenge { scheme: token.to_owned(), params: Vec::new() });
            reader.skip_token68();
        }
    }
}

struct Reader<'a> {
    rest: &'a str,
}

impl<'a> Reader<'a> {
    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn skip_separators(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t', ',']);
    }

    /// An RFC 9110 `token`.
    fn token(&mut self) -> Option<&'a str> {
        let end = self.rest.find(|c: char| !is_tchar(c)).unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token)
    }

    /// A `token68` right after a scheme (`Basic abc==`), skipped: characters of its alphabet with `=` only at the
    /// end, then the end of the field or a comma. Parameters (`name=value`) are left for the loop.
    fn skip_token68(&mut self) {
        let after_spaces = self.rest.trim_start_matches([' ', '\t']);
        let end = after_spaces.find(|c: char| !is_token68_char(c)).unwrap_or(after_spaces.len());
        let body = after_spaces[..end].trim_end_matches('=');
        let next = after_spaces[end..].trim_start_matches([' ', '\t']);
        if !body.is_empty() && !body.contains('=') && (next.is_empty() || next.starts_with(',')) {
            self.rest = &after_spaces[end..];
        }
    }

    /// A token or a quoted string, unquoted.
    fn value(&mut self) -> Option<String> {
        if let Some(quoted) = self.rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            while let Some((index, c)) = chars.next() {
                match c {
                    '"' => {
                        self.rest = &quoted[index + 1..];
                        return Some(value);
                    }
                    '\\' => value.push(chars.next()?.1),
                    c => value.push(c),
                }
            }
            None
        } else {
            self.token().map(str::to_owned)
        }
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token68_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/=".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_challenges_on_one_line_are_read_apart() {
        let field = r#"L402 macaroon="AgE=", invoice="lnbc1", Payment id="x\"y", realm=example, method="lightning""#;
        let challenges = parse_challenges(field);
        assert_eq!(challenges.len(), 2);
        assert_eq!(challenges[0].scheme, "L402");
        assert_eq!(challenges[0].params, [("macaroon".into(), "AgE=".into()), ("invoice".into(), "lnbc1".into())]);
        assert_eq!(challenges[1].scheme, "Payment");
        assert_eq!(challenges[1].params[0], ("id".into(), "x\"y".into()));
        assert_eq!(challenges[1].params[1], ("realm".into(), "example".into()));
    }

    #[test]
    fn token68_and_unterminated_quotes_do_not_confuse_the_reader() {
        let challenges = parse_challenges("Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Payment id=\"a\"");
        assert_eq!(challenges.len(), 2, "{challenges:?}");
        assert_eq!(challenges[1].params, [("id".into(), "a".into())]);
        let broken = parse_challenges("Payment id=\"never closed");
        assert_eq!(broken.len(), 1);
        assert!(broken[0].params.is_empty());
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges(" , ,").is_empty());
    }

    #[test]
    fn quoting_escapes_and_drops_control_characters() {
        let mut out = String::from("Payment ");
        push_quoted(&mut out, "id", "a\"b\\c\nd");
        push_quoted(&mut out, "realm", "r");
        assert_eq!(out, r#"Payment id="a\"b\\cd", realm="r""#);
        let read = parse_challenges(&out);
        assert_eq!(read[0].params[0].1, "a\"b\\cd");
    }
}
