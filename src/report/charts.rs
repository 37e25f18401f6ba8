//! Time-series charts for the report site (SVG) and the weekly digest (PNG), drawn with plotters.
//!
//! One [`Chart`] value renders to both formats through the same drawing code, so the site and the email
//! show the same picture. Choices that hold for every chart:
//!
//! - **Background**: an opaque white card with dark text. A transparent chart would need colours that read
//!   on both light and dark pages, which the yellow and black of the palette cannot; a white card reads
//!   the same in light and dark mode and in every mail client.
//! - **Colours**: the Okabe–Ito palette in series order, and a different marker shape per series
//!   (filled circle, triangle, square, diamond, ×, inverted triangle, +, open circle), so the series stay
//!   apart without colour and in greyscale print. Past eight series both cycle together.
//! - **Thresholds**: grey dashed horizontal lines across the whole time range, named in the legend (a
//!   different dash pattern per threshold).
//! - **Legend**: below the plot, wrapped into rows, so it never hides data.
//! - **Time axis**: ticks on UTC midnights, labelled `%b %d` when the data lies within one calendar year,
//!   `%Y-%m-%d` otherwise. The range is at least two days wide, so a single point sits in the middle of a
//!   readable axis.
//! - **Value axis**: values are drawn in display units (GiB or MiB for bytes, cores or millicores for CPU),
//!   so ticks fall on round numbers of the unit named in the axis label. It includes 0 for bytes, cores
//!   and counts, and every threshold.
//! - **No data**: a chart whose series hold no finite point draws its title and a centred "no history yet"
//!   instead of axes: there is no time range to show, and inventing one from the clock would break
//!   determinism.
//! - **Font**: DejaVu Sans is embedded in the binary and registered with plotters once; nothing looks up
//!   system fonts. The SVG names it as `DejaVu Sans, sans-serif` (text stays text, and the layout was
//!   measured with DejaVu's metrics, which are wider than most fallbacks), and references nothing outside
//!   itself.
//!
//! The same [`Chart`] always gives the same SVG bytes: nothing reads the clock, the environment or a map
//! with random iteration order.

use std::ops::Range;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The embedded font (DejaVu Sans, Bitstream Vera licence in `assets/fonts/`).
static FONT_BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));

/// The family every text uses. It is registered under this exact name, and the SVG backend writes the
/// name into `font-family`, where it reads as a CSS list with a generic fallback.
const FAMILY: &str = "DejaVu Sans, sans-serif";

/// Okabe–Ito, in the order series take them.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x00, 0x00, 0x00),
];
const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
const AXIS: RGBColor = RGBColor(0x44, 0x44, 0x44);
const GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
const THRESHOLD: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Dash length and gap, in pixels, per threshold (cycled).
const DASHES: [(i32, i32); 3] = [(8, 5), (3, 4), (14, 5)];

/// Sizes outside these bounds are refused: too small and plotters' layout has no room (its areas would
/// go negative), too large and the bitmap buffer alone is hundreds of megabytes.
const MIN_SIZE: (u32, u32) = (240, 160);
const MAX_SIZE: (u32, u32) = (4096, 4096);
/// Scaled values beyond this are not plottable (plotters' tick search misbehaves near `f64::MAX`); no
/// real memory, CPU, ratio or replica value comes near it.
const MAX_ABS_VALUE: f64 = 1e15;

const TITLE_PX: f64 = 18.0;
const LABEL_PX: f64 = 13.0;
const LEGEND_PX: f64 = 13.0;
const LEGEND_ROW: i32 = 20;
const LEGEND_SWATCH: i32 = 28;
const MARGIN: i32 = 12;

/// What the values of a chart measure (decides axis label units and tick formatting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes. Drawn in GiB when the largest value (or threshold) reaches 1 GiB, else in MiB; the axis label
    /// names which.
    Bytes,
    /// CPU cores. Drawn in cores, or in millicores (ticks like `250m`) when every value and threshold is
    /// below one core.
    Cores,
    /// A dimensionless ratio, ticks like `4×`.
    Ratio,
    /// A count such as replicas: integer ticks, no unit in the label.
    Count,
}

