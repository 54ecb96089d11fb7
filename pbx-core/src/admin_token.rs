//! The admin token: a random secret in `<data_dir>/admin-token` (mode
//! 0600), created by the first `pbx serve` of a data directory. Every
//! request to the local HTTP endpoint except `GET /metrics` must carry it
//! as `Authorization: Bearer TOKEN`; the `pbx` admin commands read it from
//! the same file, so whoever may read the server's data may administer it
//! and nobody else — also when `metrics.listen` is opened beyond 127.0.0.1.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;

/// File name of the token inside the data directory.
pub const FILE: &str = "admin-token";

/// Where the token of `data_dir` lives.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The token of `data_dir`, created (32 random bytes, hex) if there is
/// none yet.
pub fn load_or_create(data_dir: &Path) -> io::Result<String> {
    match read(data_dir) {
        Ok(token) => return Ok(token),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path(data_dir)) {
        Ok(mut f) => {
            f.write_all(token.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            Ok(token)
        }
        // another process created it meanwhile: use theirs
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(data_dir),
        Err(e) => Err(e),
    }
}

/// The token of `data_dir` as written by [`load_or_create`].
pub fn read(data_dir: &Path) -> io::Result<String> {
    let text = std::fs::read_to_string(path(data_dir))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is empty", path(data_dir).display()),
        ));
    }
    Ok(token.to_owned())
}

/// Whether an `Authorization` header value carries `token` (compared in
/// constant time).
pub fn authorizes(token: &str, header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let (a, b) = (token.as_bytes(), given.trim().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let token = load_or_create(&data).unwrap();
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            load_or_create(&data).unwrap(),
            token,
            "kept across restarts"
        );
        assert_eq!(read(&data).unwrap(), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(&data)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_create(other.path()).unwrap(), token);
    }

    #[test]
    fn only_the_bearer_token_authorizes() {
        let t = "abc123";
        assert!(authorizes(t, Some("Bearer abc123")));
        for h in [
            None,
            Some(""),
            Some("abc123"),
            Some("Bearer abc124"),
            Some("Bearer abc1234"),
            Some("Basic abc123"),
        ] {
            assert!(!authorizes(t, h), "{h:?}");
        }
    }

    #[test]
    fn an_empty_file_is_an_error_not_an_empty_token() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), "\n").unwrap();
        assert_eq!(
            read(dir.path()).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
