//! Least-cost routing: which trunks may carry a number, in which order.
//! Longest matching prefix first, then lower `priority`, then lower `cost`,
//! then file order. A dial plan route naming a trunk puts that trunk first
//! and the other matching trunks behind it as failover; the name `lcr`
//! routes by prefixes alone.

use super::config::TrunkConfig;

/// The dial plan's trunk name for "least-cost route over all trunks".
pub const LCR: &str = "lcr";

/// Indices into `trunks` of the candidates for `number` (normalised per
/// trunk before matching prefixes), best first. `named` is the dial plan's
/// trunk (`lcr`: none). Unknown names yield the prefix matches only.
pub fn candidates(trunks: &[TrunkConfig], named: &str, number: &str) -> Vec<usize> {
    let mut scored: Vec<(usize, usize)> = trunks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let n = t.outbound.apply(number);
            t.prefixes
                .iter()
                .filter(|p| n.starts_with(p.as_str()))
                .map(|p| p.len())
                .max()
                .map(|len| (i, len))
        })
        .collect();
    scored.sort_by(|(a, la), (b, lb)| {
        lb.cmp(la)
            .then(trunks[*a].priority.cmp(&trunks[*b].priority))
            .then(trunks[*a].cost.total_cmp(&trunks[*b].cost))
            .then(a.cmp(b))
    });
    let mut out: Vec<usize> = Vec::with_capacity(scored.len() + 1);
    if named != LCR {
        if let Some(i) = trunks.iter().position(|t| t.name == named) {
            out.push(i);
        }
    }
    for (i, _) in scored {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trunks::normalize::NumberRules;

    fn trunk(name: &str, prefixes: &[&str], priority: u32, cost: f64) -> TrunkConfig {
        TrunkConfig {
            name: name.into(),
            proxy: crate::trunks::Proxy::Addr("127.0.0.1:5070".parse().expect("addr")),
            transport: sip_stack::Transport::Udp,
            username: None,
            password: None,
            realm: None,
            register: false,
            register_expires: 3600,
            from_user: None,
            from_domain: None,
            caller_id: None,
            trusted: false,
            max_calls: None,
            options_interval: None,
            up_after: 1,
            down_after: 2,
            setup_timeout: std::time::Duration::from_secs(5),
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            priority,
            cost,
            outbound: NumberRules::identity(),
            inbound: NumberRules::identity(),
            dids: Vec::new(),
            inbound_from: Vec::new(),
        }
    }

    fn names(trunks: &[TrunkConfig], order: &[usize]) -> Vec<String> {
        order.iter().map(|i| trunks[*i].name.clone()).collect()
    }

    #[test]
    fn longest_prefix_then_priority_then_cost() {
        let trunks = vec![
            trunk("world", &["+"], 0, 0.05),
            trunk("nl-cheap", &["+31"], 5, 0.01),
            trunk("nl-main", &["+31"], 1, 0.02),
            trunk("nl-mobile", &["+316"], 9, 0.09),
            trunk("nl-main-b", &["+31"], 1, 0.015),
        ];
        let order = candidates(&trunks, LCR, "+31612345678");
        assert_eq!(
            names(&trunks, &order),
            ["nl-mobile", "nl-main-b", "nl-main", "nl-cheap", "world"]
        );
        let order = candidates(&trunks, LCR, "+4930123");
        assert_eq!(names(&trunks, &order), ["world"]);
        assert!(candidates(&trunks, LCR, "1001").is_empty());
    }

    #[test]
    fn a_named_trunk_goes_first_with_the_others_as_failover() {
        let trunks = vec![
            trunk("a", &["+31"], 2, 0.0),
            trunk("b", &["+31"], 1, 0.0),
            trunk("c", &[], 0, 0.0),
        ];
        assert_eq!(
            names(&trunks, &candidates(&trunks, "a", "+31201")),
            ["a", "b"]
        );
        // A trunk without prefixes is reachable by name only.
        assert_eq!(
            names(&trunks, &candidates(&trunks, "c", "+31201")),
            ["c", "b", "a"]
        );
        assert_eq!(
            names(&trunks, &candidates(&trunks, "nope", "+31201")),
            ["b", "a"]
        );
    }

    #[test]
    fn prefixes_match_the_number_as_the_trunk_sends_it() {
        let mut t = trunk("nl", &["+31"], 0, 0.0);
        t.outbound = NumberRules {
            country_code: Some("31".into()),
            ..NumberRules::identity()
        };
        let trunks = vec![t];
        assert_eq!(candidates(&trunks, LCR, "0201234567"), [0]);
    }
}
