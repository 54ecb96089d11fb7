//! Changes to the location table that must reach the store: the registrar
//! queues them, the store's write-behind thread applies them in batches.

use super::Binding;

/// One change to persist.
// Upserts are most of the traffic (one per REGISTER): boxing the binding
// would add an allocation to each for the rare removals' sake.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum BindingChange {
    /// Insert or refresh.
    Upsert(Binding),
    /// Remove one binding.
    Remove {
        /// AOR.
        aor: String,
        /// Binding key within the AOR.
        key: String,
    },
    /// Delete every binding that lapsed before these Unix seconds.
    ExpireBefore(u64),
}
