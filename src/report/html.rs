//! The HTML report (docs/html.md): `report.html`, one self-contained page with the
//! run's headline, charts and the largest rooms, people and sessions.
//!
//! The page is a [`maud`] template (every text from the input is escaped by it; nothing from
//! outside is marked as pre-escaped); its charts are SVG drawn by [`plotters`]' SVG backend and
//! inlined. Nothing on the page loads anything: no script, no font, no image from anywhere,
//! and a Content-Security-Policy that forbids it. Long timelines are reduced to the pixel
//! columns they are drawn in, each column keeping its minimum and maximum
//! ([`step_polyline`]), so peaks are never lost however many steps there are.
use crate::analysis::overview::{size_bin_label, LargeSession, ATTENDANCE_BINS, SIZE_BINS};
use crate::analysis::rollups::{Headline, PersonRow, RoomRow};
use crate::analysis::Config;
use crate::fsutil::{write_staged, Staged};
use crate::pipeline::Analysis;
use crate::time::{describe_duration, to_rfc3339, Millis};
use anyhow::{anyhow, Result};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::RangedCoordusize;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// The file name of the report.
pub const FILE_NAME: &str = "report.html";

/// How many rooms and people the tables list.
pub const TOP: usize = 20;

/// The page's style sheet (inline; light and dark, screen and print).
const CSS: &str = include_str!("html/report.css");

/// Forbids every load: the page is complete as it is.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// What the page says about the run beyond the analysis itself.
#[derive(Debug, Clone)]
pub struct Context {
    /// The paths given to `analyze`, as given.
    pub inputs: Vec<String>,
    /// When the report was made.
    pub generated_at: Millis,
    pub files_read: usize,
    pub files_skipped: usize,
}

/// Writes `report.html` into `dir` under its temporary name: it appears when the caller
/// commits it (after the table reports, so that a failed run does not leave a new page beside
/// the old reports).
pub fn stage(
    dir: &Path,
    analysis: &Analysis,
    config: &Config,
    context: &Context,
) -> Result<Staged> {
    let page = render(analysis, config, context)?;
    write_staged(&dir.join(FILE_NAME), |out| {
        Ok(out.write_all(page.as_bytes())?)
    })
}

/// The whole page.
pub fn render(analysis: &Analysis, config: &Config, context: &Context) -> Result<String> {
    let headline = analysis.rolled.tables.headline();
    let charts = Charts::draw(analysis, config, &headline)?;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { "sessionstats report" }
                style { (PreEscaped(CSS)) }
            }
            body {
                (header(analysis, config, context))
                (tiles(analysis, config, &headline))
                (charts.markup(analysis, config))
                (rooms_table(&analysis.rolled.kept.rooms))
                (people_table(&analysis.rolled.kept.people))
                (data_quality(analysis, context))
                footer {
                    "Made by sessionstats " (env!("CARGO_PKG_VERSION"))
                    ". Every figure equals the CSV/Parquet reports of the same run; see docs/html.md."
                }
            }
        }
    };
    Ok(page.into_string())
}

fn header(analysis: &Analysis, config: &Config, context: &Context) -> Markup {
    let window = match (config.since, config.until) {
        (None, None) => None,
        (since, until) => Some(format!(
            "[{}, {})",
            since.map_or("…".to_owned(), to_rfc3339),
            until.map_or("…".to_owned(), to_rfc3339)
        )),
    };
    html! {
        header {
            h1 { "Session analytics" }
            dl.run {
                dt { "Inputs" }
                dd {
                    @for (i, input) in context.inputs.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (input) }
                    }
                    " (" (grouped(context.files_read as i64)) " files read, "
                    (grouped(context.files_skipped as i64)) " skipped)"
                }
                dt { "As of" }
                dd { time datetime=(to_rfc3339(config.as_of)) { (to_rfc3339(config.as_of)) } }
                dt { "Zone" }
                dd { (config.calendar.zone.name()) }
                dt { "Period" }
                dd { (config.calendar.kind.name()) }
                dt { "Present" }
                dd { "attended at least " (config.present.to_string()) }
                dt { "Quota" }
                dd {
                    @match config.quota {
                        Some(q) => { (q) " concurrent participants" }
                        None => { "none given" }
                    }
                }
                @if let Some(window) = window {
                    dt { "Window" }
                    dd { (window) " (" (grouped(analysis.outside_window as i64)) " sessions left out)" }
                }
                dt { "Generated" }
                dd { time datetime=(to_rfc3339(context.generated_at)) { (to_rfc3339(context.generated_at)) } }
            }
        }
    }
}

