//! Live TCP/TLS connections: by [`ConnId`] for responses on the connection a
//! request came in on (RFC 3261 §18.2.2), and by remote address for reuse.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::peer::{ConnId, Transport};

/// The sending side of one connection's writer.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    pub(crate) tx: mpsc::Sender<Bytes>,
    pub(crate) transport: Transport,
}

/// Connections currently open or being opened.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    next_id: u64,
    by_id: HashMap<ConnId, ConnHandle>,
    by_addr: HashMap<(Transport, SocketAddr), ConnId>,
}

impl Registry {
    /// Adds a connection; it becomes the preferred one for `remote`.
    pub(crate) fn insert(
        &mut self,
        transport: Transport,
        remote: SocketAddr,
        tx: mpsc::Sender<Bytes>,
    ) -> ConnId {
        self.next_id += 1;
        let id = ConnId(self.next_id);
        self.by_id.insert(id, ConnHandle { tx, transport });
        self.by_addr.insert((transport, remote), id);
        id
    }

    /// Removes a connection; the address entry goes only if it still names it.
    pub(crate) fn remove(&mut self, id: ConnId, transport: Transport, remote: SocketAddr) {
        self.by_id.remove(&id);
        if self.by_addr.get(&(transport, remote)) == Some(&id) {
            self.by_addr.remove(&(transport, remote));
        }
    }

    /// The connection `id` if it is open and of `transport`.
    pub(crate) fn get(&self, id: ConnId, transport: Transport) -> Option<&ConnHandle> {
        self.by_id.get(&id).filter(|h| h.transport == transport)
    }

    /// Any open connection of `transport` to `remote`.
    pub(crate) fn by_addr(&self, transport: Transport, remote: SocketAddr) -> Option<&ConnHandle> {
        self.by_addr
            .get(&(transport, remote))
            .and_then(|id| self.by_id.get(id))
    }

    /// The id of the connection found by [`Self::by_addr`].
    #[cfg(test)]
    pub(crate) fn id_for(&self, transport: Transport, remote: SocketAddr) -> Option<ConnId> {
        self.by_addr.get(&(transport, remote)).copied()
    }

    /// Number of registered connections.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_connection_wins_and_removal_keeps_newer() {
        let addr: SocketAddr = "127.0.0.1:5060".parse().expect("literal address");
        let mut reg = Registry::default();
        let (tx, _rx) = mpsc::channel(1);
        let a = reg.insert(Transport::Tcp, addr, tx.clone());
        let b = reg.insert(Transport::Tcp, addr, tx);
        assert_ne!(a, b);
        assert_eq!(reg.id_for(Transport::Tcp, addr), Some(b));
        assert!(reg.by_addr(Transport::Tls, addr).is_none());
        reg.remove(a, Transport::Tcp, addr);
        assert_eq!(reg.id_for(Transport::Tcp, addr), Some(b));
        assert!(reg.get(a, Transport::Tcp).is_none());
        assert!(reg.get(b, Transport::Tls).is_none());
        reg.remove(b, Transport::Tcp, addr);
        assert_eq!(reg.len(), 0);
        assert!(reg.by_addr(Transport::Tcp, addr).is_none());
    }
}