/// One line of a chart: one environment's values over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The environment name, shown in the legend.
    pub label: String,
    /// The values, sorted by time, in the chart's [`Unit`] (bytes, cores, …). Non-finite values are
    /// skipped.
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// A horizontal reference line, e.g. the limit-scale rule's tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The legend text, e.g. "4× limit-scale threshold".
    pub label: String,
    /// Where the line is, in the chart's [`Unit`]. A non-finite value draws nothing.
    pub value: f64,
}

/// A time-series chart: what to draw, independent of the output format.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Shown above the plot.
    pub title: String,
    /// What the values measure.
    pub unit: Unit,
    /// The value axis label without unit, e.g. "memory limit"; the unit is appended ("memory limit (GiB)").
    pub y_label: String,
    /// One series per environment, in the order they take colours and markers.
    pub series: Vec<Series>,
    /// Reference lines.
    pub thresholds: Vec<Threshold>,
}

/// Why a chart could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The requested image size is outside what the charts support.
    #[error(
        "chart {chart:?}: size {width}x{height} is outside {}x{} ..= {}x{}",
        MIN_SIZE.0, MIN_SIZE.1, MAX_SIZE.0, MAX_SIZE.1
    )]
    Size {
        /// The chart title.
        chart: String,
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
    },
    /// The embedded font could not be registered with plotters.
    #[error("the embedded chart font could not be loaded")]
    Font,
    /// The time range cannot be padded without leaving chrono's date range.
    #[error("chart {chart:?}: time range {start} .. {end} is out of the drawable range")]
    TimeRange {
        /// The chart title.
        chart: String,
        /// Earliest point.
        start: DateTime<Utc>,
        /// Latest point.
        end: DateTime<Utc>,
    },
    /// Plotters failed while drawing.
    #[error("chart {chart:?}: drawing failed: {reason}")]
    Draw {
        /// The chart title.
        chart: String,
        /// The plotters error.
        reason: String,
    },
    /// The bitmap could not be encoded as PNG.
    #[error("chart {chart:?}: PNG encoding failed: {reason}")]
    Encode {
        /// The chart title.
        chart: String,
        /// The underlying error.
        reason: String,
    },
}

/// The chart as a standalone SVG document (for the site). Deterministic: the same Chart gives the same
/// bytes.
pub fn svg(chart: &Chart, width: u32, height: u32) -> Result<String, ChartError> {
    check_size(chart, width, height)?;
    ensure_font()?;
    let prepared = prepare(chart)?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&root, chart, prepared.as_ref()).map_err(|e| draw_error(chart, e))?;
        root.present().map_err(|e| draw_error(chart, e))?;
    }
    Ok(with_svg_title(out, &chart.title))
}

/// The chart as a PNG image (for email), drawn with the embedded font.
pub fn png(chart: &Chart, width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    check_size(chart, width, height)?;
    ensure_font()?;
    let prepared = prepare(chart)?;
    // plotters-bitmap encodes PNG only when saving to a path (its `image` dependency is not re-exported),
    // so the image takes a short trip through a private temporary directory.
    let encode = |reason: String| ChartError::Encode {
        chart: chart.title.clone(),
        reason,
    };
    let dir = tempfile::tempdir().map_err(|e| encode(format!("temporary directory: {e}")))?;
    let path = dir.path().join("chart.png");
    {
        let root = BitMapBackend::new(&path, (width, height)).into_drawing_area();
        draw(&root, chart, prepared.as_ref()).map_err(|e| draw_error(chart, e))?;
        root.present().map_err(|e| encode(e.to_string()))?;
    }
    std::fs::read(&path).map_err(|e| encode(format!("reading {}: {e}", path.display())))
}

fn check_size(chart: &Chart, width: u32, height: u32) -> Result<(), ChartError> {
    if (MIN_SIZE.0..=MAX_SIZE.0).contains(&width) && (MIN_SIZE.1..=MAX_SIZE.1).contains(&height) {
        Ok(())
    } else {
        Err(ChartError::Size {
            chart: chart.title.clone(),
            width,
            height,
        })
    }
}

fn draw_error<E: std::error::Error + Send + Sync>(
    chart: &Chart,
    e: DrawingAreaErrorKind<E>,
) -> ChartError {
    ChartError::Draw {
        chart: chart.title.clone(),
        reason: e.to_string(),
    }
}

/// Registers the embedded font once per process. Also under plotters' generic `sans-serif`, which its
/// mesh code names as a default before our styles override it.
fn ensure_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
            && register_font("sans-serif", FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok { Ok(()) } else { Err(ChartError::Font) }
}

