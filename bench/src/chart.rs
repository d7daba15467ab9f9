//! `bench-results.svg`: the store-level ratios and the HTTP throughput of every server
//! (on a log scale: the servers span two orders of magnitude).
//! SVG, so that no system font library is needed (plotters' naive text layout).

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::http::Route;
use crate::report::Results;
use crate::servers::ServerKind;
use crate::store_level::Op;
use crate::subject::{Kind, Storage};

const SERIES_COLOURS: [RGBColor; 8] = [
    RGBColor(220, 50, 47),
    RGBColor(203, 75, 22),
    RGBColor(211, 54, 130),
    RGBColor(181, 137, 0),
    RGBColor(38, 139, 210),
    RGBColor(42, 161, 152),
    RGBColor(133, 153, 0),
    RGBColor(108, 113, 196),
];

pub fn draw(results: &Results, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1500, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let title =
        format!("libsqlstore benchmark ({} run): {}", results.mode, results.machine.describe());
    let root = root.titled(&title, ("sans-serif", 16)).map_err(plot_error)?;
    let panels = root.split_evenly((1, 3));
    store_panel(results, &panels[0])?;
    http_panel(results, Route::Get, &panels[1])?;
    http_panel(results, Route::Put, &panels[2])?;
    root.present().map_err(plot_error)?;
    Ok(())
}

/// Bars of component ÷ native ops/s, one group per operation, one bar per table.
fn store_panel(
    results: &Results,
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
) -> anyhow::Result<()> {
    let mut cases: Vec<(Storage, u64)> = results
        .store
        .iter()
        .filter(|r| r.kind == Kind::Native)
        .map(|r| (r.storage, r.sessions))
        .collect();
    cases.dedup();
    let per_group = cases.len().max(1);
    let slots = Op::ALL.len() * (per_group + 1);
    let top = results
        .store
        .iter()
        .filter_map(|r| results.store_ratio(r.storage, r.sessions, r.op))
        .fold(1.2_f64, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption("store level: component ÷ native ops/s", ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0..slots, 0.0..top * 1.05)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(Op::ALL.len())
        .x_label_formatter(&|slot| {
            Op::ALL.get(slot / (per_group + 1)).map(|op| op.label().to_owned()).unwrap_or_default()
        })
        .y_desc("ratio")
        .draw()
        .map_err(plot_error)?;
    for (c, &(storage, sessions)) in cases.iter().enumerate() {
        let colour = SERIES_COLOURS[c % SERIES_COLOURS.len()];
        let bars = Op::ALL.iter().enumerate().filter_map(|(g, &op)| {
            let ratio = results.store_ratio(storage, sessions, op)?;
            let x = g * (per_group + 1) + c;
            Some(Rectangle::new([(x, 0.0), (x + 1, ratio)], colour.filled()))
        });
        chart
            .draw_series(bars)
            .map_err(plot_error)?
            .label(format!("{} {}", storage.label(), sessions))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .draw_series(LineSeries::new([(0, 0.7), (slots, 0.7)], BLACK.stroke_width(1)))
        .map_err(plot_error)?
        .label("target 0.7")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 10, y)], BLACK));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

/// req/s against connections, one line per server.
fn http_panel(
    results: &Results,
    route: Route,
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
) -> anyhow::Result<()> {
    let mut connections: Vec<u32> = results.http.iter().map(|r| r.connections).collect();
    connections.sort_unstable();
    connections.dedup();
    let rates = || results.http.iter().filter(|r| r.route == route).map(|r| r.req_per_s.max(1.0));
    let top = rates().fold(10.0, f64::max);
    let bottom = rates().fold(top, f64::min);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("HTTP {} req/s (wrk, log scale)", route.path()), ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(55)
        .build_cartesian_2d(0..connections.len().max(1), (bottom / 2.0..top * 2.0).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_labels(connections.len().max(1))
        .x_label_formatter(&|i| {
            connections.get(*i).map(|c| format!("{c} conns")).unwrap_or_default()
        })
        .y_desc("req/s")
        .draw()
        .map_err(plot_error)?;
    for (s, kind) in ServerKind::ALL.into_iter().enumerate() {
        let colour = SERIES_COLOURS[s % SERIES_COLOURS.len()];
        let points: Vec<(usize, f64)> = connections
            .iter()
            .enumerate()
            .filter_map(|(i, &c)| {
                results
                    .http
                    .iter()
                    .find(|r| r.server == kind && r.route == route && r.connections == c)
                    .map(|r| (i, r.req_per_s.max(1.0)))
            })
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(plot_error)?
            .label(kind.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 12, y)], colour.stroke_width(2)));
        chart
            .draw_series(points.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the chart: {e:?}")
}
