//! Results of ensemble sweeps: Parquet tables, SQL queries over them, seed-ensemble statistics,
//! diversity and degradation analyses, and the HTML report.
//!
//! The coordinator hands finished runs to [`tables::write_part`]; everything downstream reads the
//! tables back with [`tables::read_table`] so that analyses see exactly what users can query.
#![warn(missing_docs)]

pub mod compare;
pub mod degradation;
pub mod diversity;
pub mod frames;
pub mod query;
pub mod report;
pub mod selection;
pub mod stats;
#[cfg(test)]
mod synthetic;
pub mod tables;
