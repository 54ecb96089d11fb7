//! `pbx report` and `GET /api/v1/reports/…` on the store of a running
//! `pbx serve`: the server's aggregator runs at start, a generated two days
//! of traffic is aggregated on demand, and the CLI and the API give the
//! same tables (CSV and JSON), scoped for a team leader.

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use crate::harness::{free_port, Pbx};

const CONTACT_CENTER: &str = "[calls]\nengine = \"b2bua\"\n\
    [[queues]]\nname = \"sales\"\n[[queues]]\nname = \"support\"\n[[queues]]\nname = \"billing\"\n\
    [[queues]]\nname = \"tech\"\n[[queues]]\nname = \"vip\"\nservice_level_s = 30\n\
    [[agents]]\nname = \"a01\"\nskills = [\"sales:5\"]\ndepartment = \"sales\"\n\
    [[agents]]\nname = \"a02\"\nskills = [\"support:5\"]\ndepartment = \"service\"\n\
    [[agents]]\nname = \"a03\"\nskills = [\"sales:3\"]\nleader = \"a01\"\ndepartment = \"sales\"\n\
    [[agents]]\nname = \"a04\"\nskills = [\"support:3\"]\nleader = \"a02\"\ndepartment = \"service\"\n";

fn get(port: u16, token: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (
        status,
        resp.split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned(),
    )
}

fn stdout_ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn reports_from_the_cli_and_the_api_agree() {
    let metrics = free_port();
    let pbx = Pbx::start_with_metrics(CONTACT_CENTER, &format!("127.0.0.1:{metrics}"));
    let data = pbx.dir().join("data");
    let db = data.join("pbx.sqlite");
    // The server's aggregator runs once at start.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let wm = reports::ReportDb::open(&db)
            .and_then(|d| d.watermark())
            .unwrap_or(0);
        if wm > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the aggregator did not run; log:\n{}",
            pbx.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let start_ms = reports::catalog::days_from_civil(2026, 11, 2) * reports::settings::DAY_MS;
    let plan = reports::generate::Plan {
        start_ms,
        days: 2,
        calls_per_day: 800,
        agents: 4,
        seed: 3,
    };
    reports::generate::generate(&db, &plan).expect("generate");

    let range = ["--from", "2026-11-02", "--to", "2026-11-04"];
    let out = pbx.admin(&[&["report", "aggregate"][..], &range].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1600 calls"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let token = pbx_core::admin_token::read(&data).expect("the admin token");
    let q = "from=2026-11-02&to=2026-11-04";
    let csv = stdout_ok(pbx.admin(&[&["report", "queues"][..], &range, &["--csv"]].concat()));
    assert_eq!(csv.lines().count(), 6, "a header and five queues:\n{csv}");
    assert!(
        csv.starts_with("queue,offered,answered,abandoned,overflowed,answer_rate,"),
        "{csv}"
    );
    let (status, body) = get(
        metrics,
        &token,
        &format!("/api/v1/reports/queues?{q}&format=csv"),
    );
    assert_eq!((status, body.as_str()), (200, csv.as_str()));

    // A team leader sees self and subordinates only, through either door.
    let cli: serde_json::Value = serde_json::from_str(&stdout_ok(
        pbx.admin(
            &[
                &["report", "agent-workload"][..],
                &range,
                &["--as", "leader:a01", "--json"],
            ]
            .concat(),
        ),
    ))
    .expect("JSON");
    let agents: Vec<&str> = cli["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["agent"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(agents, ["a01", "a03"]);
    let (status, body) = get(
        metrics,
        &token,
        &format!("/api/v1/reports/agent-workload?{q}&viewer=leader:a01"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).expect("JSON"),
        cli
    );

    // The terminal table and a chart.
    let table = stdout_ok(
        pbx.admin(&[&["report", "inbound-trend"][..], &range, &["--by", "day"]].concat()),
    );
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("period")),
        "{table}"
    );
    assert_eq!(
        table.lines().count(),
        3 + 2,
        "title, header, rule, two days:\n{table}"
    );
    let png = pbx.dir().join("queues.png");
    let out = pbx.admin(
        &[
            &["report", "queues"][..],
            &range,
            &["--chart", png.to_str().expect("path")],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(&std::fs::read(&png).expect("chart")[1..4], b"PNG");
    assert_eq!(
        stdout_ok(pbx.admin(&["report", "list"])).lines().count(),
        reports::REPORTS.len()
    );

    let (status, body) = get(metrics, &token, "/api/v1/reports");
    let list: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        (status, list["reports"].as_array().map(Vec::len)),
        (200, Some(reports::REPORTS.len()))
    );

    // Errors: clear words, the right status.
    let (status, body) = get(metrics, &token, "/api/v1/reports/nope");
    assert_eq!(status, 404, "{body}");
    let (status, body) = get(metrics, &token, "/api/v1/reports/queues?form=2026-11-02");
    assert!(
        status == 400 && body.contains("unknown parameter `form`"),
        "{status} {body}"
    );
    let (status, _) = get(
        metrics,
        &token,
        "/api/v1/reports/queues?from=2026-11-05&to=2026-11-04",
    );
    assert_eq!(status, 400);
    let out = pbx.admin(&["report", "queues", "--as", "leader:zz"]);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("no configured agent")
    );
}
