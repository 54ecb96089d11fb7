//! Work the engine cannot do itself because it is sans-IO: HTTP requests of
//! applications ([`Action::Http`](crate::b2bua::app::Action::Http), IVR http
//! nodes). The driver takes them with [`Engine::poll_job`], runs them (with
//! their timeout) and feeds the outcome back with
//! [`Engine::handle_http_result`], which the application sees as
//! [`LegEvent::HttpResult`].

use std::time::{Duration, Instant};

use super::{Engine, Services};
use crate::b2bua::app::{HttpOutcome, LegEvent};
use crate::b2bua::CallId;
use crate::sans_io::Outbox;

/// An HTTP POST an application asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpJob {
    /// The call whose application asked.
    pub call: CallId,
    /// The application's request id (echoed in the result).
    pub id: u64,
    /// URL.
    pub url: String,
    /// JSON body.
    pub body_json: String,
    /// Give up after this long ([`HttpOutcome::TimedOut`]).
    pub timeout: Duration,
}

impl Engine {
    /// The next HTTP request to run, oldest first.
    pub fn poll_job(&mut self) -> Option<HttpJob> {
        self.jobs.pop_front()
    }

    /// Whether a job waits (the driver wakes its runner on this).
    pub fn has_jobs(&self) -> bool {
        !self.jobs.is_empty()
    }

    /// The outcome of a job from [`Self::poll_job`]; a call that ended
    /// meanwhile ignores it.
    pub fn handle_http_result(
        &mut self,
        now: Instant,
        call: CallId,
        id: u64,
        outcome: HttpOutcome,
        svc: Services<'_>,
        out: &mut Outbox,
    ) {
        if !self.calls.contains_key(&call) {
            tracing::debug!(%call, id, "http result for an ended call");
            return;
        }
        self.pending
            .push_back((call, LegEvent::HttpResult(id, outcome)));
        self.pump(now, svc, out);
    }
}