/// A figure with its machine-readable value: `data-metric="NAME" data-value="EXACT"`.
fn metric(name: &str, value: &str, shown: &str) -> Markup {
    html! { span.value data-metric=(name) data-value=(value) { (shown) } }
}

fn tiles(analysis: &Analysis, config: &Config, headline: &Headline) -> Markup {
    let peak = headline.peak;
    html! {
        section.tiles aria-label="Headline" {
            div.tile {
                h2 { "Sessions" }
                (metric("sessions", &headline.sessions.to_string(), &grouped(headline.sessions)))
            }
            div.tile {
                h2 { "Participants" }
                (metric("participants", &headline.participants.to_string(), &grouped(headline.participants)))
                p.note { (grouped(headline.present)) " present" }
            }
            div.tile {
                h2 { "Participant-hours" }
                (metric("participant_ms", &headline.participant_ms.to_string(), &hours(headline.participant_ms)))
            }
            div.tile {
                h2 { "Account peak" }
                (metric(
                    "peak_concurrency",
                    &peak.map_or(0, |p| p.concurrency).to_string(),
                    &grouped(peak.map_or(0, |p| p.concurrency)),
                ))
                p.note {
                    @match peak {
                        Some(p) => { "at " (metric("peak_at", &to_rfc3339(p.changed_at), &local_time(p.changed_at, config))) }
                        None => { "nobody was present " (metric("peak_at", "", "")) }
                    }
                }
            }
            div.tile {
                h2 { "Time over the quota" }
                @match (headline.over_quota_ms, config.quota) {
                    (Some(ms), Some(q)) => {
                        (metric("over_quota_ms", &ms.to_string(), &describe_duration(ms)))
                        p.note { "quota " (q) }
                    }
                    _ => {
                        (metric("over_quota_ms", "", "–"))
                        p.note { "no quota given" }
                    }
                }
            }
            div.tile {
                h2 { "Rejected inputs" }
                (metric("rejects", &analysis.rejects.len().to_string(), &grouped(analysis.rejects.len() as i64)))
            }
        }
    }
}

/// The charts, drawn before the page so that a drawing error is reported.
struct Charts {
    account: Option<String>,
    usage: Option<String>,
    attendance: String,
    sizes: String,
    largest: Vec<(LargeSession, String)>,
}

/// Series colours; they read on light and dark backgrounds alike.
const BLUE: RGBColor = RGBColor(0x25, 0x63, 0xeb);
const ORANGE: RGBColor = RGBColor(0xea, 0x58, 0x0c);
const RED: RGBColor = RGBColor(0xdc, 0x26, 0x26);
const TEAL: RGBColor = RGBColor(0x0d, 0x94, 0x88);
/// Axes and labels: the style sheet recolours this one in dark mode.
const INK: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// The width of the wide charts in SVG pixels, and of the small multiples.
const WIDE: (u32, u32) = (960, 320);
const SMALL: (u32, u32) = (320, 150);