/// Adds an accessible `<title>` as the first child of the root element (browsers show it as a tooltip
/// and screen readers announce it).
fn with_svg_title(svg: String, title: &str) -> String {
    let Some(root_end) = svg.find(">\n") else {
        return svg;
    };
    let mut out = String::with_capacity(svg.len() + title.len() + 16);
    out.push_str(&svg[..root_end + 2]);
    out.push_str("<title>");
    for c in title.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            other => out.push(other),
        }
    }
    out.push_str("</title>\n");
    out.push_str(&svg[root_end + 2..]);
    out
}

/// How values are shown on the value axis.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scale {
    /// Raw values are divided by this before drawing.
    divisor: f64,
    /// Appended to the axis label in parentheses, if any.
    axis_unit: Option<&'static str>,
    /// Appended to each tick label.
    tick_suffix: &'static str,
    /// Ticks only on integers.
    integer: bool,
}

impl Scale {
    fn pick(unit: Unit, max_abs: f64) -> Scale {
        const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
        const MIB: f64 = 1024.0 * 1024.0;
        let plain = Scale {
            divisor: 1.0,
            axis_unit: None,
            tick_suffix: "",
            integer: false,
        };
        match unit {
            Unit::Bytes if max_abs >= GIB => Scale {
                divisor: GIB,
                axis_unit: Some("GiB"),
                ..plain
            },
            Unit::Bytes => Scale {
                divisor: MIB,
                axis_unit: Some("MiB"),
                ..plain
            },
            Unit::Cores if max_abs < 1.0 => Scale {
                divisor: 0.001,
                axis_unit: Some("millicores"),
                tick_suffix: "m",
                ..plain
            },
            Unit::Cores => Scale {
                axis_unit: Some("cores"),
                ..plain
            },
            Unit::Ratio => Scale {
                axis_unit: Some("×"),
                tick_suffix: "×",
                ..plain
            },
            Unit::Count => Scale {
                integer: true,
                ..plain
            },
        }
    }

    fn tick(&self, v: f64) -> String {
        format!("{}{}", format_number(v, self.integer), self.tick_suffix)
    }
}

/// A short decimal: at most three decimals, trailing zeros dropped, no `-0`.
fn format_number(v: f64, integer: bool) -> String {
    let text = if integer {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if text == "-0" { "0".to_string() } else { text }
}

/// The chart's data after cleaning and scaling, and the ranges that show all of it.
struct Prepared {
    /// Per input series (same order), the finite points in display units.
    series: Vec<Vec<(DateTime<Utc>, f64)>>,
    /// Finite thresholds in display units, with their index in the input (for the dash pattern).
    thresholds: Vec<(usize, f64)>,
    /// The first and last point's times.
    data_span: (DateTime<Utc>, DateTime<Utc>),
    x: Range<DateTime<Utc>>,
    y: Range<f64>,
    scale: Scale,
}

/// Cleans and scales the data. `None` when no series has a plottable point.
fn prepare(chart: &Chart) -> Result<Option<Prepared>, ChartError> {
    let raw_values = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(chart.thresholds.iter().map(|t| t.value))
        .filter(|v| v.is_finite());
    let max_abs = raw_values.fold(0.0_f64, |m, v| m.max(v.abs()));
    let scale = Scale::pick(chart.unit, max_abs);
    let shown = |v: f64| {
        let v = v / scale.divisor;
        (v.is_finite() && v.abs() <= MAX_ABS_VALUE).then_some(v)
    };

    let series: Vec<Vec<(DateTime<Utc>, f64)>> = chart
        .series
        .iter()
        .map(|s| {
            let mut points: Vec<_> = s
                .points
                .iter()
                .filter_map(|&(t, v)| shown(v).map(|v| (t, v)))
                .collect();
            // Documented as sorted; a stable sort keeps a sorted input as it is and makes an unsorted
            // one draw a line rather than a scribble.
            points.sort_by_key(|p| p.0);
            points
        })
        .collect();
    let thresholds: Vec<(usize, f64)> = chart
        .thresholds
        .iter()
        .enumerate()
        .filter_map(|(i, t)| shown(t.value).map(|v| (i, v)))
        .collect();

    let mut times = series.iter().flatten().map(|p| p.0);
    let Some(first) = times.next() else {
        return Ok(None);
    };
    let (t_min, t_max) = times.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let x = time_range(t_min, t_max).ok_or_else(|| ChartError::TimeRange {
        chart: chart.title.clone(),
        start: t_min,
        end: t_max,
    })?;

    let values = series
        .iter()
        .flatten()
        .map(|p| p.1)
        .chain(thresholds.iter().map(|t| t.1));
    let include_zero = matches!(chart.unit, Unit::Bytes | Unit::Cores | Unit::Count);
    let y = value_range(values, include_zero);

    Ok(Some(Prepared {
        series,
        thresholds,
        data_span: (t_min, t_max),
        x,
        y,
        scale,
    }))
}

/// The time axis: at least two days wide (±1 day around a lone point), with a little room on both sides
/// so edge markers are not cut. `None` when padding leaves chrono's range.
fn time_range(lo: DateTime<Utc>, hi: DateTime<Utc>) -> Option<Range<DateTime<Utc>>> {
    let span = hi - lo;
    let pad = if span < TimeDelta::days(2) {
        TimeDelta::days(1)
    } else {
        span / 40
    };
    Some(lo.checked_sub_signed(pad)?..hi.checked_add_signed(pad)?)
}

/// The value axis: covers every value (and 0 when asked), never empty.
fn value_range(values: impl Iterator<Item = f64>, include_zero: bool) -> Range<f64> {
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        // Only thresholds were non-finite and no values: cannot happen with data, but stay sane.
        (lo, hi) = (0.0, 1.0);
    }
    let non_negative = lo >= 0.0;
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let magnitude = lo.abs().max(hi.abs());
    if hi - lo <= magnitude * 1e-9 {
        // All values equal: ±10%, or ±1 around 0.
        let pad = if magnitude == 0.0 {
            1.0
        } else {
            magnitude * 0.1
        };
        lo -= pad;
        hi += pad;
    } else {
        let pad = (hi - lo) * 0.1;
        hi += pad;
        if !(include_zero && lo == 0.0) {
            lo -= pad;
        }
    }
    if include_zero && non_negative {
        lo = lo.max(0.0);
    }
    lo..hi
}

