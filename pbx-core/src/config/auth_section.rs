//! `[auth]` (digest algorithms, nonces), `[registrar]` limits,
//! `[security]` (trusted peers, bans) and `[[users]]`.

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, DigestAlgorithm, Positioner, UserConfig};
use crate::registrar::MaxContactsPolicy;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) realm: Option<String>,
    pub(super) algorithms: Option<Vec<Spanned<String>>>,
    pub(super) nonce_ttl_secs: Option<Spanned<u64>>,
    pub(super) register: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegistrar {
    pub(super) min_expires: Option<u32>,
    pub(super) max_expires: Option<Spanned<u32>>,
    pub(super) default_expires: Option<Spanned<u32>>,
    pub(super) max_contacts: Option<Spanned<usize>>,
    pub(super) max_contacts_policy: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurity {
    #[serde(default)]
    pub(super) trusted: Vec<Spanned<String>>,
    pub(super) ban_threshold: Option<u32>,
    pub(super) ban_window_secs: Option<u64>,
    pub(super) ban_time_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    pub(super) name: Spanned<String>,
    pub(super) password: String,
}

/// `auth.algorithms` (default MD5), preferred first.
pub(super) fn build_algorithms(
    auth: &RawAuth,
    pos: &Positioner<'_>,
) -> Result<Vec<DigestAlgorithm>, ConfigError> {
    Ok(match &auth.algorithms {
        None => vec![DigestAlgorithm::Md5],
        Some(list) => {
            let mut out = Vec::new();
            for a in list {
                let alg = match a.get_ref().to_ascii_uppercase().as_str() {
                    "MD5" => DigestAlgorithm::Md5,
                    "SHA-256" | "SHA256" => DigestAlgorithm::Sha256,
                    other => {
                        return Err(pos.at(
                            a,
                            format!("unknown digest algorithm `{other}` (use MD5 or SHA-256)"),
                        ))
                    }
                };
                out.push(alg);
            }
            if out.is_empty() {
                return Err(pos.error(0, "auth.algorithms must name at least one algorithm"));
            }
            out
        }
    })
}

/// `auth.nonce_ttl_secs` (default 300).
pub(super) fn build_nonce_ttl(auth: &RawAuth, pos: &Positioner<'_>) -> Result<u64, ConfigError> {
    auth.nonce_ttl_secs.as_ref().map_or(Ok(300), |t| {
        if *t.get_ref() == 0 {
            Err(pos.at(t, "nonce_ttl_secs must be at least 1"))
        } else {
            Ok(*t.get_ref())
        }
    })
}

/// Registrar limits: min, max and default binding lifetimes.
pub(super) struct Expires {
    pub(super) min: u32,
    pub(super) max: u32,
    pub(super) default: u32,
}

/// `[registrar]` `min_expires` / `max_expires` / `default_expires`
/// (defaults 60 / 7200 / 3600), checked against each other.
pub(super) fn build_expires(
    registrar: &RawRegistrar,
    pos: &Positioner<'_>,
) -> Result<Expires, ConfigError> {
    let min_expires = registrar.min_expires.unwrap_or(60);
    let max_expires = registrar
        .max_expires
        .as_ref()
        .map_or(7200, |m| *m.get_ref());
    if let Some(m) = &registrar.max_expires {
        if *m.get_ref() < min_expires {
            return Err(pos.at(
                m,
                format!("max_expires must be >= min_expires ({min_expires})"),
            ));
        }
    }
    let default_expires = registrar
        .default_expires
        .as_ref()
        .map_or(3600.min(max_expires), |d| *d.get_ref());
    if let Some(d) = &registrar.default_expires {
        if *d.get_ref() < min_expires || *d.get_ref() > max_expires {
            return Err(pos.at(
                d,
                format!("default_expires must lie within [{min_expires}, {max_expires}]"),
            ));
        }
    }
    Ok(Expires {
        min: min_expires,
        max: max_expires,
        default: default_expires,
    })
}

/// `[registrar]` `max_contacts` (default 10, at least 1) and
/// `max_contacts_policy` (default `"replace-oldest"`).
pub(super) fn build_max_contacts(
    registrar: &RawRegistrar,
    pos: &Positioner<'_>,
) -> Result<(usize, MaxContactsPolicy), ConfigError> {
    let max = match &registrar.max_contacts {
        None => 10,
        Some(m) if *m.get_ref() == 0 => {
            return Err(pos.at(m, "max_contacts must be at least 1"));
        }
        Some(m) => *m.get_ref(),
    };
    let policy = match &registrar.max_contacts_policy {
        None => MaxContactsPolicy::default(),
        Some(p) => p
            .get_ref()
            .parse::<MaxContactsPolicy>()
            .map_err(|e| pos.at(p, e.to_string()))?,
    };
    Ok((max, policy))
}

/// `security.trusted`: addresses or CIDRs.
pub(super) fn build_trusted(
    security: &RawSecurity,
    pos: &Positioner<'_>,
) -> Result<Vec<IpNet>, ConfigError> {
    let mut trusted = Vec::new();
    for t in &security.trusted {
        let text = t.get_ref();
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                pos.at(
                    t,
                    format!("`{text}` is neither an address nor a CIDR (e.g. 10.0.0.0/8)"),
                )
            })?;
        trusted.push(net);
    }

    Ok(trusted)
}

/// `[[users]]`: valid SIP user parts, each declared once.
pub(super) fn build_users(
    raw: Vec<RawUser>,
    pos: &Positioner<'_>,
) -> Result<Vec<UserConfig>, ConfigError> {
    let mut users = Vec::new();
    for u in raw {
        let name = u.name.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c))
        {
            return Err(pos.at(
                &u.name,
                format!("user name `{name}` is not a valid SIP user part"),
            ));
        }
        if users.iter().any(|x: &UserConfig| x.name == *name) {
            return Err(pos.at(&u.name, format!("user `{name}` is declared twice")));
        }
        users.push(UserConfig {
            name: name.clone(),
            password: u.password,
        });
    }

    Ok(users)
}
