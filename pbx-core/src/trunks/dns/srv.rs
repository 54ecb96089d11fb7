//! The order in which SRV targets are tried (RFC 2782, "Usage rules"):
//! lowest priority first; within one priority a weighted random order, so
//! a target of weight 60 comes first about three times as often as one of
//! weight 20. Pure logic: the caller supplies the random numbers.

use rand::Rng;

/// One SRV record (RFC 2782) as the ordering needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share among records of equal priority (0: rarely first).
    pub weight: u16,
    /// Port of the service on the target.
    pub port: u16,
    /// Host name of the target (resolved by A/AAAA afterwards).
    pub target: String,
}

/// Whether the records say "the service is decidedly not available at this
/// domain": a single record whose target is `.` (RFC 2782).
pub fn not_available(records: &[SrvRecord]) -> bool {
    matches!(records, [r] if r.target.is_empty() || r.target == ".")
}

/// What the ordering looks at: (priority, weight) as in an SRV record.
pub trait Ranked: Clone {
    /// Lower priorities first; weights share the places within one.
    fn rank(&self) -> (u16, u16);
}

impl Ranked for SrvRecord {
    fn rank(&self) -> (u16, u16) {
        (self.priority, self.weight)
    }
}

/// The records in the order to try them (RFC 2782), the `.` target left
/// out: see [`order_ranked`].
pub fn order<R: Rng + ?Sized>(mut records: Vec<SrvRecord>, rng: &mut R) -> Vec<SrvRecord> {
    records.retain(|r| !(r.target.is_empty() || r.target == "."));
    order_ranked(records, rng)
}

/// Items in RFC 2782 order: ascending priority; within each priority,
/// repeatedly draw a number in `0..=sum of the remaining weights` and take
/// the first item (zero weights first) whose running sum reaches it. Used
/// once per lookup for the records, and once per call for the resolved
/// addresses (so that calls spread by weight, not only lookups).
pub fn order_ranked<T: Ranked, R: Rng + ?Sized>(mut items: Vec<T>, rng: &mut R) -> Vec<T> {
    // Stable sort, then zero weights first within a priority, as RFC 2782
    // asks, so they are chosen only when the draw is 0.
    items.sort_by_key(|r| (r.rank().0, r.rank().1 != 0));
    let mut out = Vec::with_capacity(items.len());
    let mut rest = items.as_slice();
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .position(|r| r.rank().0 != first.rank().0)
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(n);
        weighted(group.to_vec(), rng, &mut out);
        rest = tail;
    }
    out
}

/// One priority group in weighted random order, appended to `out`.
fn weighted<T: Ranked, R: Rng + ?Sized>(mut group: Vec<T>, rng: &mut R, out: &mut Vec<T>) {
    while !group.is_empty() {
        let total: u32 = group.iter().map(|r| u32::from(r.rank().1)).sum();
        let draw = rng.gen_range(0..=total);
        let mut running = 0u32;
        let pick = group
            .iter()
            .position(|r| {
                running += u32::from(r.rank().1);
                running >= draw
            })
            .unwrap_or(group.len() - 1);
        out.push(group.remove(pick));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn rec(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    fn targets(v: &[SrvRecord]) -> Vec<&str> {
        v.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn lower_priority_always_comes_first() {
        let mut rng = StdRng::seed_from_u64(1);
        let records = vec![
            rec(20, 100, "backup-a"),
            rec(10, 1, "main-a"),
            rec(30, 0, "last"),
            rec(10, 1, "main-b"),
            rec(20, 1, "backup-b"),
        ];
        for _ in 0..50 {
            let o = order(records.clone(), &mut rng);
            let t = targets(&o);
            assert_eq!(o.len(), 5);
            assert!(t[..2].contains(&"main-a") && t[..2].contains(&"main-b"));
            assert!(t[2..4].contains(&"backup-a") && t[2..4].contains(&"backup-b"));
            assert_eq!(t[4], "last");
        }
    }

    #[test]
    fn weights_share_the_first_place_in_proportion() {
        // 60 : 30 : 10 (RFC 2782's example shares). With a seeded RNG the
        // counts are reproducible; the bounds allow for sampling noise
        // (about ±3 % at 4,000 draws) so a different RNG stream would pass too.
        let mut rng = StdRng::seed_from_u64(7);
        let records = vec![rec(1, 10, "c"), rec(1, 60, "a"), rec(1, 30, "b")];
        let mut first = [0u32; 3];
        let draws = 4000;
        for _ in 0..draws {
            let o = order(records.clone(), &mut rng);
            first[(o[0].target.as_bytes()[0] - b'a') as usize] += 1;
        }
        let share = |n: u32| f64::from(n) / f64::from(draws);
        assert!((share(first[0]) - 0.6).abs() < 0.03, "{first:?}");
        assert!((share(first[1]) - 0.3).abs() < 0.03, "{first:?}");
        assert!((share(first[2]) - 0.1).abs() < 0.03, "{first:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_order() {
        let records: Vec<SrvRecord> = (0..8).map(|i| rec(1, 10, &format!("t{i}"))).collect();
        let a = order(records.clone(), &mut StdRng::seed_from_u64(42));
        let b = order(records.clone(), &mut StdRng::seed_from_u64(42));
        assert_eq!(a, b);
        let c = order(records, &mut StdRng::seed_from_u64(43));
        assert_ne!(targets(&a), targets(&c), "another seed, another order");
    }

    #[test]
    fn zero_weights_are_rarely_first_but_never_lost() {
        let mut rng = StdRng::seed_from_u64(3);
        let records = vec![rec(1, 0, "zero"), rec(1, 100, "heavy")];
        let mut zero_first = 0;
        for _ in 0..1000 {
            let o = order(records.clone(), &mut rng);
            assert_eq!(o.len(), 2);
            if o[0].target == "zero" {
                zero_first += 1;
            }
        }
        // Only a draw of 0 out of 0..=100 picks it: about 1 %.
        assert!(zero_first < 40, "{zero_first}");
        // All weights zero: every record still comes out.
        let all_zero = vec![rec(1, 0, "x"), rec(1, 0, "y"), rec(1, 0, "z")];
        let mut t = targets(&order(all_zero, &mut rng))
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        t.sort();
        assert_eq!(t, ["x", "y", "z"]);
    }

    #[test]
    fn a_dot_target_means_not_available() {
        assert!(not_available(&[rec(0, 0, ".")]));
        assert!(!not_available(&[rec(0, 0, "sip.example")]));
        assert!(!not_available(&[]));
        let mut rng = StdRng::seed_from_u64(0);
        assert!(order(vec![rec(0, 0, ".")], &mut rng).is_empty());
    }
}
