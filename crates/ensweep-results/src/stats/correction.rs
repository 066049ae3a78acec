//! Multiple-comparison corrections: Holm (family-wise error) and Benjamini-Hochberg (false
//! discovery rate). A report compares many groups and criteria at once; raw p-values would
//! overstate how many differences are real.

fn order(p: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    idx
}

/// Holm step-down adjusted p-values, in the input order (as statsmodels `multipletests(method="holm")`).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order(p).iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// Benjamini-Hochberg adjusted p-values, in the input order (as `scipy.stats.false_discovery_control`).
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut out = vec![0.0; m];
    let mut running: f64 = 1.0;
    for (rank, &i) in order(p).iter().enumerate().rev() {
        running = running.min((m as f64 / (rank + 1) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [f64; 6] = [0.01, 0.04, 0.03, 0.20, 0.002, 0.049];

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }

    // Reference: statsmodels multipletests(P, method="holm"), tests/scripts/stats_reference.py.
    #[test]
    fn holm_matches_statsmodels() {
        close(&holm(&P), &[0.05, 0.12, 0.12, 0.2, 0.012, 0.12]);
    }

    // Reference: scipy 1.17.1 stats.false_discovery_control(P, method="bh").
    #[test]
    fn bh_matches_scipy() {
        close(
            &benjamini_hochberg(&P),
            &[0.03, 0.0588, 0.0588, 0.2, 0.012, 0.0588],
        );
    }
}
