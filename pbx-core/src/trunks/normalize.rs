//! Number normalisation rules of a trunk: strip leading digits, add a
//! prefix, then rewrite national and international forms to E.164
//! (ITU-T E.164, `+CC…`) when a country code is configured.

/// One direction's rules (outbound: the dialed number and the caller id sent
/// to the carrier; inbound: the DID and caller the carrier sends us).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumberRules {
    /// Leading characters removed first (e.g. the `9` of an outside line).
    pub strip: usize,
    /// Prepended after stripping.
    pub prefix: String,
    /// Country code without `+` (e.g. `31`): numbers in national form
    /// (`0…`) or international form (`00…`) become `+CC…` / `+…`.
    pub country_code: Option<String>,
    /// Trunk prefix of national numbers (default `0`).
    pub national_prefix: String,
    /// International call prefix (default `00`).
    pub international_prefix: String,
}

impl NumberRules {
    /// Rules that change nothing (national `0`, international `00`).
    pub fn identity() -> Self {
        Self {
            national_prefix: "0".into(),
            international_prefix: "00".into(),
            ..Self::default()
        }
    }

    /// Applies the rules: strip, prefix, E.164. Numbers already in `+` form
    /// and short numbers not starting with a trunk prefix (extensions,
    /// service numbers) are left in E.164 step untouched.
    pub fn apply(&self, number: &str) -> String {
        let stripped = number.get(self.strip..).unwrap_or("");
        let mut n = String::with_capacity(self.prefix.len() + stripped.len() + 4);
        n.push_str(&self.prefix);
        n.push_str(stripped);
        self.to_e164(n)
    }

    /// The E.164 step alone (no strip, no prefix): for numbers the rules'
    /// digit edits are not meant for, such as the caller of an inbound
    /// call. Without a country code, or for anything but digits in
    /// national / international form, the number is returned as it is.
    pub fn to_e164(&self, n: String) -> String {
        let Some(cc) = &self.country_code else {
            return n;
        };
        if n.starts_with('+') || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return n;
        }
        let intl = &self.international_prefix;
        let national = &self.national_prefix;
        if !intl.is_empty() && n.starts_with(intl.as_str()) {
            return format!("+{}", &n[intl.len()..]);
        }
        if !national.is_empty() && n.starts_with(national.as_str()) {
            return format!("+{cc}{}", &n[national.len()..]);
        }
        n
    }
}

/// `number` if it is in E.164 form (`+` and 2 to 15 digits), for the call
/// records' normalized columns (SPEC: numbers are stored as received and
/// in E.164).
pub fn e164(number: &str) -> Option<String> {
    let digits = number.strip_prefix('+')?;
    let ok = (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| number.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nl() -> NumberRules {
        NumberRules {
            country_code: Some("31".into()),
            ..NumberRules::identity()
        }
    }

    #[test]
    fn identity_changes_nothing() {
        let r = NumberRules::identity();
        for n in ["", "1001", "0201234567", "+31201234567", "0049301234"] {
            assert_eq!(r.apply(n), n);
        }
    }

    #[test]
    fn national_and_international_forms_become_e164() {
        let r = nl();
        assert_eq!(r.apply("0201234567"), "+31201234567");
        assert_eq!(r.apply("0049301234567"), "+49301234567");
        assert_eq!(r.apply("+442071234567"), "+442071234567");
        // Extensions and service numbers without a trunk prefix stay.
        assert_eq!(r.apply("112"), "112");
    }

    #[test]
    fn strip_then_prefix_then_e164() {
        let r = NumberRules { strip: 1, ..nl() };
        // The outside-line 9 goes, then 0… becomes +31….
        assert_eq!(r.apply("90201234567"), "+31201234567");
        let r = NumberRules {
            strip: 3,
            prefix: "0".into(),
            ..nl()
        };
        assert_eq!(r.apply("+31201234567"), "+31201234567");
        let r = NumberRules {
            strip: 3,
            prefix: "0".into(),
            ..NumberRules::identity()
        };
        assert_eq!(r.apply("+31201234567"), "0201234567");
        // Stripping more than the number leaves the prefix.
        let r = NumberRules {
            strip: 5,
            prefix: "x".into(),
            ..NumberRules::identity()
        };
        assert_eq!(r.apply("12"), "x");
    }

    #[test]
    fn the_e164_step_alone_leaves_digits_it_is_not_for() {
        let r = NumberRules { strip: 2, ..nl() };
        assert_eq!(r.to_e164("0612345678".into()), "+31612345678");
        assert_eq!(r.to_e164("0033123456789".into()), "+33123456789");
        for n in ["anonymous", "0abc", "", "+31612345678", "1001"] {
            assert_eq!(r.to_e164(n.into()), n);
        }
        assert_eq!(
            NumberRules::identity().to_e164("0612345678".into()),
            "0612345678"
        );
    }

    #[test]
    fn e164_form_is_recognised() {
        assert_eq!(e164("+31612345678").as_deref(), Some("+31612345678"));
        for n in [
            "0612345678",
            "+",
            "+1",
            "+3161234567890123",
            "+31 6",
            "anonymous",
            "",
        ] {
            assert_eq!(e164(n), None, "{n}");
        }
    }

    #[test]
    fn non_ascii_strip_does_not_panic() {
        let r = NumberRules { strip: 1, ..nl() };
        assert_eq!(r.apply("é1"), "");
    }
}
