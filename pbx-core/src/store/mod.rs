//! Durable storage. The embedded default is SQLite (one file under the data dir),
//! shared by `pbx serve` and the admin subcommands, which may run at the same time
//! (WAL mode, busy timeout).

mod cdr;
mod missed_callbacks;
mod outbox;
mod queue_events;
mod sqlite;
mod trajectory;
mod webhooks;
mod write_behind;

pub use cdr::{CdrFilter, CdrQueue, CdrWriter, RecordingRef, StepWrite, StoredCdr};
pub use missed_callbacks::MissedCallback;
pub use outbox::{OutboxEvent, StoredEvent};
pub use sqlite::{Store, StoreError, UserRow};
pub use trajectory::StoredTrajectory;
pub use webhooks::{
    AttemptRecord, DeadLetter, DueDelivery, LastCall, NewSubscription, StoredSubscription,
    SubscriptionId, SubscriptionSource, WebhookEvent, WebhookUpdate,
};
pub use write_behind::WriteBehind;
