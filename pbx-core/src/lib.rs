//! The PBX: registrar, stateful proxy, users, store, metrics and the server wiring.
#![warn(missing_docs)]
