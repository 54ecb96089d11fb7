//! A minimal authoritative DNS responder for tests (feature
//! `dns-test-server`): answers A, AAAA and SRV queries over UDP on
//! 127.0.0.1 from a record table the test edits while it runs. Names
//! without records get NXDOMAIN, names with records of other types an empty
//! NOERROR (RFC 2308 §2.2 "NODATA"). Not a DNS server for anything else:
//! no TCP, no zones, no EDNS.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parking_lot::Mutex;

/// One record the responder serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestRecord {
    /// An A or AAAA record.
    Addr {
        /// Owner name.
        name: String,
        /// The address.
        ip: IpAddr,
        /// TTL in seconds.
        ttl: u32,
    },
    /// An SRV record (RFC 2782).
    Srv {
        /// Owner name (`_sip._udp.example`).
        name: String,
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host name.
        target: String,
        /// TTL in seconds.
        ttl: u32,
    },
}

impl TestRecord {
    fn owner(&self) -> &str {
        match self {
            Self::Addr { name, .. } | Self::Srv { name, .. } => name,
        }
    }
}

/// The responder: a thread on a UDP socket, stopped on drop.
#[derive(Debug)]
pub struct TestDnsServer {
    addr: SocketAddr,
    records: Arc<Mutex<Vec<TestRecord>>>,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl TestDnsServer {
    /// Binds 127.0.0.1 on a free port and serves `records`.
    pub fn start(records: Vec<TestRecord>) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = socket.local_addr()?;
        let records = Arc::new(Mutex::new(records));
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (records, queries, stop) = (records.clone(), queries.clone(), stop.clone());
            std::thread::Builder::new()
                .name("test-dns".into())
                .spawn(move || serve(&socket, &records, &queries, &stop))?
        };
        Ok(Self {
            addr,
            records,
            queries,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens (`[trunks_dns] servers = ["<this>"]`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the records served from now on.
    pub fn set_records(&self, records: Vec<TestRecord>) {
        *self.records.lock() = records;
    }

    /// Queries answered so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for TestDnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    socket: &UdpSocket,
    records: &Mutex<Vec<TestRecord>>,
    count: &AtomicUsize,
    stop: &AtomicBool,
) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Ok(query) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let reply = answer(&query, &records.lock());
        count.fetch_add(1, Ordering::SeqCst);
        if let Ok(bytes) = reply.to_vec() {
            let _ = socket.send_to(&bytes, peer);
        }
    }
}

/// The authoritative answer to `query` from `records`.
fn answer(query: &Message, records: &[TestRecord]) -> Message {
    let mut m = Message::new();
    m.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_authoritative(true)
        .set_recursion_desired(query.recursion_desired());
    let Some(q) = query.queries().first() else {
        m.set_response_code(ResponseCode::FormErr);
        return m;
    };
    m.add_query(q.clone());
    let owner = key(&q.name().to_ascii());
    let mut known = false;
    for r in records.iter().filter(|r| key(r.owner()) == owner) {
        known = true;
        if let Some(rec) = to_record(q.name(), r, q.query_type()) {
            m.add_answer(rec);
        }
    }
    if !known {
        m.set_response_code(ResponseCode::NXDomain);
    }
    m
}

fn to_record(owner: &Name, r: &TestRecord, qtype: RecordType) -> Option<Record> {
    let (ttl, rdata) = match (r, qtype) {
        (
            TestRecord::Addr {
                ip: IpAddr::V4(v4),
                ttl,
                ..
            },
            RecordType::A,
        ) => (*ttl, RData::A(A(*v4))),
        (
            TestRecord::Addr {
                ip: IpAddr::V6(v6),
                ttl,
                ..
            },
            RecordType::AAAA,
        ) => (*ttl, RData::AAAA(AAAA(*v6))),
        (
            TestRecord::Srv {
                priority,
                weight,
                port,
                target,
                ttl,
                ..
            },
            RecordType::SRV,
        ) => {
            let target = Name::from_ascii(format!("{}.", key(target))).ok()?;
            (
                *ttl,
                RData::SRV(SRV::new(*priority, *weight, *port, target)),
            )
        }
        _ => return None,
    };
    Some(Record::from_rdata(owner.clone(), ttl, rdata))
}
