//! `axia chart`: candles and volume as a PNG, drawn by plotters with an embedded font (DejaVu
//! Sans): no system fonts, no C libraries.

use std::path::Path;

use anyhow::{Context, bail};
use axia_domain::{Instrument, OhlcvFrame};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

const UP: RGBColor = RGBColor(38, 166, 154);
const DOWN: RGBColor = RGBColor(239, 83, 80);

/// Draws `frame` into a PNG at `path`, `width` x `height` pixels: candles over an index axis
/// (one slot per bar, so weekends and holidays leave no gap) with UTC time labels, volume in a
/// pane below, prices at the instrument's precision. The forming bar, if any, is drawn hollow
/// and named in the caption.
pub(crate) fn render_png(
    frame: &OhlcvFrame,
    instrument: &Instrument,
    path: &Path,
    (width, height): (u32, u32),
) -> anyhow::Result<()> {
    check(frame, width, height)?;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    draw_chart(&root, frame, instrument, (width, height))?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// As [`render_png`], into RGB pixels in memory (3 bytes a pixel, rows top to bottom).
#[cfg(test)]
fn render_rgb(
    frame: &OhlcvFrame,
    instrument: &Instrument,
    (width, height): (u32, u32),
) -> anyhow::Result<Vec<u8>> {
    check(frame, width, height)?;
    let mut pixels = vec![0; usize::try_from(width * height * 3)?];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        draw_chart(&root, frame, instrument, (width, height))?;
        root.present().map_err(draw)?;
    }
    Ok(pixels)
}

/// Refuses what cannot be drawn, and loads the embedded font.
fn check(frame: &OhlcvFrame, width: u32, height: u32) -> anyhow::Result<()> {
    if frame.is_empty() {
        bail!("no bars to draw");
    }
    if width < 200 || height < 150 {
        bail!("a chart needs at least 200 x 150 pixels");
    }
    register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| anyhow::anyhow!("the embedded font does not load"))
}

fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    frame: &OhlcvFrame,
    instrument: &Instrument,
    (width, height): (u32, u32),
) -> anyhow::Result<()> {
    let bars: Vec<_> = frame.iter().collect();
    let n = bars.len();
    let decimals = usize::try_from(
        instrument.tick().shown_decimals(
            bars.iter()
                .flat_map(|b| [b.open(), b.high(), b.low(), b.close()]),
        ),
    )
    .unwrap_or(5);
    let (lo, hi) = bars
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), b| {
            (lo.min(b.low()), hi.max(b.high()))
        });
    let pad = ((hi - lo) * 0.05).max(instrument.tick().value().try_into().unwrap_or(1e-5));
    let max_volume = bars
        .iter()
        .map(|b| b.volume())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let forming = frame.forming_millis();
    let caption = format!(
        "{} {} · {} bars · {} to {} UTC{}",
        frame.symbol(),
        frame.timeframe(),
        n,
        label(bars.first().map(|b| b.time())),
        label(bars.last().map(|b| b.time())),
        if forming.is_some() {
            " · last bar forming"
        } else {
            ""
        },
    );

    root.fill(&WHITE).map_err(draw)?;
    // The label column fits the widest price or volume label as drawn (a coin at 8 decimals
    // near 90,000 is "90950.00000000"), so no label is cut at the image's edge; both panes
    // share it, so their index axes line up.
    let label_style: TextStyle = ("sans-serif", 12).into();
    let widest = [
        format!("{:.decimals$}", lo - pad),
        format!("{:.decimals$}", hi + pad),
        format!("{:.0}", max_volume * 1.05),
    ]
    .iter()
    .map(|t| {
        root.estimate_text_size(t, &label_style)
            .map_or(0, |(w, _)| w)
    })
    .max()
    .unwrap_or(0);
    let label_area = label_area(widest, width);
    let (upper, lower) = root.split_vertically(height * 3 / 4);
    let x_range = -0.5..(index(n) - 0.5);
    let time_of = |x: &f64| {
        let i = x.round();
        if i < 0.0 || i >= index(n) {
            return String::new();
        }
        // In range: 0 <= i < n.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = i as usize;
        label(bars.get(i).map(|b| b.time()))
    };
    let mut prices = ChartBuilder::on(&upper)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(0)
        .y_label_area_size(label_area)
        .build_cartesian_2d(x_range.clone(), (lo - pad)..(hi + pad))
        .map_err(draw)?;
    prices
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_label_formatter(&|y| format!("{y:.decimals$}"))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(draw)?;
    let plot_width = width.saturating_sub(label_area + 20);
    let candle = u32::try_from(usize::try_from(plot_width).unwrap_or(0) * 7 / (10 * n))
        .unwrap_or(1)
        .max(1);
    prices
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let hollow = Some(b.time_millis()) == forming;
            let (up, down) = if hollow {
                (UP.stroke_width(1), DOWN.stroke_width(1))
            } else {
                (UP.filled(), DOWN.filled())
            };
            CandleStick::new(
                index(i),
                b.open(),
                b.high(),
                b.low(),
                b.close(),
                up,
                down,
                candle,
            )
        }))
        .map_err(draw)?;

    let mut volume = ChartBuilder::on(&lower)
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(label_area)
        .build_cartesian_2d(x_range, 0.0..max_volume * 1.05)
        .map_err(draw)?;
    volume
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(6)
        .x_label_formatter(&time_of)
        .y_labels(3)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(draw)?;
    volume
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let colour = if b.close() >= b.open() { UP } else { DOWN };
            let x = index(i);
            Rectangle::new(
                [(x - 0.35, 0.0), (x + 0.35, b.volume())],
                colour.mix(0.6).filled(),
            )
        }))
        .map_err(draw)?;
    Ok(())
}