impl Charts {
    fn draw(analysis: &Analysis, config: &Config, headline: &Headline) -> Result<Charts> {
        let r = &analysis.rolled.tables;
        let o = &analysis.rolled.overview;
        let steps: Vec<(Millis, i64)> = analysis
            .rolled
            .kept
            .account_concurrency
            .iter()
            .map(|s| (s.changed_at, s.concurrency))
            .collect();
        let account = (!steps.is_empty())
            .then(|| {
                step_chart(
                    &steps,
                    WIDE,
                    config,
                    config.quota,
                    headline.peak.map(|p| (p.changed_at, p.concurrency)),
                    "participants present",
                )
            })
            .transpose()?;
        let usage = (!r.usage.is_empty())
            .then(|| usage_chart(analysis))
            .transpose()?;
        let attendance_labels: Vec<String> = (0..ATTENDANCE_BINS)
            .map(|i| format!("{}", i * (100 / ATTENDANCE_BINS)))
            .collect();
        let attendance = bar_chart(
            &o.attendance,
            &attendance_labels,
            "attendance % (bins of 5; 100 % in the last)",
            "participant rows",
            TEAL,
        )?;
        let size_labels: Vec<String> = (0..SIZE_BINS.len()).map(size_bin_label).collect();
        let sizes = bar_chart(
            &o.sizes,
            &size_labels,
            "distinct participants",
            "sessions",
            BLUE,
        )?;
        let largest = o
            .largest()
            .into_iter()
            .map(|s| {
                let chart = step_chart(&s.timeline, SMALL, config, None, None, "")?;
                Ok((s.clone(), chart))
            })
            .collect::<Result<_>>()?;
        Ok(Charts {
            account,
            usage,
            attendance,
            sizes,
            largest,
        })
    }

    fn markup(&self, analysis: &Analysis, config: &Config) -> Markup {
        let quota_note = match config.quota {
            Some(q) => format!(" The red line is the quota ({q})."),
            None => String::new(),
        };
        let period = config.calendar.kind.name();
        let o = &analysis.rolled.overview;
        html! {
            section {
                h2 { "Account concurrency" }
                figure.chart data-chart="account-concurrency" {
                    @match &self.account {
                        Some(svg) => (PreEscaped(svg.as_str())),
                        None => p.empty { "No session, nothing to draw." },
                    }
                    figcaption {
                        "Participants present across all sessions (account_concurrency), in "
                        (config.calendar.zone.name()) " time; each pixel column shows the lowest and the highest value in it."
                        (quota_note)
                    }
                }
            }
            section {
                h2 { "Usage per " (period) }
                figure.chart data-chart="usage" {
                    @match &self.usage {
                        Some(svg) => (PreEscaped(svg.as_str())),
                        None => p.empty { "No session, nothing to draw." },
                    }
                    figcaption {
                        span.key.bars { "■" } " participant-hours (left axis) · "
                        span.key.line { "■" } " sessions started (right axis), per " (period) " (usage)"
                    }
                }
            }
            section.pair {
                figure.chart data-chart="attendance" {
                    h2 { "Attendance" }
                    (PreEscaped(self.attendance.as_str()))
                    figcaption {
                        "Participant rows by attendance_pct."
                        @if o.attendance_undefined > 0 {
                            " " (grouped(o.attendance_undefined)) " rows of sessions that lasted 0 ms have none."
                        }
                    }
                }
                figure.chart data-chart="session-sizes" {
                    h2 { "Session sizes" }
                    (PreEscaped(self.sizes.as_str()))
                    figcaption { "Sessions by their number of distinct participants." }
                }
            }
            section {
                h2 { "The " (self.largest.len()) " largest sessions" }
                p.lead { "By peak concurrency, then participants; each on its own time axis and scale." }
                div.multiples {
                    @for (s, svg) in &self.largest {
                        figure.chart.small data-chart="session" {
                            figcaption {
                                code { (s.session_id) }
                                br;
                                (room_label(s.room_id.as_deref())) " · peak " (s.peak_concurrency)
                                " · " (s.participants) " participants · "
                                (local_time(s.started_at, config))
                            }
                            (PreEscaped(svg.as_str()))
                        }
                    }
                }
            }
        }
    }
}

/// A plotters error as an `anyhow` one.
fn drawing<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw a chart of the HTML report: {e:?}")
}

