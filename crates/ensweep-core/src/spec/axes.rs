//! Axis sections: `[grid]` and `[zip]` lists, `[random]` draws.

use super::SpecError;
use super::file::{Axes, SpecFile};
use super::limits::SpecLimits;
use super::locate::Locator;
use crate::seed::RunSeed;
use rand::RngExt;
use std::collections::BTreeMap;
use std::ops::Range;

/// One axis after parsing: a path inside the trainer section and the values it takes.
#[derive(Clone, Debug)]
pub(super) struct Axis {
    pub path: String,
    pub span: Range<usize>,
    pub values: Vec<(toml::Value, Range<usize>)>,
}

/// All axes of a sweep, by section.
pub(super) struct SweepAxes {
    pub grid: Vec<Axis>,
    pub zip: Vec<Axis>,
    pub random: RandomAxes,
}

impl SweepAxes {
    /// Parses `[grid]`, `[zip]` and `[random]`; checks zip lengths, path depth and that a path
    /// is swept in one place only.
    pub fn parse(
        loc: &Locator,
        file: &mut SpecFile,
        limits: &SpecLimits,
    ) -> Result<SweepAxes, SpecError> {
        let grid = parse_list_axes(loc, file.grid.take().unwrap_or_default(), "grid")?;
        let zip = parse_list_axes(loc, file.zip.take().unwrap_or_default(), "zip")?;
        check_zip_lengths(loc, &zip)?;
        let raw_random = file.random.take().unwrap_or_default();
        let random = parse_random(loc, raw_random, limits.max_cells)?;
        let axes = SweepAxes { grid, zip, random };
        axes.check_paths(loc, limits.max_depth)?;
        Ok(axes)
    }

    /// Every axis, in expansion order (grid, then zip, then random).
    pub fn iter(&self) -> impl Iterator<Item = &Axis> {
        self.grid.iter().chain(&self.zip).chain(&self.random.axes)
    }

    /// The number of points along each independent direction (grid axes, the zip, the draws).
    pub fn factors(&self) -> Vec<u64> {
        let mut f: Vec<u64> = self.grid.iter().map(|a| a.values.len() as u64).collect();
        if let Some(first) = self.zip.first() {
            f.push(first.values.len() as u64);
        }
        if !self.random.axes.is_empty() {
            f.push(self.random.draws as u64);
        }
        f
    }

