//! RTP/RTCP port-pair allocation from a configured range (RFC 3550 §11: RTP
//! on an even port, RTCP on the next odd one). Pure bookkeeping: the driver
//! binds the sockets and hands back pairs it could not bind.

use std::collections::VecDeque;

/// An even RTP port and RTCP = RTP + 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortPair {
    /// Even RTP port.
    pub rtp: u16,
}

impl PortPair {
    /// RTCP port (RTP + 1).
    pub fn rtcp(self) -> u16 {
        self.rtp + 1
    }
}

/// Errors from the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// Range has no even/odd pair.
    #[error("port range {start}..={end} holds no RTP/RTCP pair")]
    EmptyRange {
        /// First port.
        start: u16,
        /// Last port.
        end: u16,
    },
    /// All pairs are in use.
    #[error("all RTP port pairs are in use")]
    Exhausted,
    /// The process may open no more sockets (EMFILE / ENFILE).
    #[error("out of file descriptors: raise the limit (ulimit -n)")]
    Descriptors,
}

/// Hands out port pairs least-recently-released first, so a just-freed
/// port is not reused while stray packets for the old call may still arrive.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    start: u16,
    end: u16,
    free: VecDeque<u16>,
    in_use: Vec<bool>,
}

impl PortAllocator {
    /// Uses the even ports in `start..=end` whose odd successor is in range.
    pub fn new(start: u16, end: u16) -> Result<Self, PortError> {
        let first = start.saturating_add(start % 2);
        let free: VecDeque<u16> = (u32::from(first)..u32::from(end))
            .step_by(2)
            .map(|p| p as u16)
            .collect();
        if free.is_empty() || start == 0 {
            return Err(PortError::EmptyRange { start, end });
        }
        Ok(Self {
            start: first,
            end,
            in_use: vec![false; free.len()],
            free,
        })
    }
    /// Takes the next free pair.
    pub fn allocate(&mut self) -> Result<PortPair, PortError> {
        let rtp = self.free.pop_front().ok_or(PortError::Exhausted)?;
        self.in_use[usize::from((rtp - self.start) / 2)] = true;
        Ok(PortPair { rtp })
    }
    /// Returns a pair; unknown or already-free pairs are ignored.
    pub fn release(&mut self, pair: PortPair) {
        if pair.rtp < self.start || pair.rtp >= self.end || pair.rtp & 1 != 0 {
            return;
        }
        let i = usize::from((pair.rtp - self.start) / 2);
        if self.in_use[i] {
            self.in_use[i] = false;
            self.free.push_back(pair.rtp);
        }
    }
    /// Free pairs left.
    pub fn available(&self) -> usize {
        self.free.len()
    }
}

/// Whether a failed bind means the process ran out of file descriptors
/// (EMFILE / ENFILE) rather than a port being busy: port allocation stops
/// then with [`PortError::Descriptors`] instead of trying every pair.
pub fn out_of_descriptors<'a>(errors: impl IntoIterator<Item = &'a std::io::Error>) -> bool {
    errors
        .into_iter()
        .any(|e| matches!(e.raw_os_error(), Some(23 | 24)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_even_pairs_and_reuses_lru() {
        let mut a = PortAllocator::new(30001, 30009).unwrap();
        assert_eq!(a.available(), 4); // 30002,30004,30006,30008
        let p1 = a.allocate().unwrap();
        assert_eq!((p1.rtp, p1.rtcp()), (30002, 30003));
        let ps: Vec<_> = (0..3).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(ps.last().unwrap().rtp, 30008);
        assert_eq!(a.allocate(), Err(PortError::Exhausted));
        a.release(p1);
        a.release(p1); // double release ignored
        a.release(PortPair { rtp: 40000 });
        assert_eq!(a.available(), 1);
        assert_eq!(a.allocate().unwrap(), p1);
        assert!(matches!(
            PortAllocator::new(5000, 5000),
            Err(PortError::EmptyRange { .. })
        ));
    }
}