/// `steps` as a step chart (filled), with an optional quota line and peak marker.
fn step_chart(
    steps: &[(Millis, i64)],
    size: (u32, u32),
    config: &Config,
    quota: Option<i64>,
    peak: Option<(Millis, i64)>,
    y_desc: &str,
) -> Result<String> {
    let from = steps.first().map_or(0, |s| s.0);
    let to = steps.last().map_or(0, |s| s.0).max(from + 1);
    let top = steps
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap_or(0)
        .max(quota.unwrap_or(0));
    let top = top + (top / 10).max(1);
    let small = size.0 < WIDE.0;
    let plot_width = if small { size.0 - 40 } else { size.0 - 90 };
    let points = step_polyline(steps, from, to, plot_width as usize);
    let span = to - from;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let font = if small { 10 } else { 13 };
        let mut chart = ChartBuilder::on(&root)
            .margin(if small { 4 } else { 10 })
            .x_label_area_size(if small { 18 } else { 28 })
            .y_label_area_size(if small { 30 } else { 60 })
            .build_cartesian_2d(from..to, 0..top)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(if small { 3 } else { 8 })
            .y_labels(if small { 4 } else { 8 })
            .x_label_formatter(&|t| axis_time(*t, span, config))
            .y_desc(y_desc)
            .label_style(("sans-serif", font).into_font().color(&INK))
            .axis_desc_style(("sans-serif", font).into_font().color(&INK))
            .axis_style(INK)
            .light_line_style(TRANSPARENT)
            .bold_line_style(INK.mix(0.15))
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(
                AreaSeries::new(points.iter().copied(), 0, BLUE.mix(0.18))
                    .border_style(BLUE.stroke_width(if small { 1 } else { 2 })),
            )
            .map_err(drawing)?;
        if let Some(q) = quota {
            chart
                .draw_series(DashedLineSeries::new(
                    [(from, q), (to, q)],
                    8,
                    4,
                    RED.stroke_width(2),
                ))
                .map_err(drawing)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("quota {q}"),
                    (from, q),
                    ("sans-serif", font)
                        .into_font()
                        .color(&RED)
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                )))
                .map_err(drawing)?;
        }
        if let Some((at, value)) = peak {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (at, value),
                    4,
                    ORANGE.filled(),
                )))
                .map_err(drawing)?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// Participant-hours per period as bars, sessions as a line on a second axis.
