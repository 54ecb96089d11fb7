//! End-to-end tests: the real `pbx serve` binary against real sipp (and a raw UDP
//! helper for single crafted messages) over 127.0.0.1.
//!
//! Run: `PBX_E2E_REQUIRE_SIPP=1 cargo test -p pbx --test e2e`. Without sipp
//! installed (and the variable unset) the sipp-based tests print SKIPPED and pass.

mod harness;
mod raw_ua;

mod admin;
mod api;
mod at_server;
mod b2bua;
mod durability;
mod ivr;
mod malformed;
mod max_contacts;
mod presentation;
mod proxy;
mod register;
mod reports;
mod trunks;
mod trunks_dns;
mod webhooks;
mod websocket;
