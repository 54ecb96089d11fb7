//! The PBX: registrar, stateful proxy, users, store, metrics and the server wiring.
#![warn(missing_docs)]

pub mod admin_token;
pub mod api;
pub mod auth;
pub mod b2bua;
pub mod config;
pub mod dialplan;
pub mod http_client;
pub mod media_anchor;
pub mod metrics;
pub mod proxy;
pub mod queues;
pub mod recording;
pub mod registrar;
pub mod routing;
pub mod sans_io;
pub mod server;
pub mod sip;
pub mod store;
pub mod trunks;
pub mod webhooks;
