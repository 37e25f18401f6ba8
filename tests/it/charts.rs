//! Charts: the SVG is parsed and its elements checked (labels, one line per environment in its palette
//! colour, the threshold at the right height, distinct markers), the PNG's header is read by hand.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use envparity::report::charts::{self, Chart, ChartError, Series, Threshold, Unit};
use roxmltree::{Document, Node};

const OKABE_ITO: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
];
/// The threshold line colour (charts.rs: neutral grey).
const THRESHOLD_GREY: &str = "#555555";
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// 2026-01-10 09:00 UTC plus `days`.
fn day(days: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_768_035_600, 0).expect("valid timestamp")
        + TimeDelta::days(days)
}

fn series(label: &str, values: &[f64]) -> Series {
    Series {
        label: label.to_string(),
        points: values
            .iter()
            .enumerate()
            .map(|(i, v)| (day(i as i64), *v))
            .collect(),
    }
}

fn memory_chart() -> Chart {
    Chart {
        title: "checkout: memory limit".to_string(),
        unit: Unit::Bytes,
        y_label: "memory limit".to_string(),
        series: vec![
            series("dev", &[0.5 * GIB, 0.5 * GIB, 0.75 * GIB, 0.75 * GIB, GIB]),
            series("staging", &[GIB, GIB, 1.5 * GIB, 1.5 * GIB, 2.0 * GIB]),
            series(
                "production",
                &[2.0 * GIB, 2.0 * GIB, 2.0 * GIB, 3.0 * GIB, 3.0 * GIB],
            ),
        ],
        thresholds: vec![Threshold {
            label: "4× limit-scale threshold".to_string(),
            value: 3.5 * GIB,
        }],
    }
}

fn parse(svg: &str) -> Document<'_> {
    Document::parse(svg).unwrap_or_else(|e| panic!("invalid SVG XML: {e}\n{svg}"))
}

fn elements<'a, 'i>(doc: &'a Document<'i>, tag: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants().filter(|n| n.has_tag_name(tag)).collect()
}

/// Every `<text>`'s content, trimmed (plotters wraps it in newlines).
fn texts(doc: &Document) -> Vec<String> {
    elements(doc, "text")
        .iter()
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn num(node: &Node, attr: &str) -> f64 {
    node.attribute(attr)
        .unwrap_or_else(|| panic!("<{}> without {attr}", node.tag_name().name()))
        .parse()
        .unwrap_or_else(|e| panic!("{attr} is not a number: {e}"))
}

fn points(node: &Node) -> Vec<(i32, i32)> {
    node.attribute("points")
        .expect("points")
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').expect("x,y");
            (x.parse().expect("x"), y.parse().expect("y"))
        })
        .collect()
}

fn polylines_in<'a, 'i>(doc: &'a Document<'i>, stroke: &str) -> Vec<Node<'a, 'i>> {
    elements(doc, "polyline")
        .into_iter()
        .filter(|n| n.attribute("stroke") == Some(stroke))
        .collect()
}

/// The value-axis ticks: right-aligned labels that parse as numbers once `suffix` is removed, as
/// (value, pixel y).
fn y_ticks(doc: &Document, suffix: &str) -> Vec<(f64, f64)> {
    elements(doc, "text")
        .iter()
        .filter(|n| n.attribute("text-anchor") == Some("end"))
        .filter_map(|n| {
            let text = n.text()?.trim();
            let value: f64 = text.strip_suffix(suffix)?.parse().ok()?;
            Some((value, num(n, "y")))
        })
        .collect()
}

/// Pixel y of `value` by linear interpolation between the first and last tick.
fn pixel_y(ticks: &[(f64, f64)], value: f64) -> f64 {
    assert!(ticks.len() >= 2, "need two ticks, got {ticks:?}");
    let (v0, y0) = ticks[0];
    let (v1, y1) = ticks[ticks.len() - 1];
    y0 + (value - v0) * (y1 - y0) / (v1 - v0)
}