fn usage_chart(analysis: &Analysis) -> Result<String> {
    let usage = &analysis.rolled.tables.usage;
    let n = usage.len();
    let hours_of = |ms: i64| ms as f64 / 3_600_000.0;
    let top_hours = usage
        .iter()
        .map(|u| hours_of(u.participant_ms))
        .fold(0.0, f64::max)
        .max(0.01)
        * 1.1;
    let top_sessions = usage.iter().map(|u| u.sessions).max().unwrap_or(0).max(1) as f64 * 1.1;
    let labels: Vec<String> = usage.iter().map(|u| u.period.to_string()).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(60)
            .right_y_label_area_size(60)
            .build_cartesian_2d(segments(n), 0.0..top_hours)
            .map_err(drawing)?
            .set_secondary_coord(0.0..n as f64, 0.0..top_sessions);
        let label_every = n.div_ceil(10).max(1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if i.is_multiple_of(label_every) => {
                    labels.get(*i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_label_formatter(&|v| {
                if top_hours >= 100.0 {
                    grouped(v.round() as i64)
                } else {
                    format!("{v:.1}")
                }
            })
            .y_desc("participant-hours")
            .label_style(("sans-serif", 13).into_font().color(&INK))
            .axis_desc_style(("sans-serif", 13).into_font().color(&INK))
            .axis_style(INK)
            .light_line_style(TRANSPARENT)
            .bold_line_style(INK.mix(0.15))
            .draw()
            .map_err(drawing)?;
        chart
            .configure_secondary_axes()
            .y_label_formatter(&|v| {
                if top_sessions >= 10.0 {
                    grouped(v.round() as i64)
                } else {
                    format!("{v:.1}")
                }
            })
            .y_desc("sessions")
            .label_style(("sans-serif", 13).into_font().color(&INK))
            .axis_desc_style(("sans-serif", 13).into_font().color(&INK))
            .axis_style(INK)
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(usage.iter().enumerate().map(|(i, u)| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), hours_of(u.participant_ms)),
                    ],
                    TEAL.mix(0.75).filled(),
                );
                bar.set_margin(0, 0, 2, 2);
                bar
            }))
            .map_err(drawing)?;
        chart
            .draw_secondary_series(LineSeries::new(
                usage
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (i as f64 + 0.5, u.sessions as f64)),
                ORANGE.stroke_width(2),
            ))
            .map_err(drawing)?;
        if n <= 62 {
            chart
                .draw_secondary_series(usage.iter().enumerate().map(|(i, u)| {
                    Circle::new((i as f64 + 0.5, u.sessions as f64), 3, ORANGE.filled())
                }))
                .map_err(drawing)?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// `n` categories side by side (plotters' integer ranges include their end).
fn segments(n: usize) -> SegmentedCoord<RangedCoordusize> {
    (0..n.saturating_sub(1)).into_segmented()
}

/// A histogram of `counts` over the categories `labels`.
fn bar_chart(
    counts: &[i64],
    labels: &[String],
    x_desc: &str,
    y_desc: &str,
    color: RGBColor,
) -> Result<String> {
    let n = counts.len();
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    let top = top + (top / 10).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (520, 300)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(segments(n), 0..top)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if n <= 12 || i.is_multiple_of(2) => {
                    labels.get(*i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(("sans-serif", 11).into_font().color(&INK))
            .axis_desc_style(("sans-serif", 12).into_font().color(&INK))
            .axis_style(INK)
            .light_line_style(TRANSPARENT)
            .bold_line_style(INK.mix(0.15))
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &count)| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0),
                        (SegmentValue::Exact(i + 1), count),
                    ],
                    color.mix(0.8).filled(),
                );
                bar.set_margin(0, 0, 1, 1);
                bar
            }))
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// The points of a polyline that draws the step function `steps` (`(changed_at, value)`, the
/// value holding until the next step; 0 before the first) over `[from, to]` in `columns`
/// pixel columns.
///
/// With no more steps than columns, every step is drawn exactly. Otherwise each column
/// `[a, b)` becomes a vertical stroke at `a` from the value on entering it through its
/// highest and lowest values to the value on leaving it, so that no peak and no dip is lost,
/// and the polyline has at most 4 points per column.
pub fn step_polyline(
    steps: &[(Millis, i64)],
    from: Millis,
    to: Millis,
    columns: usize,
) -> Vec<(Millis, i64)> {
    let mut out: Vec<(Millis, i64)> = Vec::new();
    let mut push = |point: (Millis, i64)| {
        if out.last() != Some(&point) {
            out.push(point);
        }
    };
    let columns = columns.max(1);
    if steps.len() <= columns {
        let mut level = None;
        for &(at, value) in steps.iter().filter(|s| s.0 <= to) {
            if let Some(previous) = level {
                push((at.max(from), previous));
            }
            push((at.max(from), value));
            level = Some(value);
        }
        if let Some(level) = level {
            push((to, level));
        }
        return out;
    }
    let span = i128::from((to - from).max(1));
    let column_start = |c: usize| from + (span * c as i128 / columns as i128) as Millis;
    let mut next = 0;
    let mut level = 0;
    for c in 0..columns {
        let (a, b) = (column_start(c), column_start(c + 1));
        while next < steps.len() && steps[next].0 <= a {
            level = steps[next].1;
            next += 1;
        }
        let enter = level;
        let (mut low, mut high) = (level, level);
        while next < steps.len() && steps[next].0 < b {
            level = steps[next].1;
            low = low.min(level);
            high = high.max(level);
            next += 1;
        }
        for value in [enter, high, low, level] {
            push((a, value));
        }
    }
    let before_end = level;
    while next < steps.len() && steps[next].0 <= to {
        level = steps[next].1;
        next += 1;
    }
    push((to, before_end));
    push((to, level));
    out
}

