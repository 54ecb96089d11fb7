//! Tickets the CRM creates during a call (SPEC §8.2): attached by call id
//! while the call rings or is up (`POST /api/v1/calls/{id}/tickets`), so
//! that every later leg's pop carries them (`carried_context`) and the
//! customer's next pop shows the last one (`last_ticket`, SPEC §7).
//!
//! A call keeps its id across blind transfers and IVR / queue hand-overs,
//! so one row per (call, ticket) links the ticket to every leg of the
//! call; the ids are also appended to the record's supplementary entry
//! (`cdr_extra.ticket_ids`), which the call-record API lists.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS call_tickets (
    call_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    flow TEXT,
    agent TEXT,
    customer_id TEXT,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (call_id, ticket_id)
);
CREATE INDEX IF NOT EXISTS call_tickets_customer ON call_tickets (customer_id, at_ms);
";

/// A ticket attached to a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallTicket {
    /// The call it was created on.
    pub call_id: String,
    /// The CRM's ticket number.
    pub ticket_id: String,
    /// Its ticket flow (ticket type), when the CRM said.
    pub flow: Option<String>,
    /// The agent who created it.
    pub agent: Option<String>,
    /// The customer it is for.
    pub customer_id: Option<String>,
    /// When it was attached, Unix ms.
    pub at_ms: u64,
}

/// A ticket to attach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCallTicket {
    /// The CRM's ticket number.
    pub ticket_id: String,
    /// Its flow.
    pub flow: Option<String>,
    /// Who created it.
    pub agent: Option<String>,
    /// The located customer.
    pub customer_id: Option<String>,
}

fn ticket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallTicket> {
    Ok(CallTicket {
        call_id: r.get(0)?,
        ticket_id: r.get(1)?,
        flow: r.get(2)?,
        agent: r.get(3)?,
        customer_id: r.get(4)?,
        at_ms: r.get::<_, i64>(5)? as u64,
    })
}

impl Store {
    /// Attaches a ticket to a call (again: its flow, agent and customer are
    /// updated) and appends it to the record's ticket ids; a customer id
    /// also becomes the record's customer when it has none. Returns the
    /// call's tickets.
    pub fn attach_call_ticket(
        &mut self,
        call_id: &str,
        t: &NewCallTicket,
        now_ms: u64,
    ) -> Result<Vec<CallTicket>, StoreError> {
        let path = self.path().to_owned();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        tx.execute(
            "INSERT INTO call_tickets (call_id, ticket_id, flow, agent, customer_id, at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(call_id, ticket_id) DO UPDATE SET \
             flow = COALESCE(excluded.flow, flow), agent = COALESCE(excluded.agent, agent), \
             customer_id = COALESCE(excluded.customer_id, customer_id)",
            params![
                call_id,
                t.ticket_id,
                t.flow,
                t.agent,
                t.customer_id,
                now_ms as i64
            ],
        )
        .map_err(wrap)?;
        let current: Option<(Option<String>, String)> = tx
            .query_row(
                "SELECT customer_id, ticket_ids FROM cdr_extra WHERE call_id = ?1",
                [call_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(wrap)?;
        let (customer, list) = current.unwrap_or_default();
        let mut ids: Vec<String> = serde_json::from_str(&list).unwrap_or_default();
        if !ids.contains(&t.ticket_id) {
            ids.push(t.ticket_id.clone());
        }
        let customer = customer.or_else(|| t.customer_id.clone());
        tx.execute(
            "INSERT INTO cdr_extra (call_id, customer_id, ticket_ids, updated_ms) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT(call_id) DO UPDATE SET \
             customer_id = excluded.customer_id, ticket_ids = excluded.ticket_ids, \
             updated_ms = excluded.updated_ms",
            params![
                call_id,
                customer,
                serde_json::Value::from(ids).to_string(),
                now_ms as i64
            ],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        self.call_tickets(call_id)
    }

    /// The tickets of a call, in the order they were attached.
    pub fn call_tickets(&self, call_id: &str) -> Result<Vec<CallTicket>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT call_id, ticket_id, flow, agent, customer_id, at_ms FROM call_tickets \
                 WHERE call_id = ?1 ORDER BY at_ms, rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([call_id], ticket_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The customer's most recent ticket (any call), for the pop's "last
    /// business".
    pub fn last_ticket_of_customer(
        &self,
        customer_id: &str,
    ) -> Result<Option<CallTicket>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT call_id, ticket_id, flow, agent, customer_id, at_ms FROM call_tickets \
                 WHERE customer_id = ?1 ORDER BY at_ms DESC, rowid DESC LIMIT 1",
            )
            .map_err(|e| self.err(e))?
            .query_row([customer_id], ticket_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The customer located on a call (its record's supplementary entry or
    /// a ticket attached to it).
    pub fn call_customer(&self, call_id: &str) -> Result<Option<String>, StoreError> {
        let extra: Option<String> = self
            .conn
            .prepare_cached("SELECT customer_id FROM cdr_extra WHERE call_id = ?1")
            .map_err(|e| self.err(e))?
            .query_row([call_id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        if extra.is_some() {
            return Ok(extra);
        }
        Ok(self
            .call_tickets(call_id)?
            .into_iter()
            .rev()
            .find_map(|t| t.customer_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.sqlite")).unwrap();
        (dir, s)
    }

    fn ticket(id: &str, customer: Option<&str>) -> NewCallTicket {
        NewCallTicket {
            ticket_id: id.into(),
            flow: Some("Complaint".into()),
            agent: Some("1001".into()),
            customer_id: customer.map(str::to_owned),
        }
    }

    #[test]
    fn tickets_accumulate_on_the_call_and_its_record() {
        let (_d, mut s) = store();
        s.attach_call_ticket("c1", &ticket("T1", Some("K7")), 10)
            .unwrap();
        let all = s.attach_call_ticket("c1", &ticket("T2", None), 20).unwrap();
        assert_eq!(
            all.iter().map(|t| t.ticket_id.as_str()).collect::<Vec<_>>(),
            ["T1", "T2"]
        );
        // Attaching again changes nothing in the order.
        s.attach_call_ticket("c1", &ticket("T1", None), 30).unwrap();
        let a = s.annotations("c1").unwrap();
        assert_eq!(a.ticket_ids, ["T1", "T2"]);
        assert_eq!(a.customer_id.as_deref(), Some("K7"));
        assert_eq!(s.call_customer("c1").unwrap().as_deref(), Some("K7"));
        assert!(s.call_tickets("c2").unwrap().is_empty());
    }

    #[test]
    fn last_ticket_is_the_customers_newest() {
        let (_d, mut s) = store();
        assert_eq!(s.last_ticket_of_customer("K7").unwrap(), None);
        s.attach_call_ticket("c1", &ticket("T1", Some("K7")), 10)
            .unwrap();
        s.attach_call_ticket("c2", &ticket("T9", Some("K8")), 15)
            .unwrap();
        s.attach_call_ticket("c3", &ticket("T3", Some("K7")), 20)
            .unwrap();
        let last = s.last_ticket_of_customer("K7").unwrap().unwrap();
        assert_eq!(
            (last.ticket_id.as_str(), last.flow.as_deref()),
            ("T3", Some("Complaint"))
        );
    }
}
