//! `pbx report`: the call reports of SPEC §13 from the store's summary
//! tables plus the raw tail of the last minutes (the `reports` crate), as a
//! terminal table, CSV, JSON or an SVG/PNG chart; `pbx report list`; and
//! `pbx report aggregate` to run the aggregation on demand (the running
//! server does it every 15 minutes and nightly).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

/// `pbx report NAME ...`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// A report (see `pbx report list`), `list`, or `aggregate` (with
    /// `--from`/`--to`: rebuild that range; without: the 15-minute run and,
    /// when due, the nightly one).
    name: String,
    /// Start, local `YYYY-MM-DD[THH:MM]` (default: today 00:00).
    #[arg(long)]
    from: Option<String>,
    /// End, exclusive (default: one day after `--from`).
    #[arg(long)]
    to: Option<String>,
    /// Only this skill group.
    #[arg(long)]
    queue: Option<String>,
    /// Only this agent.
    #[arg(long)]
    agent: Option<String>,
    /// Only this trunk.
    #[arg(long)]
    trunk: Option<String>,
    /// Trend periods: half-hour, hour, day or total.
    #[arg(long)]
    by: Option<String>,
    /// Whose scope: admin (default), leader:ID or agent:ID (SPEC §2).
    #[arg(long = "as", value_name = "VIEWER")]
    viewer: Option<String>,
    /// Working hours for half-hour reports, HH:MM-HH:MM (default 08:00-20:00).
    #[arg(long)]
    hours: Option<String>,
    /// CSV instead of a table.
    #[arg(long, conflicts_with_all = ["json", "chart"])]
    csv: bool,
    /// JSON instead of a table.
    #[arg(long, conflicts_with = "chart")]
    json: bool,
    /// Draw a chart into FILE.svg or FILE.png instead.
    #[arg(long, value_name = "FILE")]
    chart: Option<PathBuf>,
}

fn now_ms() -> i64 {
    pbx_core::server::unix_now() as i64 * 1000
}

/// `pbx report ...`.
pub(crate) fn run(path: Option<&Path>, args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.name == "list" {
        return crate::output::stdout(|out| {
            use std::io::Write as _;
            let width = reports::REPORTS
                .iter()
                .map(|r| r.name.len())
                .max()
                .unwrap_or(0);
            for r in reports::REPORTS {
                writeln!(out, "{:width$}  {}", r.name, r.about)?;
            }
            Ok(())
        })
        .map(|()| ExitCode::SUCCESS);
    }
    let config = super::load_config(path)?;
    let settings = pbx_core::api::reports::settings_of(&config)?;
    let db_path = config.db_path();
    let mut db = reports::ReportDb::open(&db_path)
        .with_context(|| format!("the store of {}", config.source))?;
    let request = reports::Request {
        from: args.from.clone(),
        to: args.to.clone(),
        queue: args.queue,
        agent: args.agent,
        trunk: args.trunk,
        by: args.by,
        viewer: args.viewer,
        hours: args.hours,
    };
    if args.name == "aggregate" {
        let started = std::time::Instant::now();
        if args.from.is_some() || args.to.is_some() {
            let (q, s) = request.query(&settings, now_ms())?;
            if q.from_ms < now_ms() - 14 * reports::settings::DAY_MS {
                // The IVR trajectories (survey answers) are purged after 15 days (SPEC §5).
                crate::output::note!(
                    "note: survey figures of days whose trajectories were purged (older than the trajectory \
                     retention, 15 days by default) are rebuilt as 0"
                );
            }
            let r = db.rebuild(q.from_ms, q.to_ms, &s)?;
            crate::output::note!(
                "rebuilt {} slots: {} calls, {} queue events, {} summary rows in {:.2} s",
                (r.to_ms - r.from_ms) / reports::settings::SLOT_MS,
                r.calls,
                r.events,
                r.rows,
                started.elapsed().as_secs_f64()
            );
        } else {
            reports::aggregator::tick(&mut db, now_ms(), &settings)?;
            crate::output::note!("aggregated in {:.2} s", started.elapsed().as_secs_f64());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !reports::REPORTS.iter().any(|r| r.name == args.name) {
        bail!("no report `{}` (see `pbx report list`)", args.name);
    }
    let (q, s) = request.query(&settings, now_ms())?;
    let table = reports::catalog::run(&args.name, &q, &s, &db)?;
    if let Some(file) = &args.chart {
        reports::chart::render(&table, file)?;
        crate::output::note!("chart written to {}", file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let text = if args.csv {
        reports::render::csv(&table)
    } else if args.json {
        format!("{:#}\n", reports::render::json(&table))
    } else {
        reports::render::terminal(&table)
    };
    crate::output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
