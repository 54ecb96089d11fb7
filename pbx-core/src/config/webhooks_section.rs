//! `[[webhooks]]`, `[webhook_delivery]` and `[crm]`: webhook subscriptions,
//! how deliveries are retried, the CRM's customer lookup hook and the
//! caller-region table — filled into [`crate::webhooks::WebhooksConfig`].
//!
//! ```toml
//! [[webhooks]]
//! name = "crm"                        # default: the URL
//! url = "https://crm.example.com/pbx/hooks"
//! secrets = ["whsec_…new", "whsec_…old"]   # or `secret = "whsec_…"`
//! events = ["call.*", "queue.offer"]  # default ["*"]
//! masked = true                       # default true (SPEC §18)
//!
//! [webhook_delivery]
//! timeout_ms = 10000
//! retry_for_s = 86400
//!
//! [crm]
//! lookup_url = "https://crm.example.com/pbx/lookup"
//! lookup_budget_ms = 300
//! regions_file = "regions.csv"        # default: the shipped fixtures/regions.csv
//! ticket_flows = ["Consulting", "Complaint"]   # the pop's `ticket_flow`: default the first
//! queue_ticket_flows = { support = "Complaint" }   # a skill group's inbound flow
//! outbound_ticket_flows = { "1001" = "Consulting" } # an agent's outbound flow
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Positioner};
use crate::webhooks::signature::Secret;
use crate::webhooks::{
    DeliveryConfig, EventFilter, LookupConfig, SubscriptionConfig, TicketFlows, WebhooksConfig,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    name: Option<Spanned<String>>,
    url: Spanned<String>,
    secret: Option<Spanned<String>>,
    secrets: Option<Vec<Spanned<String>>>,
    events: Option<Vec<Spanned<String>>>,
    masked: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDelivery {
    timeout_ms: Option<Spanned<u64>>,
    concurrency: Option<Spanned<usize>>,
    per_subscription: Option<Spanned<usize>>,
    retry_base_ms: Option<Spanned<u64>>,
    retry_max_delay_s: Option<u64>,
    retry_for_s: Option<u64>,
    client_error_attempts: Option<Spanned<u32>>,
    poll_interval_ms: Option<Spanned<u64>>,
    outbox_commit_ms: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCrm {
    lookup_url: Option<Spanned<String>>,
    lookup_budget_ms: Option<Spanned<u64>>,
    lookup_late_timeout_ms: Option<u64>,
    lookup_cache_s: Option<u64>,
    regions_file: Option<String>,
    ca_file: Option<String>,
    ticket_flows: Option<Vec<String>>,
    queue_ticket_flows: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    outbound_ticket_flows: Option<Spanned<std::collections::BTreeMap<String, String>>>,
}

/// `[crm] ticket_flows` and the per-queue / per-agent choices, which must
/// name one of them.
fn ticket_flows(crm: &RawCrm, pos: &Positioner<'_>) -> Result<TicketFlows, ConfigError> {
    let flows = crm.ticket_flows.clone().unwrap_or_default();
    let mut out = TicketFlows {
        flows,
        ..TicketFlows::default()
    };
    for (raw, what) in [
        (&crm.queue_ticket_flows, "crm.queue_ticket_flows"),
        (&crm.outbound_ticket_flows, "crm.outbound_ticket_flows"),
    ] {
        let Some(map) = raw else { continue };
        if let Some((k, v)) = map.get_ref().iter().find(|(_, v)| !out.flows.contains(v)) {
            return Err(pos.at(
                map,
                format!(
                    "{what}.{k} = `{v}`: not one of crm.ticket_flows {:?}",
                    out.flows
                ),
            ));
        }
        let target = if what == "crm.queue_ticket_flows" {
            &mut out.by_queue
        } else {
            &mut out.outbound_by_agent
        };
        *target = map.get_ref().clone();
    }
    Ok(out)
}

fn http_url(url: &Spanned<String>, what: &str, pos: &Positioner<'_>) -> Result<(), ConfigError> {
    let u = url.get_ref();
    if !(u.starts_with("http://") || u.starts_with("https://")) || u.parse::<hyper::Uri>().is_err()
    {
        return Err(pos.at(
            url,
            format!("{what} `{u}`: an http:// or https:// URL expected"),
        ));
    }
    Ok(())
}

fn positive<T: PartialOrd + Default + Copy>(
    v: &Option<Spanned<T>>,
    what: &str,
    pos: &Positioner<'_>,
) -> Result<Option<T>, ConfigError> {
    match v {
        Some(s) if *s.get_ref() <= T::default() => {
            Err(pos.at(s, format!("{what} must be greater than 0")))
        }
        Some(s) => Ok(Some(*s.get_ref())),
        None => Ok(None),
    }
}

/// The webhook settings, validated: URLs, `whsec_` secrets, event filters,
/// unique names, positive limits; relative paths are relative to the
/// config file's directory.
pub(super) fn build(
    hooks: &[RawWebhook],
    delivery: &RawDelivery,
    crm: &RawCrm,
    base: &Path,
    pos: &Positioner<'_>,
) -> Result<WebhooksConfig, ConfigError> {
    let mut subscriptions = Vec::new();
    let mut names = std::collections::HashSet::new();
    for h in hooks {
        http_url(&h.url, "webhooks.url", pos)?;
        let mut secrets: Vec<&Spanned<String>> = h.secret.iter().collect();
        secrets.extend(h.secrets.iter().flatten());
        if secrets.is_empty() {
            return Err(pos.at(
                &h.url,
                "webhooks: a `secret = \"whsec_…\"` (or `secrets = [...]`) is required",
            ));
        }
        for s in &secrets {
            Secret::parse(s.get_ref()).map_err(|e| pos.at(s, format!("webhooks.secret: {e}")))?;
        }
        let events = match &h.events {
            None => vec![EventFilter::parse("*").expect("`*` is a filter")],
            Some(list) if list.is_empty() => {
                return Err(pos.at(&h.url, "webhooks.events: empty (leave it out for every event)"))
            }
            Some(list) => list
                .iter()
                .map(|f| {
                    EventFilter::parse(f.get_ref()).ok_or_else(|| {
                        pos.at(
                            f,
                            format!(
                                "webhooks.events `{}`: use an event type (`call.ringing`), `call.*` or `*`",
                                f.get_ref()
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let name = h
            .name
            .as_ref()
            .map_or_else(|| h.url.get_ref().clone(), |n| n.get_ref().clone());
        if !names.insert(name.clone()) {
            let at = h.name.as_ref().unwrap_or(&h.url);
            return Err(pos.at(at, format!("webhooks: the name `{name}` is used twice")));
        }
        subscriptions.push(SubscriptionConfig {
            name,
            url: h.url.get_ref().clone(),
            secrets: secrets.iter().map(|s| s.get_ref().clone()).collect(),
            events,
            masked: h.masked.unwrap_or(true),
        });
    }
    let d = DeliveryConfig::default();
    let delivery = DeliveryConfig {
        timeout: positive(&delivery.timeout_ms, "webhook_delivery.timeout_ms", pos)?
            .map_or(d.timeout, Duration::from_millis),
        concurrency: positive(&delivery.concurrency, "webhook_delivery.concurrency", pos)?
            .unwrap_or(d.concurrency),
        per_subscription: positive(
            &delivery.per_subscription,
            "webhook_delivery.per_subscription",
            pos,
        )?
        .unwrap_or(d.per_subscription),
        retry_base: positive(
            &delivery.retry_base_ms,
            "webhook_delivery.retry_base_ms",
            pos,
        )?
        .map_or(d.retry_base, Duration::from_millis),
        retry_max_delay: delivery
            .retry_max_delay_s
            .map_or(d.retry_max_delay, Duration::from_secs),
        retry_for: delivery
            .retry_for_s
            .map_or(d.retry_for, Duration::from_secs),
        client_error_attempts: positive(
            &delivery.client_error_attempts,
            "webhook_delivery.client_error_attempts",
            pos,
        )?
        .unwrap_or(d.client_error_attempts),
        poll_interval: positive(
            &delivery.poll_interval_ms,
            "webhook_delivery.poll_interval_ms",
            pos,
        )?
        .map_or(d.poll_interval, Duration::from_millis),
        outbox_commit: positive(
            &delivery.outbox_commit_ms,
            "webhook_delivery.outbox_commit_ms",
            pos,
        )?
        .map_or(d.outbox_commit, Duration::from_millis),
    };
    let lookup = match &crm.lookup_url {
        None => None,
        Some(url) => {
            http_url(url, "crm.lookup_url", pos)?;
            Some(LookupConfig {
                url: url.get_ref().clone(),
                budget: positive(&crm.lookup_budget_ms, "crm.lookup_budget_ms", pos)?
                    .map_or(Duration::from_millis(300), Duration::from_millis),
                late_timeout: Duration::from_millis(crm.lookup_late_timeout_ms.unwrap_or(10_000)),
                cache_ttl: Duration::from_secs(crm.lookup_cache_s.unwrap_or(60)),
            })
        }
    };
    Ok(WebhooksConfig {
        subscriptions,
        delivery,
        lookup,
        regions_file: crm.regions_file.as_ref().map(|f| base.join(f)),
        ca_files: crm.ca_file.iter().map(|f| base.join(f)).collect(),
        ticket_flows: ticket_flows(crm, pos)?,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Config;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn parse(extra: &str) -> Result<Config, crate::config::ConfigError> {
        Config::from_str_named(
            &format!("[server]\nlisten = [\"udp:127.0.0.1:5060\"]\n{extra}"),
            "t.toml",
        )
    }

    #[test]
    fn subscriptions_delivery_and_crm_are_read() {
        let c = parse(&format!(
            "[[webhooks]]\nurl = \"http://127.0.0.1:9/h\"\nsecrets = [\"{SECRET}\", \"{SECRET}\"]\n\
             events = [\"call.*\", \"queue.offer\"]\n\
             [[webhooks]]\nname = \"raw\"\nurl = \"https://crm.example/h\"\nsecret = \"{SECRET}\"\nmasked = false\n\
             [webhook_delivery]\ntimeout_ms = 1500\nretry_for_s = 3600\noutbox_commit_ms = 50\n\
             [crm]\nlookup_url = \"http://127.0.0.1:9/lookup\"\nlookup_budget_ms = 250\n"
        ))
        .unwrap();
        let w = &c.webhooks;
        assert_eq!(w.subscriptions.len(), 2);
        let first = &w.subscriptions[0];
        assert_eq!(
            first.name, "http://127.0.0.1:9/h",
            "the URL names an unnamed entry"
        );
        assert_eq!(first.secrets.len(), 2);
        assert!(first.masked, "masked by default (SPEC §18)");
        assert!(first.events[0].matches("call.ended") && !first.events[0].matches("queue.enter"));
        assert!(!w.subscriptions[1].masked);
        assert!(
            w.subscriptions[1].events[0].matches("agent.state"),
            "default `*`"
        );
        assert_eq!(w.delivery.timeout, Duration::from_millis(1500));
        assert_eq!(w.delivery.retry_for, Duration::from_secs(3600));
        assert_eq!(w.delivery.outbox_commit, Duration::from_millis(50));
        let l = w.lookup.as_ref().unwrap();
        assert_eq!(l.budget, Duration::from_millis(250));
        assert_eq!(l.cache_ttl, Duration::from_secs(60));
        assert!(parse("").unwrap().webhooks.is_empty());
    }

    #[test]
    fn ticket_flows_are_read_and_checked() {
        let c = parse(
            "[crm]\nticket_flows = [\"Consulting\", \"Complaint\"]\n\
             queue_ticket_flows = { support = \"Complaint\" }\n\
             outbound_ticket_flows = { \"1001\" = \"Complaint\" }\n",
        )
        .unwrap();
        let f = &c.webhooks.ticket_flows;
        assert_eq!(f.inbound(Some("support")), Some("Complaint"));
        assert_eq!(f.inbound(Some("sales")), Some("Consulting"));
        assert_eq!(f.inbound(None), Some("Consulting"));
        assert_eq!(f.outbound(Some("1001")), Some("Complaint"));
        assert_eq!(f.outbound(Some("1002")), Some("Consulting"));
        assert_eq!(parse("").unwrap().webhooks.ticket_flows.inbound(None), None);
        let err = parse(
            "[crm]\nticket_flows = [\"Consulting\"]\nqueue_ticket_flows = { support = \"Sales\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "t.toml:5:22: crm.queue_ticket_flows.support = `Sales`: not one of crm.ticket_flows [\"Consulting\"]"
        );
    }

    #[test]
    fn errors_name_their_place() {
        let cases = [
            (
                "[[webhooks]]\nurl = \"ftp://x\"\nsecret = \"whsec_x\"\n".to_owned(),
                "t.toml:4:7: webhooks.url `ftp://x`: an http:// or https:// URL expected",
            ),
            (
                "[[webhooks]]\nurl = \"http://x/h\"\nsecret = \"nope\"\n".to_owned(),
                "t.toml:5:10: webhooks.secret: bad webhook secret: must start with `whsec_`",
            ),
            (
                "[[webhooks]]\nurl = \"http://x/h\"\n".to_owned(),
                "t.toml:4:7: webhooks: a `secret = \"whsec_…\"` (or `secrets = [...]`) is required",
            ),
            (
                format!("[[webhooks]]\nurl = \"http://x/h\"\nsecret = \"{SECRET}\"\nevents = [\"ca*ll\"]\n"),
                "t.toml:6:11: webhooks.events `ca*ll`: use an event type (`call.ringing`), `call.*` or `*`",
            ),
            (
                format!("[[webhooks]]\nurl = \"http://x/h\"\nsecret = \"{SECRET}\"\n[[webhooks]]\nurl = \"http://x/h\"\nsecret = \"{SECRET}\"\n"),
                "t.toml:7:7: webhooks: the name `http://x/h` is used twice",
            ),
            (
                "[webhook_delivery]\ntimeout_ms = 0\n".to_owned(),
                "t.toml:4:14: webhook_delivery.timeout_ms must be greater than 0",
            ),
            (
                "[crm]\nlookup_url = \"x\"\n".to_owned(),
                "t.toml:4:14: crm.lookup_url `x`: an http:// or https:// URL expected",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(&text).unwrap_err().to_string(), want, "{text}");
        }
    }
}