fn font(px: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), px, FontStyle::Normal)
}

fn text_style(px: f64, color: &'static RGBColor) -> TextStyle<'static> {
    font(px).color(color)
}

/// Draws the whole chart on `root`, whatever the backend.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    prepared: Option<&Prepared>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let Some(data) = prepared else {
        return draw_empty(root, chart);
    };
    let (width, height) = root.dim_in_pixel();

    let legend = legend_items(chart, data);
    let rows = layout_legend(root, &legend, width as i32 - 2 * MARGIN)?;
    let legend_rows = rows.iter().map(|r| r.1).max().map_or(0, |r| r + 1);
    let legend_height = legend_rows * LEGEND_ROW + if legend_rows > 0 { MARGIN } else { 0 };
    let (plot_area, legend_area) = root.split_vertically(height as i32 - legend_height);

    let tick_text = |v: &f64| data.scale.tick(*v);
    let y_desc = match data.scale.axis_unit {
        Some(unit) => format!("{} ({unit})", chart.y_label),
        None => chart.y_label.clone(),
    };
    // Room for the widest tick label (the ticks are not known before the chart is built; the ends and
    // the middle of the range have the most digits), the rotated axis label and the tick marks.
    let widest_tick = [data.y.start, data.y.end, (data.y.start + data.y.end) / 2.0]
        .iter()
        .map(|v| root.estimate_text_size(&tick_text(v), &text_style(LABEL_PX, &TEXT)))
        .try_fold(0, |w, size| size.map(|(tw, _)| w.max(tw)))?;
    let y_area = (widest_tick + LABEL_PX as u32 + 24).clamp(40, 160);

    let mut ctx = ChartBuilder::on(&plot_area)
        .caption(&chart.title, text_style(TITLE_PX, &TEXT))
        .margin(MARGIN)
        .margin_right(2 * MARGIN)
        .x_label_area_size(2 * LABEL_PX as u32 + 4)
        .y_label_area_size(y_area)
        .build_cartesian_2d(data.x.clone(), data.y.clone())?;

    let plot_px = ctx.plotting_area().dim_in_pixel();
    // The data's years, not the padded axis's: a history starting on January 1st is still one year.
    let same_year = data.data_span.0.year() == data.data_span.1.year();
    let (date_format, px_per_date) = if same_year {
        ("%b %d", 70)
    } else {
        ("%Y-%m-%d", 100)
    };
    // Never ask for more ticks than whole days: plotters then puts every tick on a midnight, so a
    // date-only label never repeats.
    let days = (data.x.end - data.x.start).num_days().max(1) as usize;
    let x_ticks = (plot_px.0 as usize / px_per_date).clamp(2, 12).min(days);
    let mut y_ticks = (plot_px.1 as usize / 45).clamp(3, 10);
    if data.scale.integer {
        // With no more ticks than integers in the range, plotters' 1-2-5 steps are whole numbers.
        y_ticks = y_ticks
            .min((data.y.end - data.y.start).floor() as usize + 1)
            .max(2);
    }
    let date_text = |t: &DateTime<Utc>| t.format(date_format).to_string();

    ctx.configure_mesh()
        .x_labels(x_ticks)
        .y_labels(y_ticks)
        .x_label_formatter(&date_text)
        .y_label_formatter(&tick_text)
        .y_desc(y_desc)
        .label_style(text_style(LABEL_PX, &TEXT))
        .axis_desc_style(text_style(LABEL_PX, &TEXT))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .draw()?;

    for &(index, value) in &data.thresholds {
        let (dash, gap) = DASHES[index % DASHES.len()];
        ctx.draw_series(DashedLineSeries::new(
            [(data.x.start, value), (data.x.end, value)],
            dash,
            gap,
            THRESHOLD.stroke_width(2),
        ))?;
    }

    for (index, points) in data.series.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        if points.len() > 1 {
            ctx.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?;
        }
        // Drawn one by one: `draw_series` wants elements that outlive every borrow, which a boxed marker
        // over a borrowing backend cannot. A long history gets a marker every few points (always the
        // first and the last): enough to tell the series apart, without a marker per daily run.
        let step = points.len().div_ceil(MAX_MARKERS).max(1);
        for (i, &point) in points.iter().enumerate() {
            if i % step == 0 || i + 1 == points.len() {
                ctx.plotting_area().draw(&marker(index, point))?;
            }
        }
    }

    draw_legend(&legend_area, &legend, &rows)
}

