//! Callbacks that keep the caller's place. A waiting caller presses the
//! queue's callback key; its entry stays in the queue as a virtual caller
//! with the same sort key. At the front the engine reserves an agent and
//! asks the driver to call the agent first ([`crate::Action::CallbackCallAgent`]),
//! then, once the agent answered, the customer
//! ([`crate::Action::CallbackCallCustomer`]). A failed customer attempt waits
//! `retry_interval_s` and goes back to its place; after `max_attempts` the
//! request is dropped (and the call stays in the missed-call list).
//!
//! [`CallbackRequest`] is the durable form: the driver stores the engine's
//! [`crate::Acd::callbacks`] whenever a callback event is emitted and hands
//! them back to [`crate::Acd::restore_callbacks`] after a restart.

use serde::{Deserialize, Serialize};

use crate::ids::{CallId, CallbackId, QueueId};

/// A pending callback, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// The request.
    pub id: CallbackId,
    /// The call that asked for it.
    pub call: CallId,
    /// The queue it waits in.
    pub queue: QueueId,
    /// The number to call.
    pub number: String,
    /// The service number the customer had dialed.
    pub service_number: Option<String>,
    /// Caller priority.
    pub priority: u8,
    /// When the call entered the queue (Unix ms): the place it keeps.
    pub entered_unix_ms: u64,
    /// Customer attempts made so far.
    pub attempts: u32,
}
