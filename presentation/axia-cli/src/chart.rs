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
    if frame.is_empty() {
        bail!("no bars to draw");
    }
    if width < 200 || height < 150 {
        bail!("a chart needs at least 200 x 150 pixels");
    }
    register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| anyhow::anyhow!("the embedded font does not load"))?;
    let bars: Vec<_> = frame.iter().collect();
    let n = bars.len();
    let decimals = usize::try_from(instrument.price_decimals()).unwrap_or(5);
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

    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw)?;
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
        .y_label_area_size(80)
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
    let plot_width = width.saturating_sub(100);
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
        .y_label_area_size(80)
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
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
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