#[test]
fn svg_has_title_unit_label_and_date_ticks() {
    let chart = memory_chart();
    let svg = charts::svg(&chart, 800, 400).expect("svg");
    let doc = parse(&svg);
    let texts = texts(&doc);

    assert!(texts.contains(&chart.title), "title missing: {texts:?}");
    assert!(
        texts.contains(&"memory limit (GiB)".to_string()),
        "y label: {texts:?}"
    );
    // The accessible <title> names the chart too.
    let title = elements(&doc, "title");
    assert_eq!(title.len(), 1);
    assert_eq!(title[0].text(), Some(chart.title.as_str()));

    // Date ticks: "%b %d" within one year, each a real date inside the data's range, left to right.
    let dates: Vec<(NaiveDate, f64)> = elements(&doc, "text")
        .iter()
        .filter_map(|n| {
            let text = n.text()?.trim();
            let date = NaiveDate::parse_from_str(&format!("2026 {text}"), "%Y %b %d").ok()?;
            Some((date, num(n, "x")))
        })
        .collect();
    assert!(dates.len() >= 3, "date ticks: {texts:?}");
    for pair in dates.windows(2) {
        assert!(
            pair[0].0 < pair[1].0 && pair[0].1 < pair[1].1,
            "ticks out of order: {dates:?}"
        );
    }
    let (first, last) = (day(0).date_naive(), day(4).date_naive());
    assert!(
        dates.iter().all(|(d, _)| (first..=last).contains(d)),
        "{dates:?}"
    );

    // GiB ticks on round numbers, starting at 0 (bytes include zero).
    let ticks = y_ticks(&doc, "");
    assert_eq!(ticks.first().map(|t| t.0), Some(0.0), "{ticks:?}");
    assert!(ticks.iter().any(|t| t.0 == 3.0), "{ticks:?}");
}

#[test]
fn svg_has_one_line_per_environment_in_palette_order_and_a_legend() {
    let chart = memory_chart();
    let doc_text = charts::svg(&chart, 800, 400).expect("svg");
    let doc = parse(&doc_text);

    for (i, series) in chart.series.iter().enumerate() {
        let lines: Vec<_> = polylines_in(&doc, OKABE_ITO[i])
            .into_iter()
            .filter(|n| points(n).len() == series.points.len())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "{}: lines in {}",
            series.label,
            OKABE_ITO[i]
        );
        let xs: Vec<i32> = points(&lines[0]).iter().map(|p| p.0).collect();
        assert!(
            xs.windows(2).all(|w| w[0] < w[1]),
            "line goes left to right: {xs:?}"
        );
    }
    // No fourth palette colour: three environments, three colours.
    assert!(!doc_text.contains(OKABE_ITO[3]));

    let texts = texts(&doc);
    for series in &chart.series {
        assert!(
            texts.contains(&series.label),
            "legend lacks {}: {texts:?}",
            series.label
        );
    }
}

#[test]
fn each_series_has_its_own_marker_shape() {
    let chart = Chart {
        series: (0..6)
            .map(|i| series(&format!("env{i}"), &[1.0, 2.0, 3.0]))
            .collect(),
        thresholds: vec![],
        unit: Unit::Count,
        ..memory_chart()
    };
    let doc_text = charts::svg(&chart, 800, 400).expect("svg");
    let doc = parse(&doc_text);

    // A marker's shape, independent of where it is: tag, fill or stroke, and the vertices relative to
    // their first one.
    let shape = |n: &Node| -> String {
        let tag = n.tag_name().name();
        let rel = |pts: Vec<(i32, i32)>| {
            let (x0, y0) = pts[0];
            format!(
                "{:?}",
                pts.iter()
                    .map(|(x, y)| (x - x0, y - y0))
                    .collect::<Vec<_>>()
            )
        };
        match tag {
            "circle" => format!(
                "circle r={} fill={}",
                num(n, "r"),
                n.attribute("fill") != Some("none")
            ),
            "polygon" => format!("polygon {}", rel(points(n))),
            _ => format!("line {}", rel(points(n))),
        }
    };
    let mut shapes = Vec::new();
    for (i, color) in OKABE_ITO.iter().enumerate().take(6) {
        let marker = doc
            .descendants()
            .find(|n| {
                (n.has_tag_name("circle")
                    && (n.attribute("fill") == Some(color) || n.attribute("stroke") == Some(color)))
                    || (n.has_tag_name("polygon") && n.attribute("fill") == Some(color))
                    || (n.has_tag_name("polyline")
                        && n.attribute("stroke") == Some(color)
                        && points(n).len() == 2)
            })
            .unwrap_or_else(|| panic!("no marker for series {i}"));
        shapes.push(shape(&marker));
    }
    let mut distinct = shapes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), shapes.len(), "markers repeat: {shapes:?}");
}