fn draw_empty<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (width, height) = root.dim_in_pixel();
    let style = text_style(TITLE_PX, &TEXT).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(&chart.title, &style, (width as i32 / 2, MARGIN))?;
    let style = text_style(LABEL_PX + 2.0, &MUTED).pos(Pos::new(HPos::Center, VPos::Center));
    root.draw_text(
        "no history yet",
        &style,
        (width as i32 / 2, height as i32 / 2),
    )
}

/// Markers drawn per series at most (plus the last point).
const MAX_MARKERS: usize = 48;

/// The point marker of series `index`, centred on `at`: a different shape per series.
fn marker<'a, DB: DrawingBackend + 'a, C: Clone + 'a>(
    index: usize,
    at: C,
) -> DynElement<'a, DB, C> {
    let color = PALETTE[index % PALETTE.len()];
    let fill = color.filled();
    let line = color.stroke_width(2);
    let base = EmptyElement::at(at);
    match index % 8 {
        0 => (base + Circle::new((0, 0), 4, fill)).into_dyn(),
        1 => (base + Polygon::new(vec![(0, -5), (5, 4), (-5, 4)], fill)).into_dyn(),
        2 => (base + Polygon::new(vec![(-4, -4), (4, -4), (4, 4), (-4, 4)], fill)).into_dyn(),
        3 => (base + Polygon::new(vec![(0, -5), (5, 0), (0, 5), (-5, 0)], fill)).into_dyn(),
        4 => (base
            + PathElement::new(vec![(-4, -4), (4, 4)], line)
            + PathElement::new(vec![(-4, 4), (4, -4)], line))
        .into_dyn(),
        5 => (base + Polygon::new(vec![(0, 5), (5, -4), (-5, -4)], fill)).into_dyn(),
        6 => (base
            + PathElement::new(vec![(-5, 0), (5, 0)], line)
            + PathElement::new(vec![(0, -5), (0, 5)], line))
        .into_dyn(),
        _ => (base + Circle::new((0, 0), 4, line)).into_dyn(),
    }
}

/// What a legend entry shows next to its text.
enum Swatch {
    /// Series `index`: its colour line and marker.
    Series(usize),
    /// Threshold `index`: its dash pattern.
    Threshold(usize),
}

