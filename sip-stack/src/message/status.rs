//! Response status codes (RFC 3261 §7.2, §21).

use std::fmt;

/// A response status code, 100..=699 on the wire (RFC 3261 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(pub u16);

macro_rules! status_codes {
    ($($(#[$doc:meta])* $name:ident = $code:expr, $reason:expr;)*) => {
        impl StatusCode {
            $($(#[$doc])* pub const $name: Self = Self($code);)*

            /// The default reason phrase of a code (RFC 3261 §21 and extensions);
            /// for an unknown code, a generic phrase for its class.
            pub const fn reason_phrase(self) -> &'static str {
                match self.0 {
                    $($code => $reason,)*
                    100..=199 => "Provisional",
                    200..=299 => "Success",
                    300..=399 => "Redirection",
                    400..=499 => "Client Error",
                    500..=599 => "Server Error",
                    _ => "Global Failure",
                }
            }
        }
    };
}

status_codes! {
    /// 100 Trying (RFC 3261 §21.1.1).
    TRYING = 100, "Trying";
    /// 180 Ringing (RFC 3261 §21.1.2).
    RINGING = 180, "Ringing";
    /// 181 Call Is Being Forwarded (RFC 3261 §21.1.3).
    CALL_IS_BEING_FORWARDED = 181, "Call Is Being Forwarded";
    /// 182 Queued (RFC 3261 §21.1.4).
    QUEUED = 182, "Queued";
    /// 183 Session Progress (RFC 3261 §21.1.5).
    SESSION_PROGRESS = 183, "Session Progress";
    /// 199 Early Dialog Terminated (RFC 6228).
    EARLY_DIALOG_TERMINATED = 199, "Early Dialog Terminated";
    /// 200 OK (RFC 3261 §21.2.1).
    OK = 200, "OK";
    /// 202 Accepted (RFC 3265, deprecated by RFC 6665 but still sent).
    ACCEPTED = 202, "Accepted";
    /// 204 No Notification (RFC 5839).
    NO_NOTIFICATION = 204, "No Notification";
    /// 300 Multiple Choices (RFC 3261 §21.3.1).
    MULTIPLE_CHOICES = 300, "Multiple Choices";
    /// 301 Moved Permanently (RFC 3261 §21.3.2).
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    /// 302 Moved Temporarily (RFC 3261 §21.3.3).
    MOVED_TEMPORARILY = 302, "Moved Temporarily";
    /// 305 Use Proxy (RFC 3261 §21.3.4).
    USE_PROXY = 305, "Use Proxy";
    /// 380 Alternative Service (RFC 3261 §21.3.5).
    ALTERNATIVE_SERVICE = 380, "Alternative Service";
    /// 400 Bad Request (RFC 3261 §21.4.1).
    BAD_REQUEST = 400, "Bad Request";
    /// 401 Unauthorized (RFC 3261 §21.4.2).
    UNAUTHORIZED = 401, "Unauthorized";
    /// 402 Payment Required (RFC 3261 §21.4.3).
    PAYMENT_REQUIRED = 402, "Payment Required";
    /// 403 Forbidden (RFC 3261 §21.4.4).
    FORBIDDEN = 403, "Forbidden";
    /// 404 Not Found (RFC 3261 §21.4.5).
    NOT_FOUND = 404, "Not Found";
    /// 405 Method Not Allowed (RFC 3261 §21.4.6).
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    /// 406 Not Acceptable (RFC 3261 §21.4.7).
    NOT_ACCEPTABLE = 406, "Not Acceptable";
    /// 407 Proxy Authentication Required (RFC 3261 §21.4.8).
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required";
    /// 408 Request Timeout (RFC 3261 §21.4.9).
    REQUEST_TIMEOUT = 408, "Request Timeout";
    /// 410 Gone (RFC 3261 §21.4.10).
    GONE = 410, "Gone";
    /// 413 Request Entity Too Large (RFC 3261 §21.4.11).
    REQUEST_ENTITY_TOO_LARGE = 413, "Request Entity Too Large";
    /// 414 Request-URI Too Long (RFC 3261 §21.4.12).
    REQUEST_URI_TOO_LONG = 414, "Request-URI Too Long";
    /// 415 Unsupported Media Type (RFC 3261 §21.4.13).
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    /// 416 Unsupported URI Scheme (RFC 3261 §21.4.14).
    UNSUPPORTED_URI_SCHEME = 416, "Unsupported URI Scheme";
    /// 420 Bad Extension (RFC 3261 §21.4.15).
    BAD_EXTENSION = 420, "Bad Extension";
    /// 421 Extension Required (RFC 3261 §21.4.16).
    EXTENSION_REQUIRED = 421, "Extension Required";
    /// 422 Session Interval Too Small (RFC 4028).
    SESSION_INTERVAL_TOO_SMALL = 422, "Session Interval Too Small";
    /// 423 Interval Too Brief (RFC 3261 §21.4.17).
    INTERVAL_TOO_BRIEF = 423, "Interval Too Brief";
    /// 480 Temporarily Unavailable (RFC 3261 §21.4.18).
    TEMPORARILY_UNAVAILABLE = 480, "Temporarily Unavailable";
    /// 481 Call/Transaction Does Not Exist (RFC 3261 §21.4.19).
    CALL_TRANSACTION_DOES_NOT_EXIST = 481, "Call/Transaction Does Not Exist";
    /// 482 Loop Detected (RFC 3261 §21.4.20).
    LOOP_DETECTED = 482, "Loop Detected";
    /// 483 Too Many Hops (RFC 3261 §21.4.21).
    TOO_MANY_HOPS = 483, "Too Many Hops";
    /// 484 Address Incomplete (RFC 3261 §21.4.22).
    ADDRESS_INCOMPLETE = 484, "Address Incomplete";
    /// 485 Ambiguous (RFC 3261 §21.4.23).
    AMBIGUOUS = 485, "Ambiguous";
    /// 486 Busy Here (RFC 3261 §21.4.24).
    BUSY_HERE = 486, "Busy Here";
    /// 487 Request Terminated (RFC 3261 §21.4.25).
    REQUEST_TERMINATED = 487, "Request Terminated";
    /// 488 Not Acceptable Here (RFC 3261 §21.4.26).
    NOT_ACCEPTABLE_HERE = 488, "Not Acceptable Here";
    /// 489 Bad Event (RFC 6665).
    BAD_EVENT = 489, "Bad Event";
    /// 491 Request Pending (RFC 3261 §21.4.27).
    REQUEST_PENDING = 491, "Request Pending";
    /// 493 Undecipherable (RFC 3261 §21.4.28).
    UNDECIPHERABLE = 493, "Undecipherable";
    /// 500 Server Internal Error (RFC 3261 §21.5.1).
    SERVER_INTERNAL_ERROR = 500, "Server Internal Error";
    /// 501 Not Implemented (RFC 3261 §21.5.2).
    NOT_IMPLEMENTED = 501, "Not Implemented";
    /// 502 Bad Gateway (RFC 3261 §21.5.3).
    BAD_GATEWAY = 502, "Bad Gateway";
    /// 503 Service Unavailable (RFC 3261 §21.5.4).
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    /// 504 Server Time-out (RFC 3261 §21.5.5).
    SERVER_TIMEOUT = 504, "Server Time-out";
    /// 505 Version Not Supported (RFC 3261 §21.5.6).
    VERSION_NOT_SUPPORTED = 505, "Version Not Supported";
    /// 513 Message Too Large (RFC 3261 §21.5.7).
    MESSAGE_TOO_LARGE = 513, "Message Too Large";
    /// 600 Busy Everywhere (RFC 3261 §21.6.1).
    BUSY_EVERYWHERE = 600, "Busy Everywhere";
    /// 603 Decline (RFC 3261 §21.6.2).
    DECLINE = 603, "Decline";
    /// 604 Does Not Exist Anywhere (RFC 3261 §21.6.3).
    DOES_NOT_EXIST_ANYWHERE = 604, "Does Not Exist Anywhere";
    /// 606 Not Acceptable (RFC 3261 §21.6.4).
    NOT_ACCEPTABLE_ANYWHERE = 606, "Not Acceptable";
}

impl StatusCode {
    /// 1xx (RFC 3261 §7.2).
    pub const fn is_provisional(self) -> bool {
        self.0 >= 100 && self.0 < 200
    }

    /// 2xx.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// Final response: 200 and above (RFC 3261 §7.2).
    pub const fn is_final(self) -> bool {
        self.0 >= 200
    }

    /// The class digit, 1..=6.
    pub const fn class(self) -> u16 {
        self.0 / 100
    }
}

/// Prints the bare number, e.g. `486`.
impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for StatusCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}