#[test]
fn threshold_is_a_dashed_line_at_its_value_with_a_legend_label() {
    let chart = Chart {
        title: "checkout: limit scale".to_string(),
        unit: Unit::Ratio,
        y_label: "largest ÷ smallest limit".to_string(),
        series: vec![series("memory", &[1.5, 2.0, 2.0, 3.0, 5.0])],
        thresholds: vec![Threshold {
            label: "4.5× alert".to_string(),
            value: 4.5,
        }],
    };
    let doc_text = charts::svg(&chart, 640, 320).expect("svg");
    let doc = parse(&doc_text);
    let texts = texts(&doc);
    assert!(
        texts.contains(&"4.5× alert".to_string()),
        "legend: {texts:?}"
    );
    assert!(
        texts.contains(&"largest ÷ smallest limit (×)".to_string()),
        "{texts:?}"
    );

    let ticks = y_ticks(&doc, "×");
    let expected_y = pixel_y(&ticks, 4.5);
    let dashes = polylines_in(&doc, THRESHOLD_GREY);
    // The plot's dashes sit at one height; the legend's dash sample sits lower, below the plot.
    let at_line: Vec<Vec<(i32, i32)>> = dashes
        .iter()
        .map(points)
        .filter(|p| {
            p.iter()
                .all(|&(_, y)| (f64::from(y) - expected_y).abs() <= 1.5)
        })
        .collect();
    assert!(
        at_line.len() >= 10,
        "threshold dashes at y≈{expected_y}: {at_line:?} (ticks {ticks:?})"
    );
    assert!(
        at_line.iter().all(|p| p.iter().all(|q| q.1 == p[0].1)),
        "horizontal"
    );

    // Dashed: the segments leave gaps, and together they span the plot's width.
    let mut segments: Vec<(i32, i32)> =
        at_line.iter().map(|p| (p[0].0, p[p.len() - 1].0)).collect();
    segments.sort();
    let span = segments[segments.len() - 1].1 - segments[0].0;
    let drawn: i32 = segments.iter().map(|(a, b)| b - a).sum();
    assert!(
        segments.windows(2).all(|w| w[1].0 > w[0].1),
        "dashes leave gaps: {segments:?}"
    );
    assert!(
        drawn < span * 9 / 10 && drawn > span / 3,
        "drawn {drawn} of {span}"
    );
    assert!(span > 640 / 2, "the line crosses the plot: {span}");
}

#[test]
fn svg_is_deterministic_self_contained_and_on_a_white_card() {
    let chart = memory_chart();
    let a = charts::svg(&chart, 720, 360).expect("svg");
    let b = charts::svg(&chart, 720, 360).expect("svg");
    assert_eq!(a, b);

    let doc = parse(&a);
    let root = doc.root_element();
    assert_eq!((num(&root, "width"), num(&root, "height")), (720.0, 360.0));
    // Nothing loads from elsewhere: no images, scripts, styles, links or URLs.
    for n in doc.descendants().filter(|n| n.is_element()) {
        let tag = n.tag_name().name();
        assert!(
            !["image", "script", "style", "a", "use", "foreignObject"].contains(&tag),
            "<{tag}>"
        );
        for attr in n.attributes() {
            let value = attr.value();
            assert!(!attr.name().contains("href"), "<{tag} {}>", attr.name());
            assert!(
                !value.contains("url(") && !value.contains("http"),
                "<{tag} {}={value}>",
                attr.name()
            );
        }
    }
    assert!(!a.contains("@import"));

    // The first thing drawn is an opaque white card covering everything: dark text reads on it in light
    // and dark pages alike.
    let card = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() != "svg" && n.tag_name().name() != "title")
        .expect("an element");
    assert!(card.has_tag_name("rect"));
    assert_eq!(card.attribute("fill"), Some("#FFFFFF"));
    assert_eq!(card.attribute("opacity"), Some("1"));
    assert_eq!((num(&card, "width"), num(&card, "height")), (720.0, 360.0));
    for text in elements(&doc, "text") {
        let fill = text.attribute("fill");
        assert!(
            matches!(fill, Some("#222222" | "#666666")),
            "dark text, got {fill:?}"
        );
    }
}

