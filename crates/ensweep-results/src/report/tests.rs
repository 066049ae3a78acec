//! The report over a synthetic AND-task-like sweep: every section is drawn and stored.

use super::*;
use crate::tables::{write_part, write_weights_part};

/// Writes a synthetic sweep of 2 initialisations x `seeds` seeds in two parts.
pub fn synthetic_sweep_dir(dir: &Path, seeds: u64) {
    let runs = crate::synthetic::sweep("and_task", &[("small", 0.6), ("large", 1.4)], seeds, 6);
    for (part, chunk) in runs.chunks(seeds as usize).enumerate() {
        let completed: Vec<_> = chunk.iter().map(|(r, _)| r.clone()).collect();
        write_part(dir, part as u64, &completed).unwrap();
        let w: Vec<_> = chunk
            .iter()
            .map(|(r, w)| (r.cell_key.clone(), w.clone()))
            .collect();
        write_weights_part(dir, part as u64, &w).unwrap();
    }
}

#[test]
fn report_has_every_section_and_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_sweep_dir(dir.path(), 10);
    let out = write_report(dir.path(), &ReportOptions::default()).unwrap();
    let html = std::fs::read_to_string(&out.html).unwrap();
    for section in [
        "Learning curves",
        "vs swept hyperparameters",
        "Degradation under pruning",
        "Diversity across seeds",
        "Eigenvalues",
        "Per-layer statistics",
        "Statistical comparisons",
    ] {
        assert!(html.contains(section), "missing {section}");
    }
    // 2 learning metrics, 1 axis, 1 pruned layer, 2 groups x 8 diversity matrices (cka, svcca,
    // dynamics, dsa angular and euclidean, weights, d_pif, disagreement), 1 spectrum, pi + xi
    // histograms, 2 category figures.
    assert_eq!(
        out.figures.len(),
        2 + 1 + 1 + 16 + 1 + 2 + 2,
        "{:?}",
        out.figures
    );
    assert_eq!(
        html.matches("data:image/svg+xml;base64,").count(),
        out.figures.len()
    );
    for f in &out.figures {
        assert!(std::fs::read_to_string(f).unwrap().starts_with("<svg"));
    }
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    let names: Vec<String> = out
        .tables
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    for t in [
        "degradation_comparisons",
        "diversity_summary",
        "diversity_pairs",
        "group_comparisons",
    ] {
        assert!(names.contains(&t.to_string()), "{names:?}");
    }
    let cmp =
        crate::tables::read_part(&dir.path().join("analysis/group_comparisons.parquet")).unwrap();
    assert_eq!(cmp.height(), 1);
}
