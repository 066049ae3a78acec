//! Expansion of the axes into cells: grid (cartesian) x zip x random draws x seeds.

use super::axes::{Axis, SweepAxes};
use super::locate::Locator;
use super::{Cell, DecodeError, SpecError, canonical, toml_to_json};
use crate::trainer::DynTrainer;
use std::collections::BTreeMap;
use toml::Spanned;

/// One point of the sweep: for each axis, the index of its value.
type Point<'a> = Vec<(&'a Axis, usize)>;

/// The sweep's points, seeds not included, in expansion order.
fn points(axes: &SweepAxes) -> Vec<Point<'_>> {
    let mut points: Vec<Point> = vec![Vec::new()];
    for axis in &axes.grid {
        points = extend(&points, axis.values.len(), |i| vec![(axis, i)]);
    }
    if let Some(first) = axes.zip.first() {
        points = extend(&points, first.values.len(), |i| {
            axes.zip.iter().map(|a| (a, i)).collect()
        });
    }
    if !axes.random.axes.is_empty() {
        points = extend(&points, axes.random.draws, |d| {
            axes.random.axes.iter().map(|a| (a, d)).collect()
        });
    }
    points
}

/// Every point followed by each of `n` new coordinates.
fn extend<'a>(
    points: &[Point<'a>],
    n: usize,
    coords: impl Fn(usize) -> Point<'a>,
) -> Vec<Point<'a>> {
    let mut next = Vec::with_capacity(points.len().saturating_mul(n));
    for p in points {
        for i in 0..n {
            let mut q = p.clone();
            q.extend(coords(i));
            next.push(q);
        }
    }
    next
}

/// The cells of the sweep, seeds innermost so that the replicates of a config are leased next
/// to each other. Each point's config is validated; two points giving one config are refused.
pub(super) fn cells(
    loc: &Locator,
    trainer: &dyn DynTrainer,
    base: &toml::Table,
    axes: &SweepAxes,
    seeds: &[u64],
    (name, sweep_seed): (&Spanned<String>, u64),
) -> Result<Vec<Cell>, SpecError> {
    let (kind, version) = (trainer.kind(), trainer.version());
    let points = points(axes);
    let mut cells = Vec::with_capacity(points.len().saturating_mul(seeds.len()));
    let mut seen_configs: BTreeMap<String, ()> = BTreeMap::new();
    for point in &points {
        let (config_json, axes) = point_config(loc, trainer, base, point)?;
        if seen_configs.insert(config_json.clone(), ()).is_some() {
            let (axis, i) = point.last().expect("duplicates need axes");
            return Err(loc.at(
                axis.values[*i].1.clone(),
                format!(
                    "axis `{}` value {} gives a config that another point of the sweep already has (repeated axis value?)",
                    axis.path,
                    i + 1
                ),
            ));
        }
        for &replicate in seeds {
            cells.push(Cell {
                key: Cell::compute_key(kind, &config_json, sweep_seed, replicate, version),
                sweep: name.get_ref().clone(),
                kind: kind.to_owned(),
                trainer_version: version.to_owned(),
                config_json: config_json.clone(),
                sweep_seed,
                replicate,
                axes: axes.clone(),
            });
        }
    }
    Ok(cells)
}

/// The canonical config of one point and its swept values, validated against the typed config.
fn point_config(
    loc: &Locator,
    trainer: &dyn DynTrainer,
    base: &toml::Table,
    point: &Point,
) -> Result<(String, BTreeMap<String, serde_json::Value>), SpecError> {
    let mut table = base.clone();
    let mut axes = BTreeMap::new();
    for (axis, i) in point {
        let (value, _) = &axis.values[*i];
        set_path(&mut table, &axis.path, value.clone());
        axes.insert(axis.path.clone(), toml_to_json(value));
    }
    let cfg = trainer
        .config_value(table)
        .map_err(|e| axis_error(loc, trainer, base, point, &e))?;
    Ok((canonical(&cfg).to_string(), axes))
}

/// The error of an invalid point, at the value of the axis that made it invalid: the axis
/// whose key the failing key is or lies under (the error's key path says so exactly);
/// failing that (an error about no single key, like a trainer's `validate`), the first axis
/// whose value alone makes the base config invalid; failing that, the point's last axis. The
/// base config is valid, so some axis value is to blame.
fn axis_error(
    loc: &Locator,
    trainer: &dyn DynTrainer,
    base: &toml::Table,
    point: &Point,
    e: &DecodeError,
) -> SpecError {
    let alone_fails = |(axis, i): &&(&Axis, usize)| {
        let mut table = base.clone();
        set_path(&mut table, &axis.path, axis.values[*i].0.clone());
        trainer.config_value(table).is_err()
    };
    let (axis, i) = point
        .iter()
        .find(|(a, _)| e.path.starts_with_dotted(&a.path))
        .or_else(|| point.iter().find(alone_fails))
        .or(point.last())
        .expect("an invalid cell has at least one axis (the base was valid)");
    // Name the failing key when it is not the axis itself (a key inside a swept table).
    let key = match e.path.0.is_empty() || e.path.is_dotted(&axis.path) {
        true => String::new(),
        false => format!("key `{}`: ", e.path.under(trainer.kind())),
    };
    loc.at(
        axis.values[*i].1.clone(),
        format!("axis `{}` value {}: {key}{}", axis.path, i + 1, e.message),
    )
}

/// Sets `a.b.c` inside a table, creating intermediate tables.
pub(super) fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(part.to_owned(), value);
            return;
        }
        let entry = cur
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        cur = entry.as_table_mut().expect("table");
    }
}
