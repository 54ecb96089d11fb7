//! Charts of report tables through `plotters`: line charts for trends,
//! grouped bars for comparisons, with axis labels, a caption and a legend;
//! SVG or PNG by the file's extension. Text is drawn with a TrueType font
//! read at run time: `PBX_REPORT_FONT`, else DejaVu Sans (Debian
//! `fonts-dejavu-core`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::catalog::{ChartKind, Table};
use crate::value::Cell;
use crate::{Error, Result};

/// Where the font is looked for when `PBX_REPORT_FONT` is not set.
pub const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

const SIZE: (u32, u32) = (1100, 600);

fn load_font() -> std::result::Result<(), String> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let candidates: Vec<PathBuf> = match std::env::var_os("PBX_REPORT_FONT") {
            Some(p) => vec![PathBuf::from(p)],
            None => FONT_PATHS.iter().map(PathBuf::from).collect(),
        };
        let path = candidates.iter().find(|p| p.exists()).ok_or_else(|| {
            format!(
                "no TrueType font found (tried {}): install fonts-dejavu-core or set PBX_REPORT_FONT",
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )
        })?;
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // plotters keeps registered fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{}: not a usable TrueType font", path.display()))
    })
    .clone()
}

/// A drawn series: its legend and a value per x position.
struct Series {
    name: String,
    points: Vec<Option<f64>>,
}

fn series_of(t: &Table) -> (Vec<String>, Vec<Series>) {
    let spec = &t.chart;
    let label = |r: &Vec<Cell>, i: usize| r.get(i).map(Cell::display).unwrap_or_default();
    let mut xs: Vec<String> = Vec::new();
    for r in &t.rows {
        let x = label(r, spec.x);
        if !xs.contains(&x) {
            xs.push(x);
        }
    }
    let pos = |x: &str| xs.iter().position(|v| v == x).unwrap_or(0);
    let mut out = Vec::new();
    match spec.group {
        None => {
            for &j in &spec.series {
                let mut points = vec![None; xs.len()];
                for r in &t.rows {
                    points[pos(&label(r, spec.x))] = r.get(j).and_then(Cell::plot);
                }
                out.push(Series {
                    name: t.columns[j].label.to_owned(),
                    points,
                });
            }
        }
        Some(g) => {
            let mut groups: Vec<String> = Vec::new();
            for r in &t.rows {
                let v = label(r, g);
                if !groups.contains(&v) {
                    groups.push(v);
                }
            }
            for name in groups {
                for &j in &spec.series {
                    let mut points = vec![None; xs.len()];
                    for r in t.rows.iter().filter(|r| label(r, g) == name) {
                        points[pos(&label(r, spec.x))] = r.get(j).and_then(Cell::plot);
                    }
                    out.push(Series {
                        name: format!("{name} {}", t.columns[j].label),
                        points,
                    });
                }
            }
        }
    }
    (xs, out)
}

fn y_desc(t: &Table) -> String {
    let cols: Vec<&Cell> = t
        .rows
        .iter()
        .flat_map(|r| t.chart.series.iter().filter_map(|&j| r.get(j)))
        .collect();
    if !cols.is_empty() && cols.iter().all(|c| matches!(c, Cell::Percent(_))) {
        "percent".into()
    } else {
        t.chart
            .series
            .iter()
            .map(|&j| t.columns[j].label)
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// Draws `t` into `path` (`.svg` or `.png`).
pub fn render(t: &Table, path: &Path) -> Result<()> {
    let err = |why: String| Error::Chart {
        path: path.to_owned(),
        why,
    };
    if t.rows.is_empty() {
        return Err(err(
            "nothing to chart: the report has no rows in this range".into(),
        ));
    }
    load_font().map_err(err)?;
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => draw(SVGBackend::new(path, SIZE).into_drawing_area(), t),
        Some("png") => draw(BitMapBackend::new(path, SIZE).into_drawing_area(), t),
        _ => Err("the chart file must end in .svg or .png".to_owned()),
    }
    .map_err(err)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    t: &Table,
) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (xs, series) = series_of(t);
    let n = xs.len().max(1);
    let ymax = series
        .iter()
        .flat_map(|s| s.points.iter().flatten())
        .fold(0.0_f64, |a, &b| a.max(b));
    let counts = t
        .rows
        .iter()
        .flat_map(|r| t.chart.series.iter().filter_map(|&j| r.get(j)))
        .all(|c| matches!(c, Cell::Count(_)));
    let ymax = match (ymax <= 0.0, counts) {
        (true, _) => 1.0,
        // Whole numbers on the axis: room above the highest bar.
        (false, true) => (ymax * 1.15).ceil().max(ymax + 1.0),
        (false, false) => ymax * 1.15,
    };
    // Room above the data for the legend when several series share it.
    let ymax = if series.len() > 2 { ymax * 1.2 } else { ymax };
    let y_ticks = if counts {
        (ymax as usize + 1).min(11)
    } else {
        11
    };
    let (x0, x1) = match t.chart.kind {
        ChartKind::Line => (0.0, (n.max(2) - 1) as f64),
        ChartKind::Bar => (-0.5, n as f64 - 0.5),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(&t.title, ("sans-serif", 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, 0.0..ymax)
        .map_err(e)?;
    // As many x labels as fit side by side (about 7 px per character).
    let longest = xs.iter().map(|x| x.chars().count()).max().unwrap_or(1);
    let fit = (950 / (longest * 7 + 14)).max(1);
    let every = n.div_ceil(fit).max(1);
    let labels = xs.clone();
    let fmt = move |x: &f64| {
        let i = x.round();
        if (x - i).abs() > 0.01 || i < 0.0 {
            return String::new();
        }
        let i = i as usize;
        if i.is_multiple_of(every) {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_labels(n.min(48) + 1)
        .x_label_formatter(&fmt)
        .y_labels(y_ticks)
        .y_label_formatter(&|y: &f64| {
            if counts {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .x_desc(t.columns[t.chart.x].label)
        .y_desc(y_desc(t))
        .label_style(("sans-serif", 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    let k = series.len().max(1) as f64;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let legend =
            move |(x, y): (i32, i32)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.filled());
        match t.chart.kind {
            ChartKind::Line => {
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .enumerate()
                    .filter_map(|(x, v)| v.map(|v| (x as f64, v)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                    .map_err(e)?
                    .label(s.name.clone())
                    .legend(legend);
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(e)?;
            }
            ChartKind::Bar => {
                let w = 0.8 / k;
                let bars = s.points.iter().enumerate().filter_map(|(x, v)| {
                    v.map(|v| {
                        let left = x as f64 - 0.4 + w * i as f64;
                        Rectangle::new([(left, 0.0), (left + w * 0.95, v)], color.filled())
                    })
                });
                chart
                    .draw_series(bars)
                    .map_err(e)?
                    .label(s.name.clone())
                    .legend(legend);
            }
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}
