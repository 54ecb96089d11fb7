//! Number masking (SPEC §18): without the `numbers` scope every phone
//! number leaving the API — records, details, exports, missed calls,
//! repeat callers, users' extensions, the event stream — shows its middle
//! four digits as `*`.
//!
//! The algorithm works on the national number: a leading `+` and the
//! country code stay as they are (ITU-T E.164 country codes are
//! prefix-free, so the code's length follows from its first digits). With
//! L national digits, L ≥ 5: keep the first ⌊(L−4)/2⌋ and the last
//! L−4−⌊(L−4)/2⌋ digits, hide the middle 4; L ≤ 4: hide every digit.
//! Text that is not a number (`anonymous`, a SIP URI's host) is kept; in a
//! `sip:` URI only the user part is masked.

/// The length of the E.164 country code at the start of `digits`.
fn country_code_len(digits: &[u8]) -> usize {
    match digits {
        [b'1' | b'7', ..] => 1,
        [b'2', b'0' | b'7', ..] => 2,
        [b'3', b'0'..=b'4' | b'6' | b'9', ..] => 2,
        [b'4', b'0' | b'1' | b'3'..=b'9', ..] => 2,
        [b'5', b'1'..=b'8', ..] => 2,
        [b'6', b'0'..=b'6', ..] => 2,
        [b'8', b'1' | b'2' | b'4' | b'6', ..] => 2,
        [b'9', b'0'..=b'5' | b'8', ..] => 2,
        _ => 3,
    }
}

/// Masks the digits of a national number (ASCII digits only).
fn mask_national(digits: &str) -> String {
    let l = digits.len();
    if l <= 4 {
        return "*".repeat(l);
    }
    let head = (l - 4) / 2;
    let tail = l - 4 - head;
    format!("{}****{}", &digits[..head], &digits[l - tail..])
}

/// Masks one phone number: `13812345678` → `138****5678`, `12345678` →
/// `12****78`, `+8613812345678` → `+86138****5678`. Anything that is not
/// digits (with an optional `+`) is returned unchanged, except a `sip:` /
/// `sips:` / `tel:` URI whose user part is a number.
pub fn mask_number(s: &str) -> String {
    for scheme in ["sip:", "sips:", "tel:"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            let (user, host) = match rest.find(['@', ';', '>']) {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            return format!("{scheme}{}{host}", mask_number(user));
        }
    }
    if let Some(inner) = s.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
        return format!("<{}>", mask_number(inner));
    }
    let (plus, digits) = match s.strip_prefix('+') {
        Some(d) => ("+", d),
        None => ("", s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_owned();
    }
    if plus.is_empty() {
        return mask_national(digits);
    }
    let cc = country_code_len(digits.as_bytes()).min(digits.len());
    let (code, national) = digits.split_at(cc);
    format!("+{code}{}", mask_national(national))
}

/// Masks an optional number in place.
pub(crate) fn mask_opt(v: &mut Option<String>) {
    if let Some(s) = v {
        *s = mask_number(s);
    }
}

/// Masks in place.
pub(crate) fn mask_in_place(v: &mut String) {
    *v = mask_number(v);
}

/// Keys whose string values are phone numbers in event payloads and
/// other free-form JSON.
const NUMBER_KEYS: [&str; 14] = [
    "caller",
    "callee",
    "caller_e164",
    "callee_e164",
    "number",
    "service_number",
    "did",
    "from",
    "to",
    "party",
    "customer_number",
    "callee_number",
    "caller_number",
    "extension",
];

/// Masks every number under a known key, at any depth.
pub(crate) fn mask_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                match val {
                    serde_json::Value::String(s) if NUMBER_KEYS.contains(&k.as_str()) => {
                        *s = mask_number(s);
                    }
                    _ => mask_json(val),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

/// Whether a number given to the API was masked (it cannot be dialed).
pub(crate) fn is_masked(s: &str) -> bool {
    s.contains('*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_examples() {
        assert_eq!(mask_number("13812345678"), "138****5678");
        assert_eq!(mask_number("12345678"), "12****78");
        // L ≤ 4: every digit
        assert_eq!(mask_number("1001"), "****");
        assert_eq!(mask_number("12"), "**");
        // L = 5, 6, 7
        assert_eq!(mask_number("12345"), "****5");
        assert_eq!(mask_number("123456"), "1****6");
        assert_eq!(mask_number("1234567"), "1****67");
    }

    #[test]
    fn the_country_code_and_plus_are_kept() {
        assert_eq!(mask_number("+8613812345678"), "+86138****5678");
        assert_eq!(mask_number("+31612345678"), "+3161****678");
        assert_eq!(mask_number("+14155550123"), "+1415****123");
        assert_eq!(mask_number("+35312345678"), "+35312****78");
        assert_eq!(mask_number("+4930123456"), "+4930****56");
    }

    #[test]
    fn uris_and_words() {
        assert_eq!(
            mask_number("sip:13812345678@10.0.0.1:5060"),
            "sip:138****5678@10.0.0.1:5060"
        );
        assert_eq!(mask_number("<sip:1001@pbx>"), "<sip:****@pbx>");
        assert_eq!(mask_number("anonymous"), "anonymous");
        assert_eq!(mask_number(""), "");
        assert_eq!(mask_number("+"), "+");
        assert!(is_masked(&mask_number("13812345678")));
        assert!(!is_masked("13812345678"));
    }

    #[test]
    fn json_numbers_at_any_depth() {
        let mut v = serde_json::json!({
            "caller": "13812345678",
            "record": { "callee": "+8613812345678", "legs": [{ "party": "sip:12345678@h" }] },
            "agent": "1001",
            "n": 5
        });
        mask_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "caller": "138****5678",
                "record": { "callee": "+86138****5678", "legs": [{ "party": "sip:12****78@h" }] },
                "agent": "1001",
                "n": 5
            })
        );
    }
}
