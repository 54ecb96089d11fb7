//! DTMF: RFC 4733 telephone-events ([`rfc4733`]) and an in-band Goertzel
//! detector ([`goertzel`]) for peers without RFC 4733.

pub mod goertzel;
pub mod rfc4733;

/// A DTMF key (RFC 4733 §3.2 event codes 0-15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digit {
    /// 0
    D0,
    /// 1
    D1,
    /// 2
    D2,
    /// 3
    D3,
    /// 4
    D4,
    /// 5
    D5,
    /// 6
    D6,
    /// 7
    D7,
    /// 8
    D8,
    /// 9
    D9,
    /// *
    Star,
    /// #
    Pound,
    /// A
    A,
    /// B
    B,
    /// C
    C,
    /// D
    D,
}

const ALL: [Digit; 16] = [
    Digit::D0,
    Digit::D1,
    Digit::D2,
    Digit::D3,
    Digit::D4,
    Digit::D5,
    Digit::D6,
    Digit::D7,
    Digit::D8,
    Digit::D9,
    Digit::Star,
    Digit::Pound,
    Digit::A,
    Digit::B,
    Digit::C,
    Digit::D,
];

impl Digit {
    /// RFC 4733 event code.
    pub fn event_code(self) -> u8 {
        ALL.iter().position(|d| *d == self).unwrap_or(0) as u8
    }
    /// From an RFC 4733 event code (0-15); other events are not DTMF.
    pub fn from_event_code(code: u8) -> Option<Self> {
        ALL.get(usize::from(code)).copied()
    }
    /// From a keypad character.
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c.to_ascii_uppercase() {
            '0'..='9' => ALL[(c as u8 - b'0') as usize],
            '*' => Self::Star,
            '#' => Self::Pound,
            'A' => Self::A,
            'B' => Self::B,
            'C' => Self::C,
            'D' => Self::D,
            _ => return None,
        })
    }
    /// Keypad character.
    pub fn as_char(self) -> char {
        b"0123456789*#ABCD"[usize::from(self.event_code())] as char
    }
    /// (low, high) tone frequencies in Hz (ITU-T Q.23).
    pub fn frequencies(self) -> (f32, f32) {
        let (row, col) = match self {
            Self::D1 => (0, 0),
            Self::D2 => (0, 1),
            Self::D3 => (0, 2),
            Self::A => (0, 3),
            Self::D4 => (1, 0),
            Self::D5 => (1, 1),
            Self::D6 => (1, 2),
            Self::B => (1, 3),
            Self::D7 => (2, 0),
            Self::D8 => (2, 1),
            Self::D9 => (2, 2),
            Self::C => (2, 3),
            Self::Star => (3, 0),
            Self::D0 => (3, 1),
            Self::Pound => (3, 2),
            Self::D => (3, 3),
        };
        (goertzel::ROWS[row], goertzel::COLS[col])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_chars() {
        for (i, d) in ALL.iter().enumerate() {
            assert_eq!(d.event_code() as usize, i);
            assert_eq!(Digit::from_event_code(i as u8), Some(*d));
            assert_eq!(Digit::from_char(d.as_char()), Some(*d));
        }
        assert_eq!(Digit::from_event_code(16), None);
        assert_eq!(Digit::from_char('x'), None);
        assert_eq!(Digit::from_char('5'), Some(Digit::D5));
        assert_eq!(Digit::D5.frequencies(), (770.0, 1336.0));
    }
}
