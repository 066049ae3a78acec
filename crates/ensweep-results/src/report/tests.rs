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
        "Degeneracy per condition",
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
    // 2 learning metrics, 1 axis, 1 pruned layer, 8 diversity measures (cka, svcca, dynamics,
    // dsa angular and euclidean, weights, d_pif, disagreement; both groups on one scale),
    // 4 degeneracy measures against the init axis (dsa_angular, d_pif, ood_loss_std, svcca),
    // 1 spectrum, pi + xi histograms, 2 category figures.
    assert_eq!(
        out.figures.len(),
        2 + 1 + 1 + 8 + 4 + 1 + 2 + 2,
        "{:?}",
        out.figures
    );
    assert_eq!(
        html.matches("data:image/svg+xml;base64,").count(),
        out.figures.len()
    );
    for f in &out.figures {
        assert!(std::fs::read_to_string(f).unwrap().starts_with("<svg"));
        let png = std::fs::read(f.with_extension("png")).unwrap();
        assert_eq!(&png[..4], b"\x89PNG", "{f:?}");
        let csv = std::fs::read_to_string(f.with_extension("csv")).unwrap();
        assert!(csv.lines().count() >= 2, "{f:?}: {csv}");
    }
    // The page opens with the findings: the headline comparison with its interval and test.
    let findings = html.find("<h2>Findings</h2>").expect("a findings section");
    assert!(findings < html.find("<h2>Overview</h2>").unwrap());
    assert!(html.contains("Mann-Whitney p ="), "headline test");
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

/// The figure-file half of tests/scripts/check_report.py (standard-library Python: manifest,
/// PNG/SVG/CSV beside every figure, colour bars on heatmaps, no legend over a plotted point) on
/// the synthetic report. Skipped, with a message, where no `python3` is installed.
#[test]
fn report_figures_pass_the_geometry_checker() {
    let python = std::env::var("ENSWEEP_PYTHON").unwrap_or_else(|_| "python3".into());
    if std::process::Command::new(&python)
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no {python} to run tests/scripts/check_report.py");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    synthetic_sweep_dir(dir.path(), 6);
    let out = write_report(dir.path(), &ReportOptions::default()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scripts/check_report.py");
    let run = std::process::Command::new(&python)
        .arg(&script)
        .arg(&out.html)
        .arg("--no-browser")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(report.contains("\"heatmap\": 8"), "{report}");
}

/// `--reference`: a published curve on the same axis and metric is drawn beside the sweep's in
/// the hyperparameter figure, at the swept values it has; its points are in the figure's CSV
/// and the caption says how many of them could be placed.
#[test]
fn a_reference_curve_joins_the_hyperparameter_figure() {
    let dir = tempfile::tempdir().unwrap();
    let runs = crate::synthetic::sweep("and_task", &[("0.6", 0.6), ("1.4", 1.4)], 3, 6);
    let completed: Vec<_> = runs.iter().map(|(r, _)| r.clone()).collect();
    write_part(dir.path(), 0, &completed).unwrap();
    let text = "# label: Paper 2023\ninit,test_acc\n0.6,0.71\n1.0,0.8\n1.4,0.93\n";
    let opts = ReportOptions {
        references: vec![ReferenceCurve::parse(text, "paper.csv").unwrap()],
        ..ReportOptions::default()
    };
    let out = write_report(dir.path(), &opts).unwrap();
    let fig = out.html.parent().unwrap().join("figures");
    let csv = std::fs::read_to_string(fig.join("hyper_0_init.csv")).unwrap();
    let reference: Vec<&str> = csv.lines().filter(|l| l.contains("Paper 2023")).collect();
    assert_eq!(reference.len(), 2, "{csv}");
    assert!(reference[0].contains(",0.6,0.71,"), "{csv}");
    assert!(reference[1].contains(",1.4,0.93,"), "{csv}");
    let manifest = std::fs::read_to_string(fig.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("Paper 2023 (line without band): 2 of its 3 points"),
        "{manifest}"
    );
    // A reference on another metric is not drawn.
    let other = ReferenceCurve::parse("init,distance_mean\n0.6,1\n", "x.csv").unwrap();
    let opts = ReportOptions {
        references: vec![other],
        ..ReportOptions::default()
    };
    let out = write_report(dir.path(), &opts).unwrap();
    let csv = std::fs::read_to_string(out.html.parent().unwrap().join("figures/hyper_0_init.csv"))
        .unwrap();
    assert!(!csv.lines().any(|l| l.starts_with(",x,")), "{csv}");
}