#[test]
fn empty_charts_say_so_without_axes() {
    let no_series = Chart {
        series: vec![],
        ..memory_chart()
    };
    let empty_series = Chart {
        series: vec![
            series("dev", &[]),
            series("staging", &[f64::NAN, f64::INFINITY]),
        ],
        ..memory_chart()
    };
    for chart in [no_series, empty_series] {
        let svg = charts::svg(&chart, 600, 300).expect("svg");
        let doc = parse(&svg);
        let texts = texts(&doc);
        assert!(texts.contains(&"no history yet".to_string()), "{texts:?}");
        assert!(texts.contains(&chart.title), "{texts:?}");
        assert!(elements(&doc, "polyline").is_empty(), "no axes, no lines");
        assert_eq!(
            svg,
            charts::svg(&chart, 600, 300).expect("svg"),
            "deterministic"
        );
        let png = charts::png(&chart, 600, 300).expect("png");
        assert_eq!(png_size(&png), (600, 300));
    }
}

#[test]
fn a_single_point_is_visible_inside_padded_ranges() {
    let chart = Chart {
        title: "one run".to_string(),
        unit: Unit::Cores,
        y_label: "cpu limit".to_string(),
        series: vec![series("dev", &[0.25])],
        thresholds: vec![],
    };
    let doc_text = charts::svg(&chart, 600, 300).expect("svg");
    let doc = parse(&doc_text);
    let texts = texts(&doc);
    assert!(
        texts.contains(&"cpu limit (millicores)".to_string()),
        "{texts:?}"
    );

    let ticks = y_ticks(&doc, "m");
    assert_eq!(
        ticks.first().map(|t| t.0),
        Some(0.0),
        "cores include zero: {ticks:?}"
    );
    let marker = elements(&doc, "circle")
        .into_iter()
        .find(|n| n.attribute("fill") == Some(OKABE_ITO[0]))
        .expect("a marker for the point");
    // x: ±1 day puts the point in the middle of the plot; y: strictly inside the axis, below the top.
    let (cx, cy) = (num(&marker, "cx"), num(&marker, "cy"));
    assert!((150.0..450.0).contains(&cx), "cx {cx}");
    let expected = pixel_y(&ticks, 250.0);
    assert!((cy - expected).abs() <= 1.5, "cy {cy}, expected {expected}");
    assert!(cy > 30.0, "not on the top edge: {cy}");
    // Dates of the padded day either side are labelled.
    assert!(texts.iter().any(|t| t == "Jan 11"), "{texts:?}");
}

#[test]
fn equal_values_get_a_padded_axis() {
    let chart = Chart {
        title: "flat".to_string(),
        unit: Unit::Ratio,
        y_label: "ratio".to_string(),
        series: vec![series("dev", &[2.0, 2.0, 2.0])],
        thresholds: vec![],
    };
    let doc_text = charts::svg(&chart, 600, 300).expect("svg");
    let doc = parse(&doc_text);
    let ticks = y_ticks(&doc, "×");
    assert!(ticks.len() >= 2, "{ticks:?}");
    assert!(
        ticks.iter().any(|t| t.0 < 2.0) && ticks.iter().any(|t| t.0 > 2.0),
        "{ticks:?}"
    );
    let line = polylines_in(&doc, OKABE_ITO[0])
        .into_iter()
        .find(|n| points(n).len() == 3)
        .expect("the line");
    let ys: Vec<i32> = points(&line).iter().map(|p| p.1).collect();
    assert!(ys.iter().all(|y| *y == ys[0]));
    assert!((f64::from(ys[0]) - pixel_y(&ticks, 2.0)).abs() <= 1.5);
}

