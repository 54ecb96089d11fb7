//! Number masking (SPEC §18, \[proposed generalization\]): on the national
//! number (a leading `+` and the country code stay as they are), with L
//! digits and L ≥ 5 keep the first ⌊(L−4)/2⌋ and the last L−4−⌊(L−4)/2⌋
//! digits and replace the middle four with `*`; with L ≤ 4 mask every digit.
//! Masked subscriptions get every phone-number field of a payload masked.

/// ITU-T E.164 country codes of one and two digits; every other code has
/// three digits.
const CC1: &[&str] = &["1", "7"];
const CC2: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// Length of the country code of the E.164 digits `d` (after the `+`).
fn country_code_len(d: &str) -> usize {
    if CC1.iter().any(|c| d.starts_with(c)) {
        1
    } else if d.len() >= 2 && CC2.contains(&&d[..2]) {
        2
    } else {
        3.min(d.len())
    }
}

/// Masks the national digits `national` (all ASCII digits).
fn mask_national(national: &str) -> String {
    let l = national.len();
    if l <= 4 {
        return "*".repeat(l);
    }
    let head = (l - 4) / 2;
    let tail = l - 4 - head;
    format!("{}****{}", &national[..head], &national[l - tail..])
}

/// Whether `s` is a phone number this module masks: digits, optionally a
/// leading `+`.
pub fn is_phone_number(s: &str) -> bool {
    let d = s.strip_prefix('+').unwrap_or(s);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

/// The masked form of `number`; in a `sip:`/`sips:`/`tel:` URI the user
/// part is masked when it is a phone number; other text (a name, an
/// extension-less URI) comes back unchanged.
pub fn mask_number(number: &str) -> String {
    for scheme in ["sip:", "sips:", "tel:"] {
        if let Some(rest) = number.strip_prefix(scheme) {
            let end = rest.find(['@', ';', '>']).unwrap_or(rest.len());
            let (user, tail) = rest.split_at(end);
            if is_phone_number(user) {
                return format!("{scheme}{}{tail}", mask_number(user));
            }
            return number.to_owned();
        }
    }
    if !is_phone_number(number) {
        return number.to_owned();
    }
    match number.strip_prefix('+') {
        Some(e164) => {
            let cc = country_code_len(e164);
            format!("+{}{}", &e164[..cc], mask_national(&e164[cc..]))
        }
        None => mask_national(number),
    }
}

/// Payload fields that hold phone numbers.
const NUMBER_FIELDS: &[&str] = &[
    "caller",
    "callee",
    "number",
    "service_number",
    "did",
    "caller_e164",
    "callee_e164",
    "party",
    "to",
    "target",
];

/// Masks every phone-number field of `v` (at any depth).
pub fn mask_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, field) in map.iter_mut() {
                match field {
                    serde_json::Value::String(s) if NUMBER_FIELDS.contains(&k.as_str()) => {
                        *s = mask_number(s);
                    }
                    other => mask_json(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}