/// The width of the price and volume label column: the widest label, its tick mark and a
/// margin, at least 80 pixels, at most a third of the image.
fn label_area(widest_label: u32, width: u32) -> u32 {
    (widest_label + 16).max(80).min(width / 3)
}

/// A bar count or index as a coordinate (far below 2^52: exact).
#[allow(clippy::cast_precision_loss)]
fn index(i: usize) -> f64 {
    i as f64
}

fn label(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn draw<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axia_domain::{Bar, Symbol, Timeframe};
    use chrono::{Duration, TimeZone, Utc};

    fn frame(n: i64) -> OhlcvFrame {
        let start = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let bars: Vec<Bar> = (0..n)
            .map(|i| {
                let c = 150.0 + (i as f64 * 0.3).sin();
                let c = (c * 1000.0).round() / 1000.0;
                Bar::new(
                    start + Duration::hours(i),
                    c,
                    c + 0.2,
                    c - 0.2,
                    c,
                    100.0 + i as f64,
                )
                .unwrap()
            })
            .collect();
        OhlcvFrame::from_bars("USDJPY".parse::<Symbol>().unwrap(), Timeframe::H1, bars).unwrap()
    }

    #[test]
    fn draws_a_png_of_the_requested_size() {
        let dir = std::env::temp_dir().join(format!("axia-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.png");
        let instrument = Instrument::default_for(&"USDJPY".parse().unwrap());
        render_png(&frame(300), &instrument, &path, (1000, 600)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24.
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 1000);
        assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 600);
        assert!(
            bytes.len() > 10_000,
            "a drawn chart, not a blank image: {} bytes",
            bytes.len()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// `n` hourly bars of `symbol` around `level`, on its instrument's tick.
    fn frame_of(symbol: &str, level: f64, n: i64) -> (OhlcvFrame, Instrument) {
        let instrument = Instrument::default_for(&symbol.parse().unwrap());
        let tick = instrument.tick();
        let start = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let bars: Vec<Bar> = (0..n)
            .map(|i| {
                let c = tick
                    .quantize(level * (1.0 + 0.002 * (i as f64 * 0.3).sin()))
                    .unwrap();
                let h = tick.quantize(c * 1.0007).unwrap();
                let l = tick.quantize(c * 0.9993).unwrap();
                Bar::new(start + Duration::hours(i), c, h, l, c, 1e3 * level).unwrap()
            })
            .collect();
        let frame =
            OhlcvFrame::from_bars(symbol.parse::<Symbol>().unwrap(), Timeframe::H1, bars).unwrap();
        (frame, instrument)
    }

    #[test]
    fn no_label_is_cut_at_the_left_edge() {
        // Long labels: a coin at 8 decimals near 90,000, an index near 38,000, a yen pair, a
        // pair at 5 decimals, a penny-level coin; volumes up to tens of millions.
        for (symbol, level) in [
            ("BTC-USD", 90_950.0),
            ("^N225", 38_000.0),
            ("USDJPY", 150.0),
            ("EURUSD", 1.08),
            ("DOGE-USD", 0.123),
        ] {
            let (frame, instrument) = frame_of(symbol, level, 120);
            let (w, h) = (900, 500);
            let px = render_rgb(&frame, &instrument, (w, h)).unwrap();
            // The two leftmost columns stay white: a label wider than its column would be
            // drawn from x < 0 and show there.
            let dark: Vec<u32> = (0..h)
                .filter(|&y| {
                    (0..2).any(|x| {
                        let i = usize::try_from((y * w + x) * 3).unwrap();
                        px[i..i + 3].iter().any(|&c| c < 200)
                    })
                })
                .collect();
            assert!(
                dark.is_empty(),
                "{symbol}: ink at the left edge in rows {dark:?}"
            );
        }
    }

    #[test]
    fn nothing_to_draw_is_an_error() {
        let instrument = Instrument::default_for(&"USDJPY".parse().unwrap());
        let empty = OhlcvFrame::empty("USDJPY".parse().unwrap(), Timeframe::H1);
        let e = render_png(
            &empty,
            &instrument,
            Path::new("/nonexistent/x.png"),
            (800, 600),
        );
        assert!(e.unwrap_err().to_string().contains("no bars"));
        let e = render_png(
            &frame(3),
            &instrument,
            Path::new("/nonexistent/x.png"),
            (10, 10),
        );
        assert!(e.is_err());
    }
}