/// An axis label: the local date, or date and time for spans under three days.
fn axis_time(at: Millis, span: Millis, config: &Config) -> String {
    let format = if span > 3 * 86_400_000 {
        "%m-%d"
    } else if span > 86_400_000 {
        "%m-%d %H:%M"
    } else {
        "%H:%M"
    };
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| {
            t.with_timezone(&config.calendar.zone)
                .format(format)
                .to_string()
        })
        .unwrap_or_default()
}

/// `2024-05-01 10:00:00 Asia/Kolkata` (UTC as the CSV writes it when the zone is UTC).
fn local_time(at: Millis, config: &Config) -> String {
    let zone = config.calendar.zone;
    if zone == chrono_tz::Tz::UTC {
        return to_rfc3339(at);
    }
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| {
            format!(
                "{} {}",
                t.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S"),
                zone.name()
            )
        })
        .unwrap_or_default()
}

fn room_label(room: Option<&str>) -> Markup {
    match room {
        Some(room) => html! { code { (room) } },
        None => html! { em { "no room" } },
    }
}

/// A room over every period.
struct RoomTotals<'a> {
    room_id: Option<&'a str>,
    sessions: i64,
    participant_ms: i64,
    duration_ms: i64,
    peak_concurrency: i64,
    first_start: Millis,
    last_end: Millis,
}

/// The rooms with the most participant time, over every period (ties by room id).
fn largest_rooms(rows: &[RoomRow]) -> Vec<RoomTotals<'_>> {
    let mut rooms: BTreeMap<Option<&str>, RoomTotals> = BTreeMap::new();
    for r in rows {
        let room_id = r.room_id.as_deref();
        let t = rooms.entry(room_id).or_insert(RoomTotals {
            room_id,
            sessions: 0,
            participant_ms: 0,
            duration_ms: 0,
            peak_concurrency: 0,
            first_start: r.first_start,
            last_end: r.last_end,
        });
        t.sessions += r.sessions;
        t.participant_ms = t.participant_ms.saturating_add(r.participant_ms);
        t.duration_ms = t.duration_ms.saturating_add(r.duration_ms);
        t.peak_concurrency = t.peak_concurrency.max(r.peak_concurrency);
        t.first_start = t.first_start.min(r.first_start);
        t.last_end = t.last_end.max(r.last_end);
    }
    let mut rooms: Vec<RoomTotals> = rooms.into_values().collect();
    // Stable: equal participant time keeps the room-id order of the map.
    rooms.sort_by_key(|r| std::cmp::Reverse(r.participant_ms));
    rooms.truncate(TOP);
    rooms
}

fn rooms_table(rows: &[RoomRow]) -> Markup {
    let rooms = largest_rooms(rows);
    html! {
        section {
            h2 { "The " (rooms.len()) " largest rooms" }
            p.lead { "By participant-hours over all periods (rooms, summed per room)." }
            table data-table="rooms" {
                thead { tr {
                    th { "Room" } th.num { "Sessions" } th.num { "Participant-hours" }
                    th.num { "Session hours" } th.num { "Largest peak" } th { "First start" } th { "Last end" }
                } }
                tbody {
                    @for r in &rooms {
                        tr {
                            td { (room_label(r.room_id)) }
                            td.num { (grouped(r.sessions)) }
                            td.num data-value=(r.participant_ms) { (hours(r.participant_ms)) }
                            td.num data-value=(r.duration_ms) { (hours(r.duration_ms)) }
                            td.num { (grouped(r.peak_concurrency)) }
                            td.time { (to_rfc3339(r.first_start)) }
                            td.time { (to_rfc3339(r.last_end)) }
                        }
                    }
                }
            }
        }
    }
}

/// A person over every period.
struct PersonTotals<'a> {
    participant_id: &'a str,
    name: Option<&'a str>,
    sessions: i64,
    present_sessions: i64,
    attended_ms: i64,
}