    /// Refuses a path deeper than `max_depth` and a path swept in two sections.
    fn check_paths(&self, loc: &Locator, max_depth: usize) -> Result<(), SpecError> {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        let sections = [
            ("grid", &self.grid),
            ("zip", &self.zip),
            ("random", &self.random.axes),
        ];
        for (section, axes) in sections {
            for axis in axes {
                let depth = axis.path.split('.').count();
                if depth > max_depth {
                    return Err(loc.at(
                        axis.span.clone(),
                        format!(
                            "{section} axis path has {depth} dotted levels; the limit is {max_depth}"
                        ),
                    ));
                }
                if let Some(prev) = seen.insert(&axis.path, section) {
                    return Err(loc.at(
                        axis.span.clone(),
                        format!("duplicate axis `{}`: already swept in [{prev}]", axis.path),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Zip axes walk together, so they need equal lengths.
fn check_zip_lengths(loc: &Locator, zip: &[Axis]) -> Result<(), SpecError> {
    let Some(first) = zip.first() else {
        return Ok(());
    };
    let Some(bad) = zip.iter().find(|a| a.values.len() != first.values.len()) else {
        return Ok(());
    };
    Err(loc.at(
        bad.span.clone(),
        format!(
            "zip axis `{}` has {} values but `{}` has {}; zip axes walk together and need equal lengths",
            bad.path,
            bad.values.len(),
            first.path,
            first.values.len()
        ),
    ))
}

/// Random-search axes and their own generator settings.
pub(super) struct RandomAxes {
    pub draws: usize,
    pub axes: Vec<Axis>,
}

fn parse_random(loc: &Locator, raw: Axes, max_cells: u64) -> Result<RandomAxes, SpecError> {
    let mut seed = 0u64;
    let mut draws = None;
    let mut specs = Vec::new();
    for (key, value) in raw {
        let (kspan, key) = (key.span(), key.into_inner());
        let (vspan, value) = (value.span(), value.into_inner());
        match key.as_str() {
            "seed" => {
                seed = value.as_integer().filter(|v| *v >= 0).ok_or_else(|| {
                    loc.at(vspan, "`random.seed` must be a non-negative integer".into())
                })? as u64
            }
            "draws" => {
                draws =
                    Some(value.as_integer().filter(|v| *v >= 1).ok_or_else(|| {
                        loc.at(vspan, "`random.draws` must be an integer >= 1".into())
                    })? as u64)
            }
            _ => specs.push((key, kspan, value, vspan)),
        }
    }
    if specs.is_empty() {
        return Ok(RandomAxes {
            draws: 0,
            axes: Vec::new(),
        });
    }
    let draws = draws.ok_or_else(|| SpecError::File {
        path: loc.path.to_owned(),
        message: "[random] needs `draws = N`, the number of random points".into(),
    })?;
    // Checked before any point is drawn: the values are materialised per axis.
    if draws > max_cells {
        return Err(SpecError::File {
            path: loc.path.to_owned(),
            message: format!("`random.draws` = {draws} is above the limit of {max_cells} cells"),
        });
    }
    let draws = draws as usize;
    let mut axes = Vec::new();
    for (path, kspan, value, vspan) in specs {
        let bad = || {
            loc.at(
                vspan.clone(),
                format!(
                    "random axis `{path}` must be one of {{ uniform = [lo, hi] }}, {{ log_uniform = [lo, hi] }}, {{ int_uniform = [lo, hi] }}, {{ choice = [...] }}"
                ),
            )
        };
        let table = value.as_table().filter(|t| t.len() == 1).ok_or_else(bad)?;
        let (dist, arg) = table.iter().next().expect("one entry");
        let arr = arg.as_array().ok_or_else(bad)?;
        let num = |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
        // Each axis draws from its own stream of the random section's seed.
        let mut rng = RunSeed::derive(seed, &path, 0).rng("random-axis");
        let values: Vec<toml::Value> = match dist.as_str() {
            "choice" if !arr.is_empty() => (0..draws)
                .map(|_| arr[rng.random_range(0..arr.len())].clone())
                .collect(),
            "uniform" | "log_uniform" | "int_uniform" if arr.len() == 2 => {
                let (lo, hi) = (num(&arr[0]).ok_or_else(bad)?, num(&arr[1]).ok_or_else(bad)?);
                if lo > hi || (dist == "log_uniform" && lo <= 0.0) {
                    return Err(loc.at(vspan, format!("random axis `{path}`: need 0 < lo <= hi for log_uniform, lo <= hi otherwise")));
                }
                (0..draws)
                    .map(|_| {
                        let u: f64 = rng.random();
                        match dist.as_str() {
                            "uniform" => toml::Value::Float(lo + u * (hi - lo)),
                            "log_uniform" => {
                                toml::Value::Float((lo.ln() + u * (hi.ln() - lo.ln())).exp())
                            }
                            _ => toml::Value::Integer(
                                lo as i64 + rng.random_range(0..=(hi - lo) as i64),
                            ),
                        }
                    })
                    .collect()
            }
            _ => return Err(bad()),
        };
        axes.push(Axis {
            path,
            span: kspan,
            values: values.into_iter().map(|v| (v, vspan.clone())).collect(),
        });
    }
    Ok(RandomAxes { draws, axes })
}

fn parse_list_axes(loc: &Locator, raw: Axes, section: &str) -> Result<Vec<Axis>, SpecError> {
    let mut axes = Vec::new();
    for (key, value) in raw {
        let (kspan, path) = (key.span(), key.into_inner());
        let vspan = value.span();
        let toml::Value::Array(values) = value.into_inner() else {
            return Err(loc.at(
                vspan,
                format!(
                    "{section} axis `{path}` must be a list of values, e.g. `\"{path}\" = [1, 2]`"
                ),
            ));
        };
        if values.is_empty() {
            return Err(loc.at(
                vspan,
                format!("{section} axis `{path}` is empty: give at least one value"),
            ));
        }
        // Values inside an array have no spans of their own; point at the whole list.
        axes.push(Axis {
            path,
            span: kspan,
            values: values.into_iter().map(|v| (v, vspan.clone())).collect(),
        });
    }
    Ok(axes)
}
