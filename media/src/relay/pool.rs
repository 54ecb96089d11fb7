//! Several relay threads (one per core) behind one handle: the port range
//! is split evenly, a session lives on shard `id % threads` so every later
//! command for it reaches the same thread, and all shards report to one
//! event channel.

use std::io;
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::driver::{Command, DriverConfig, RelayEvent, RelayHandle, SessionId};
use super::ports::{PortError, PortPair};
use super::session::LegConfig;

/// A sharded relay.
#[derive(Debug)]
pub struct RelayPool {
    shards: Vec<RelayHandle>,
    /// Events of all shards.
    pub events: Receiver<RelayEvent>,
}

impl RelayPool {
    /// Starts `threads` relay threads sharing `cfg`'s port range.
    pub fn spawn(cfg: DriverConfig, threads: usize) -> io::Result<Self> {
        let threads = threads.max(1);
        let span =
            (u32::from(cfg.port_max).saturating_sub(u32::from(cfg.port_min)) + 1) / threads as u32;
        if span < 4 {
            return Err(io::Error::other(PortError::EmptyRange {
                start: cfg.port_min,
                end: cfg.port_max,
            }));
        }
        let (etx, erx) = crossbeam_channel::unbounded();
        let mut shards = Vec::with_capacity(threads);
        for i in 0..threads as u32 {
            let port_min = (u32::from(cfg.port_min) + i * span) as u16;
            let port_max = (u32::from(port_min) + span - 1) as u16;
            let shard_cfg = DriverConfig {
                port_min,
                port_max,
                ..cfg
            };
            shards.push(RelayHandle::spawn_with_events(
                shard_cfg,
                etx.clone(),
                erx.clone(),
            )?);
        }
        Ok(Self {
            shards,
            events: erx,
        })
    }

    fn shard(&self, id: SessionId) -> &RelayHandle {
        &self.shards[(id.0 % self.shards.len() as u64) as usize]
    }

    /// Routes a command to its session's shard (`Shutdown` goes to all).
    pub fn send(&self, cmd: Command) {
        match cmd.session_id() {
            Some(id) => self.shard(id).send(cmd),
            None => self.shards.iter().for_each(|s| s.send(Command::Shutdown)),
        }
    }

    /// Opens a session on its shard and waits for the port pairs.
    pub fn open_sync(
        &self,
        id: SessionId,
        a: LegConfig,
        b: LegConfig,
        timeout: Duration,
    ) -> Result<(PortPair, PortPair), PortError> {
        self.shard(id).open_sync(id, a, b, timeout)
    }

    /// Number of relay threads.
    pub fn threads(&self) -> usize {
        self.shards.len()
    }
}
