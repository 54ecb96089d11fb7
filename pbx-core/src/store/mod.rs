//! Durable storage. The embedded default is SQLite (one file under the data dir),
//! shared by `pbx serve` and the admin subcommands, which may run at the same time
//! (WAL mode, busy timeout).

mod call_tickets;
mod cdr;
mod missed_callbacks;
mod outbox;
mod queue_events;
mod record_notes;
mod records;
mod saved_queries;
mod sqlite;
pub mod synthetic;
mod tokens;
mod trajectory;
mod user_admin;
mod webhooks;
mod write_behind;

/// The schemas of the API's tables (tokens, record annotations, saved
/// queries, user profiles) and the records' indexes, run by [`Store::open`].
const API_SCHEMAS: [&str; 6] = [
    call_tickets::SCHEMA,
    tokens::SCHEMA,
    record_notes::SCHEMA,
    saved_queries::SCHEMA,
    user_admin::SCHEMA,
    records::SCHEMA,
];

pub use call_tickets::{CallTicket, NewCallTicket};
pub use cdr::{CdrFilter, CdrQueue, CdrWriter, RecordingRef, StepWrite, StoredCdr};
pub use missed_callbacks::MissedCallback;
pub use outbox::{OutboxEvent, StoredEvent};
pub use record_notes::{Annotations, Note, Supplement};
pub use records::{LegView, Outcome, RecordCursor, RecordFilter, RecordPage, RecordSummary};
pub use saved_queries::SavedQuery;
pub use sqlite::{Store, StoreError, UserRow};
pub use tokens::{token_hash, TokenRow, TOKEN_PREFIX};
pub use trajectory::StoredTrajectory;
pub use user_admin::{UserPatch, UserProfile, UserQuery, ROLES};
pub use webhooks::{
    AttemptRecord, DeadLetter, DueDelivery, LastCall, NewSubscription, StoredSubscription,
    SubscriptionId, SubscriptionSource, WebhookEvent, WebhookUpdate,
};
pub use write_behind::WriteBehind;