#[test]
fn non_finite_values_are_skipped() {
    let chart = Chart {
        title: "gaps".to_string(),
        unit: Unit::Count,
        y_label: "replicas".to_string(),
        series: vec![
            series(
                "dev",
                &[1.0, f64::NAN, 2.0, f64::INFINITY, 3.0, f64::NEG_INFINITY],
            ),
            series("staging", &[f64::NAN]),
        ],
        thresholds: vec![Threshold {
            label: "broken".to_string(),
            value: f64::NAN,
        }],
    };
    let doc_text = charts::svg(&chart, 600, 300).expect("svg");
    let doc = parse(&doc_text);
    let lines: Vec<_> = polylines_in(&doc, OKABE_ITO[0])
        .into_iter()
        .filter(|n| points(n).len() == 3)
        .collect();
    assert_eq!(lines.len(), 1, "one line through the three finite points");
    let texts = texts(&doc);
    assert!(
        texts.contains(&"staging (no data)".to_string()),
        "{texts:?}"
    );
    assert!(
        !texts.contains(&"broken".to_string()),
        "a NaN threshold is not drawn"
    );
    assert!(
        texts.contains(&"replicas".to_string()),
        "a count has no unit: {texts:?}"
    );
    // Counts tick on whole numbers only.
    let ticks = y_ticks(&doc, "");
    assert!(
        ticks.len() >= 2 && ticks.iter().all(|t| t.0.fract() == 0.0),
        "{ticks:?}"
    );
    assert!(charts::png(&chart, 600, 300).is_ok());
}

#[test]
fn long_ranges_label_dates_with_the_year() {
    let chart = Chart {
        series: vec![Series {
            label: "production".to_string(),
            points: vec![(day(-400), 2.0 * GIB), (day(0), 3.0 * GIB)],
        }],
        ..memory_chart()
    };
    let doc_text = charts::svg(&chart, 800, 400).expect("svg");
    let doc = parse(&doc_text);
    let iso = texts(&doc)
        .iter()
        .filter(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok())
        .count();
    assert!(iso >= 2, "{:?}", texts(&doc));
}

#[test]
fn a_history_starting_on_new_year_keeps_short_dates() {
    // The padded axis starts on December 31st; the labels follow the data's year, not the padding's.
    let new_year = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).expect("2026-01-01");
    let chart = Chart {
        series: vec![Series {
            label: "dev".to_string(),
            points: (0..20)
                .map(|d| (new_year + TimeDelta::days(d), GIB))
                .collect(),
        }],
        ..memory_chart()
    };
    let doc_text = charts::svg(&chart, 800, 400).expect("svg");
    let texts = texts(&parse(&doc_text));
    assert!(texts.iter().any(|t| t == "Jan 01"), "{texts:?}");
    assert!(
        !texts
            .iter()
            .any(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok()),
        "{texts:?}"
    );
}

#[test]
fn megabytes_below_one_gib() {
    let chart = Chart {
        series: vec![series(
            "dev",
            &[256.0 * 1024.0 * 1024.0, 512.0 * 1024.0 * 1024.0],
        )],
        thresholds: vec![],
        ..memory_chart()
    };
    let doc_text = charts::svg(&chart, 600, 300).expect("svg");
    let doc = parse(&doc_text);
    assert!(texts(&doc).contains(&"memory limit (MiB)".to_string()));
    let ticks = y_ticks(&doc, "");
    // In MiB (not bytes, not GiB): round hundreds up to the 512 MiB point.
    assert!(
        ticks.iter().any(|t| t.0 >= 200.0),
        "ticks in MiB: {ticks:?}"
    );
    assert!(
        ticks.iter().all(|t| t.0 < 600.0 && t.0.fract() == 0.0),
        "ticks in MiB: {ticks:?}"
    );
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 33, "too short for a PNG");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "first chunk is IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    assert_eq!(be(&png[8..12]), 13, "IHDR length");
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn png_has_the_requested_size() {
    let png = charts::png(&memory_chart(), 640, 320).expect("png");
    assert_eq!(png_size(&png), (640, 320));
    assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND", "complete file");
    // Not a blank image: a chart with lines and text compresses to more than a white rectangle.
    assert!(png.len() > 5_000, "{} bytes", png.len());
}

#[test]
fn unusable_sizes_are_errors_not_panics() {
    for (w, h) in [(0, 0), (10, 10), (100_000, 300)] {
        match charts::svg(&memory_chart(), w, h) {
            Err(ChartError::Size { width, height, .. }) => assert_eq!((width, height), (w, h)),
            other => panic!("{w}x{h}: {other:?}"),
        }
        assert!(matches!(
            charts::png(&memory_chart(), w, h),
            Err(ChartError::Size { .. })
        ));
    }
}
