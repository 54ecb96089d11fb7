//! The transport handler: every received message runs through the SIP core on
//! the receiving thread, and what the core wants sent goes straight out.

use std::sync::{Arc, OnceLock};

use sip_stack::transport::{Handler, Incoming, Transports};

use crate::sans_io::Clock;
use crate::sip::{Outbox, SipCore};

pub(super) struct CoreHandler {
    pub(super) cell: Arc<OnceLock<(Arc<SipCore>, Transports)>>,
    pub(super) clock: Clock,
}

thread_local! {
    static OUTBOX: std::cell::RefCell<Outbox> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Handler for CoreHandler {
    fn on_message(&self, incoming: Incoming) {
        // Messages that arrive while the server is still starting are dropped; UAs retransmit.
        let Some((core, transports)) = self.cell.get() else {
            return;
        };
        let now = self.clock.now();
        OUTBOX.with(|cell| {
            let Ok(mut out) = cell.try_borrow_mut() else {
                return;
            };
            core.handle_incoming(&now, incoming.data, incoming.peer, &mut out);
            send_all(core, transports, &mut out);
        });
    }
}

pub(super) fn send_all(core: &SipCore, transports: &Transports, out: &mut Outbox) {
    for (peer, data) in out.drain(..) {
        if let Err(e) = transports.send(&peer, data) {
            core.metrics.send_errors.inc();
            tracing::debug!(%peer, error = %e, "send failed");
        }
    }
}