/// The people present in the most sessions, then with the most attended time, over every
/// period (ties by participant id).
fn most_present<'r>(rows: &'r [PersonRow<'_>]) -> Vec<PersonTotals<'r>> {
    let mut people: HashMap<&str, PersonTotals> = HashMap::new();
    // Rows come by period: the first name met is the first in session order.
    for p in rows {
        let t = people.entry(&*p.participant_id).or_insert(PersonTotals {
            participant_id: &p.participant_id,
            name: None,
            sessions: 0,
            present_sessions: 0,
            attended_ms: 0,
        });
        if t.name.is_none() {
            t.name = p.name.as_deref().filter(|n| !n.is_empty());
        }
        t.sessions += p.sessions;
        t.present_sessions += p.present_sessions;
        t.attended_ms = t.attended_ms.saturating_add(p.attended_ms);
    }
    let mut people: Vec<PersonTotals> = people.into_values().collect();
    people.sort_by(|a, b| {
        b.present_sessions
            .cmp(&a.present_sessions)
            .then(b.attended_ms.cmp(&a.attended_ms))
            .then_with(|| a.participant_id.as_bytes().cmp(b.participant_id.as_bytes()))
    });
    people.truncate(TOP);
    people
}

fn people_table(rows: &[PersonRow<'_>]) -> Markup {
    let people = most_present(rows);
    html! {
        section {
            h2 { "The " (people.len()) " most present people" }
            p.lead { "By sessions present in, then attended hours, over all periods (people, summed per participant)." }
            table data-table="people" {
                thead { tr {
                    th { "Participant" } th { "Name" } th.num { "Present in" }
                    th.num { "Sessions" } th.num { "Attended hours" }
                } }
                tbody {
                    @for p in &people {
                        tr {
                            td { code { (p.participant_id) } }
                            td { @if let Some(name) = p.name { (name) } @else { em { "no name" } } }
                            td.num { (grouped(p.present_sessions)) }
                            td.num { (grouped(p.sessions)) }
                            td.num data-value=(p.attended_ms) { (hours(p.attended_ms)) }
                        }
                    }
                }
            }
        }
    }
}

fn data_quality(analysis: &Analysis, context: &Context) -> Markup {
    let mut reasons: BTreeMap<String, i64> = BTreeMap::new();
    for reject in analysis.rejects.iter() {
        *reasons.entry(reject.reason.label().to_owned()).or_default() += 1;
    }
    let o = &analysis.rolled.overview;
    let skipped = &o.pairs_skipped_ids;
    let count = |name: &str, value: i64| metric(name, &value.to_string(), &grouped(value));
    html! {
        section data-section="data-quality" {
            h2 { "Data quality" }
            div.pair {
                table data-table="rejects-by-reason" {
                    caption { "Rejected inputs by reason (rejects)" }
                    thead { tr { th { "Reason" } th.num { "Inputs" } } }
                    tbody {
                        @for (reason, n) in &reasons {
                            tr { td { (reason) } td.num { (grouped(*n)) } }
                        }
                        @if reasons.is_empty() {
                            tr { td colspan="2" { em { "none" } } }
                        }
                    }
                }
                table data-table="quality" {
                    caption { "Counts of the sessions report and the run" }
                    tbody {
                        tr { td { "Invalid timelog entries (dropped)" } td.num { (count("invalid_intervals", o.invalid_intervals)) } }
                        tr { td { "Participant entries without id" } td.num { (count("invalid_participants", o.invalid_participants)) } }
                        tr { td { "Time clipped to session bounds" } td.num { (metric("clipped_ms", &o.clipped_ms.to_string(), &describe_duration(o.clipped_ms))) } }
                        tr { td { "Duplicate copies dropped" } td.num { (count("duplicates_dropped", analysis.duplicates_dropped as i64)) } }
                        tr {
                            td {
                                "Sessions whose pairs were skipped (too many participants)"
                                @if !skipped.is_empty() {
                                    br;
                                    @for (i, id) in skipped.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        code { (id) }
                                    }
                                    @if o.pairs_skipped > skipped.len() as i64 { " …" }
                                }
                            }
                            td.num { (count("pairs_skipped", o.pairs_skipped)) }
                        }
                        tr { td { "Files skipped (not .json, .ndjson, .jsonl or .gz)" } td.num { (grouped(context.files_skipped as i64)) } }
                    }
                }
            }
        }
    }
}

/// `12,345`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `1,234.57` hours from milliseconds.
fn hours(ms: i64) -> String {
    let hundredths = (ms as f64 / 36_000.0).round() as i64;
    format!(
        "{}.{:02}",
        grouped(hundredths / 100),
        (hundredths % 100).abs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The value of `steps` at `t` (0 before the first step).
    fn value_at(steps: &[(Millis, i64)], t: Millis) -> i64 {
        steps
            .iter()
            .take_while(|s| s.0 <= t)
            .last()
            .map_or(0, |s| s.1)
    }

    #[test]
    fn few_steps_are_drawn_exactly() {
        let steps = [(10, 1), (20, 3), (30, 0)];
        assert_eq!(
            step_polyline(&steps, 10, 30, 100),
            [(10, 1), (20, 1), (20, 3), (30, 3), (30, 0)]
        );
    }

    #[test]
    fn a_one_millisecond_peak_among_a_million_steps_survives() {
        let mut steps: Vec<(Millis, i64)> = (0..1_000_000).map(|i| (i * 10, i % 3)).collect();
        steps[777_777].1 = 99;
        steps.push((10_000_000, 0));
        let points = step_polyline(&steps, 0, 10_000_000, 900);
        assert!(points.len() <= 4 * 900 + 2, "{}", points.len());
        assert_eq!(points.iter().map(|p| p.1).max(), Some(99));
    }

    proptest! {
        #[test]
        fn reduction_keeps_every_columns_extremes(
            changes in proptest::collection::vec((1i64..50, 0i64..20), 1..400),
            columns in 1usize..60,
        ) {
            let mut at = 0;
            let mut steps = Vec::new();
            for (gap, value) in changes {
                steps.push((at, value));
                at += gap;
            }
            steps.push((at, 0));
            let (from, to) = (0, at);
            let points = step_polyline(&steps, from, to, columns);
            prop_assert!(points.len() <= 4 * columns.max(steps.len()) + 3);
            // The polyline reaches exactly the values the function takes, extremes included.
            let values: Vec<i64> = steps.iter().map(|s| s.1).collect();
            prop_assert_eq!(points.iter().map(|p| p.1).max(), values.iter().copied().max());
            prop_assert_eq!(points.iter().map(|p| p.1).min(), values.iter().copied().min());
            prop_assert!(points.iter().all(|p| values.contains(&p.1)));
            // Never out of the range, never backwards in time.
            prop_assert!(points.windows(2).all(|w| w[0].0 <= w[1].0));
            prop_assert!(points.iter().all(|p| p.0 >= from && p.0 <= to));
            // Each column's highest value is drawn in that column.
            if steps.len() > columns {
                let span = (to - from).max(1) as i128;
                for c in 0..columns {
                    let a = from + (span * c as i128 / columns as i128) as i64;
                    let b = from + (span * (c as i128 + 1) / columns as i128) as i64;
                    let high = (a..b.max(a + 1)).map(|t| value_at(&steps, t)).max().unwrap_or(0);
                    let drawn = points.iter().filter(|p| p.0 == a).map(|p| p.1).max();
                    prop_assert!(a == b || drawn == Some(high), "column {} [{}, {}): {:?} vs {}", c, a, b, drawn, high);
                }
            }
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-12), "-12");
        assert_eq!(grouped(0), "0");
        assert_eq!(hours(3_600_000 * 1234 + 2_052_000), "1,234.57");
        assert_eq!(describe_duration(3_723_004), "1h 02m 3.004s");
    }

    #[test]
    fn hostile_text_is_escaped_by_the_template() {
        let hostile = "<script>alert(1)</script>";
        let markup = html! { td { (hostile) } (room_label(Some(hostile))) };
        let text = markup.into_string();
        assert!(!text.contains("<script>"), "{text}");
        assert!(
            text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{text}"
        );
    }
}
