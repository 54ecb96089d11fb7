//! Transaction matching keys (RFC 3261 §17.1.3 and §17.2.3).
//!
//! Owned keys live in the layer's maps; lookups use borrowed views of the
//! incoming message (`*KeyRef`) through hashbrown's `Equivalent`, so matching
//! a message allocates nothing. Owned and borrowed forms hash identically.

use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

use crate::message::Method;

/// Client transaction key: top Via branch + CSeq method (§17.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientKey {
    branch: Box<str>,
    method: Method,
}

/// Borrowed form of [`ClientKey`], built from a response without allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientKeyRef<'a> {
    pub(crate) branch: &'a str,
    pub(crate) method: &'a Method,
}

impl ClientKeyRef<'_> {
    pub(crate) fn to_owned(self) -> ClientKey {
        ClientKey {
            branch: self.branch.into(),
            method: self.method.clone(),
        }
    }
}

fn hash_client<H: Hasher>(branch: &str, method: &Method, state: &mut H) {
    branch.hash(state);
    method.hash(state);
}

impl Hash for ClientKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_client(&self.branch, &self.method, state);
    }
}

impl Hash for ClientKeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_client(self.branch, self.method, state);
    }
}

impl Equivalent<ClientKey> for ClientKeyRef<'_> {
    fn equivalent(&self, key: &ClientKey) -> bool {
        *key.branch == *self.branch && key.method == *self.method
    }
}

/// Server transaction key: top Via branch + sent-by + request method, with
/// ACK folded into INVITE (§17.2.3). The sent-by host compares
/// case-insensitively (§19.1.4, hosts are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerKey {
    /// Branch followed by the sent-by host, in one allocation.
    text: Box<str>,
    /// Where the host starts in `text`.
    split: usize,
    port: u16,
    method: Method,
}

impl ServerKey {
    fn branch(&self) -> &str {
        &self.text[..self.split]
    }

    fn host(&self) -> &str {
        &self.text[self.split..]
    }
}

/// Borrowed form of [`ServerKey`], built from a request without allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerKeyRef<'a> {
    pub(crate) branch: &'a str,
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) method: &'a Method,
}

impl ServerKeyRef<'_> {
    pub(crate) fn to_owned(self) -> ServerKey {
        let mut text = String::with_capacity(self.branch.len() + self.host.len());
        text.push_str(self.branch);
        text.push_str(self.host);
        ServerKey {
            text: text.into(),
            split: self.branch.len(),
            port: self.port,
            method: self.method.clone(),
        }
    }
}

fn hash_server<H: Hasher>(branch: &str, host: &str, port: u16, method: &Method, state: &mut H) {
    branch.hash(state);
    // Lower-cased through a stack buffer so the hash is case-insensitive
    // without allocating; chunking only depends on the length, so equal
    // hosts (ignoring case) hash equally.
    state.write_usize(host.len());
    let mut buf = [0u8; 32];
    for chunk in host.as_bytes().chunks(buf.len()) {
        let lower = &mut buf[..chunk.len()];
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        state.write(lower);
    }
    state.write_u16(port);
    method.hash(state);
}

impl Hash for ServerKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_server(self.branch(), self.host(), self.port, &self.method, state);
    }
}

impl Hash for ServerKeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_server(self.branch, self.host, self.port, self.method, state);
    }
}

impl Equivalent<ServerKey> for ServerKeyRef<'_> {
    fn equivalent(&self, key: &ServerKey) -> bool {
        key.port == self.port
            && key.branch() == self.branch
            && key.host().eq_ignore_ascii_case(self.host)
            && key.method == *self.method
    }
}