fn legend_items(chart: &Chart, data: &Prepared) -> Vec<(Swatch, String)> {
    let series = chart
        .series
        .iter()
        .zip(&data.series)
        .enumerate()
        .map(|(i, (s, points))| {
            let label = if points.is_empty() {
                format!("{} (no data)", s.label)
            } else {
                s.label.clone()
            };
            (Swatch::Series(i), label)
        });
    let thresholds = data
        .thresholds
        .iter()
        .map(|&(i, _)| (Swatch::Threshold(i), chart.thresholds[i].label.clone()));
    series.chain(thresholds).collect()
}

/// Places legend entries left to right, wrapping at `width`: (x offset, row) per entry.
fn layout_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    items: &[(Swatch, String)],
    width: i32,
) -> Result<Vec<(i32, i32)>, DrawingAreaErrorKind<DB::ErrorType>> {
    let style = text_style(LEGEND_PX, &TEXT);
    let mut placed = Vec::with_capacity(items.len());
    let (mut x, mut row) = (0, 0);
    for (_, label) in items {
        let (text_w, _) = root.estimate_text_size(label, &style)?;
        let item_w = LEGEND_SWATCH + 6 + text_w as i32 + 18;
        if x > 0 && x + item_w > width {
            x = 0;
            row += 1;
        }
        placed.push((x, row));
        x += item_w;
    }
    Ok(placed)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(Swatch, String)],
    placed: &[(i32, i32)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = text_style(LEGEND_PX, &TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    for ((swatch, label), &(x, row)) in items.iter().zip(placed) {
        let (x, y) = (MARGIN + x, row * LEGEND_ROW + LEGEND_ROW / 2);
        match *swatch {
            Swatch::Series(index) => {
                let color = PALETTE[index % PALETTE.len()];
                area.draw(&PathElement::new(
                    vec![(x, y), (x + LEGEND_SWATCH, y)],
                    color.stroke_width(2),
                ))?;
                area.draw(&marker(index, (x + LEGEND_SWATCH / 2, y)))?;
            }
            Swatch::Threshold(index) => {
                let (dash, gap) = DASHES[index % DASHES.len()];
                area.draw(&DashedPathElement::new(
                    vec![(x, y), (x + LEGEND_SWATCH, y)],
                    dash,
                    gap,
                    THRESHOLD.stroke_width(2),
                ))?;
            }
        }
        area.draw_text(label, &style, (x + LEGEND_SWATCH + 6, y))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_picks_units_from_the_data() {
        let gib = 1024.0 * 1024.0 * 1024.0;
        assert_eq!(Scale::pick(Unit::Bytes, 2.0 * gib).axis_unit, Some("GiB"));
        assert_eq!(
            Scale::pick(Unit::Bytes, 512.0 * 1024.0 * 1024.0).axis_unit,
            Some("MiB")
        );
        assert_eq!(Scale::pick(Unit::Cores, 0.5).tick(250.0), "250m");
        assert_eq!(Scale::pick(Unit::Cores, 2.0).tick(1.5), "1.5");
        assert_eq!(Scale::pick(Unit::Ratio, 4.0).tick(4.0), "4×");
        assert_eq!(Scale::pick(Unit::Count, 3.0).tick(3.0), "3");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(format_number(0.25, false), "0.25");
        assert_eq!(format_number(2.0, false), "2");
        assert_eq!(format_number(-0.0001, false), "0");
        assert_eq!(format_number(1.0 / 3.0, false), "0.333");
    }

    #[test]
    fn value_range_pads_and_includes_zero() {
        assert_eq!(value_range([5.0, 5.0].into_iter(), false), 4.5..5.5);
        assert_eq!(value_range([0.0].into_iter(), true), 0.0..1.0);
        assert_eq!(value_range([0.0].into_iter(), false), -1.0..1.0);
        let r = value_range([2.0, 4.0].into_iter(), true);
        assert_eq!(r.start, 0.0);
        assert!(r.end > 4.0);
        let r = value_range([-2.0, 4.0].into_iter(), true);
        assert!(r.start < -2.0);
    }

    #[test]
    fn time_range_is_at_least_two_days() {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("valid timestamp");
        let r = time_range(t, t).expect("in range");
        assert_eq!(r.end - r.start, TimeDelta::days(2));
        assert!(time_range(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC).is_none());
    }
}
