//! `pbx cdr export --format csv|xlsx -o FILE [filters]`: the call records
//! (every SPEC §3 field the store has, the columns of `GET
//! /api/v1/records/export`) over the filters of SPEC §12, a page at a time
//! with a progress bar. The default window is today (local time of
//! `calls.utc_offset_minutes`); `--mask-numbers` writes numbers as an
//! agent without the `numbers` scope sees them (SPEC §18).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use pbx_core::api::v1::{export_row, mask_number, EXPORT_COLUMNS};
use pbx_core::store::{Outcome, RecordFilter, RecordSummary};

/// `pbx cdr` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CdrCmd {
    /// Write the call records to a CSV or XLSX file.
    Export(ExportArgs),
}

/// The file format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// Comma-separated, UTF-8, a header row.
    Csv,
    /// An Excel workbook, one sheet.
    Xlsx,
}

/// `pbx cdr export` options.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// csv or xlsx.
    #[arg(long, value_enum)]
    format: Format,
    /// The file to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Start, local `YYYY-MM-DD[THH:MM]` (default: today 00:00).
    #[arg(long)]
    from: Option<String>,
    /// End, exclusive (default: `--from` + 1 day).
    #[arg(long)]
    to: Option<String>,
    /// inbound, outbound or internal.
    #[arg(long)]
    direction: Option<String>,
    /// Caller equals (as received or E.164).
    #[arg(long)]
    caller: Option<String>,
    /// Callee equals.
    #[arg(long)]
    callee: Option<String>,
    /// Service number (DID) equals.
    #[arg(long)]
    service_number: Option<String>,
    /// Entered this skill group.
    #[arg(long)]
    skill_group: Option<String>,
    /// Handled by this agent.
    #[arg(long)]
    agent: Option<String>,
    /// answered, abandoned_in_queue, missed, no_answer, busy, failed.
    #[arg(long)]
    outcome: Option<String>,
    /// Carries this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only recorded calls (`true`) or only unrecorded ones (`false`).
    #[arg(long)]
    has_recording: Option<bool>,
    /// Duration at least (s).
    #[arg(long)]
    min_duration: Option<u64>,
    /// Duration at most (s).
    #[arg(long)]
    max_duration: Option<u64>,
    /// Mask phone numbers (middle four digits), as without `numbers`.
    #[arg(long)]
    mask_numbers: bool,
}

fn mask(r: &mut RecordSummary) {
    for v in [&mut r.caller, &mut r.callee] {
        *v = mask_number(v);
    }
    for v in [
        &mut r.caller_e164,
        &mut r.callee_e164,
        &mut r.service_number,
    ]
    .into_iter()
    .flatten()
    {
        *v = mask_number(v);
    }
    for v in &mut r.transfer_chain {
        *v = mask_number(v);
    }
}

fn filter(a: &ExportArgs, offset: i64) -> anyhow::Result<RecordFilter> {
    let from_ms = match &a.from {
        Some(f) => super::cdr::parse_local(f, offset)?,
        None => {
            let day = (pbx_core::server::unix_now() as i64 + offset).div_euclid(86_400);
            ((day * 86_400 - offset) * 1000) as u64
        }
    };
    let to_ms = match &a.to {
        Some(t) => super::cdr::parse_local(t, offset)?,
        None => from_ms + 86_400_000,
    };
    if from_ms > to_ms {
        bail!("--from is after --to");
    }
    if let Some(d) = &a.direction {
        if !["inbound", "outbound", "internal"].contains(&d.as_str()) {
            bail!("--direction `{d}`: inbound, outbound or internal");
        }
    }
    let outcome = match &a.outcome {
        Some(o) => Some(Outcome::parse(o).with_context(|| {
            let all: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
            format!("--outcome `{o}`: {}", all.join(", "))
        })?),
        None => None,
    };
    Ok(RecordFilter {
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        direction: a.direction.clone(),
        caller: a.caller.clone(),
        callee: a.callee.clone(),
        service_number: a.service_number.clone(),
        skill_group: a.skill_group.clone(),
        agent: a.agent.clone(),
        outcome,
        tag: a.tag.clone(),
        has_recording: a.has_recording,
        min_duration_s: a.min_duration,
        max_duration_s: a.max_duration,
    })
}

/// Where rows go.
enum Sink {
    Csv(Box<csv::Writer<std::fs::File>>),
    Xlsx(Box<rust_xlsxwriter::Workbook>, u32),
}

impl Sink {
    fn row(&mut self, cells: &[String]) -> anyhow::Result<()> {
        match self {
            Self::Csv(w) => w.write_record(cells)?,
            Self::Xlsx(book, row) => {
                let sheet = book
                    .worksheet_from_index(0)
                    .context("the workbook's sheet")?;
                for (col, cell) in cells.iter().enumerate() {
                    sheet.write_string(*row, col as u16, cell)?;
                }
                *row += 1;
            }
        }
        Ok(())
    }

    fn finish(self, path: &Path) -> anyhow::Result<()> {
        match self {
            Self::Csv(mut w) => w.flush()?,
            Self::Xlsx(mut book, _) => book.save(path)?,
        }
        Ok(())
    }
}

/// `pbx cdr export ...`.
pub(crate) fn run(path: Option<&Path>, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    let offset = config.dialplan.utc_offset_secs;
    let f = filter(&a, i64::from(offset))?;
    let store = super::open_store(&config)?;
    let total = store.count_records(&f)?;
    let mut sink = match a.format {
        Format::Csv => Sink::Csv(Box::new(
            csv::Writer::from_path(&a.output)
                .with_context(|| format!("creating {}", a.output.display()))?,
        )),
        Format::Xlsx => {
            let mut book = rust_xlsxwriter::Workbook::new();
            book.add_worksheet().set_name("call records")?;
            Sink::Xlsx(Box::new(book), 0)
        }
    };
    let header: Vec<String> = EXPORT_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    sink.row(&header)?;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut after = None;
    let mut written = 0u64;
    loop {
        let page = store.query_records(&f, after.as_ref(), 1000)?;
        for mut r in page.records {
            let notes = store.annotations(&r.call_id)?.notes;
            if a.mask_numbers {
                mask(&mut r);
            }
            sink.row(&export_row(&r, &notes, offset))?;
            written += 1;
            bar.inc(1);
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    sink.finish(&a.output)
        .with_context(|| format!("writing {}", a.output.display()))?;
    bar.finish_and_clear();
    crate::output::note!("{written} call records written to {}", a.output.display());
    Ok(ExitCode::SUCCESS)
}
