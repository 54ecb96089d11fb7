//! Signed, expiring download links (`pbx recordings link ID --expires 1h`,
//! `POST /recordings/ID/link?expires_secs=N`): a URL
//! `/links/recordings/ID?expires=UNIX&sig=HEX` that serves the recording
//! without the admin token while the HMAC-SHA256 over call id and expiry
//! (`recorder::access::sign`) checks out with the server's secret, kept in
//! `<data_dir>/recording-link.key` (created on first use, mode 0600, so
//! links survive restarts; delete it to revoke every link).

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use rand::RngCore;
use recorder::access::LinkError;
use recorder::CallId;

/// The longest a link may be valid (a week).
pub const MAX_LINK_SECS: u64 = 7 * 24 * 3600;

/// The server's link secret.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// Reads the key file, creating it with 32 random bytes when missing
    /// (exclusively: of two processes racing, both end up with the winner's).
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::parse(&text, path),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(path) {
            Ok(mut f) => {
                f.write_all(hex::encode(key).as_bytes())?;
                f.sync_all()?;
                Ok(Self(key.to_vec()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::parse(&std::fs::read_to_string(path)?, path)
            }
            Err(e) => Err(e),
        }
    }

    fn parse(text: &str, path: &Path) -> std::io::Result<Self> {
        match hex::decode(text.trim()) {
            Ok(k) if k.len() >= 16 => Ok(Self(k)),
            _ => Err(std::io::Error::other(format!(
                "{} is not a hex key of at least 16 bytes (delete it to make a new one)",
                path.display()
            ))),
        }
    }

    /// The link path of `call` valid until `expires`.
    pub fn link(&self, call: &CallId, expires: DateTime<Utc>) -> String {
        let sig = recorder::access::sign(&self.0, call, expires);
        format!(
            "/links/recordings/{}?expires={}&sig={sig}",
            call.as_str(),
            expires.timestamp()
        )
    }

    /// Checks a link's expiry and signature at `now`.
    pub fn verify(
        &self,
        call: &CallId,
        expires_unix: i64,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LinkError> {
        recorder::access::verify_link(&self.0, call, expires_unix, sig, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_and_links_verify_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/recording-link.key");
        let a = LinkKey::load_or_create(&path).unwrap();
        let b = LinkKey::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0);
        let call = CallId::new("c00000000000000ab").unwrap();
        let now = Utc::now();
        let exp = now + chrono::Duration::hours(1);
        let link = a.link(&call, exp);
        let sig = link.rsplit("sig=").next().unwrap();
        assert!(link.starts_with("/links/recordings/c00000000000000ab?expires="));
        assert_eq!(b.verify(&call, exp.timestamp(), sig, now), Ok(()));
        assert_eq!(
            b.verify(&call, exp.timestamp() + 1, sig, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            b.verify(
                &call,
                exp.timestamp(),
                sig,
                exp + chrono::Duration::seconds(1)
            ),
            Err(LinkError::Expired)
        );
        std::fs::write(&path, "zz").unwrap();
        assert!(LinkKey::load_or_create(&path).is_err());
    }
}
