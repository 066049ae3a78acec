//! The analyses of a trained spike-and-slab RNN: both evaluation modes, psychometric matrix and
//! slopes, connection categories, important-set removal, spectra, PCA and probe trajectories.

use super::data::TaskData;
use super::eval::{self, Mode, Score};
use super::model::{Forward, NetMoments, SasNet, forward};
use crate::metrics;
use crate::tasks::msi;
use ensweep_core::config::sas_rnn::SasRnnConfig;
use ensweep_core::output::{LayerRow, RunOutput, TrajectoryRow, Values, WeightMatrix};
use ensweep_core::seed::RunSeed;
use ensweep_trainkit::arrays::std_slice;
use ensweep_trainkit::stats::mean_std;

/// The post-training analyses (docs/RNN.md): accuracy in every evaluation mode, the MSI
/// psychometric summary, connection categories, important-set removal, spectra, probe
/// trajectories and weights.
pub(super) fn analyse(
    cfg: &SasRnnConfig,
    data: &TaskData,
    seed: &RunSeed,
    net0: &SasNet,
    net: &SasNet,
    out: &mut RunOutput,
) {
    let mf = evaluation_modes(cfg, data, seed, net, out);
    if mf[0].psychometric.is_some() {
        psychometric(cfg, &mf, &mut out.scalars);
    }
    // Connection categories per layer.
    for (name, l) in [("in", &net.input), ("rec", &net.rec), ("out", &net.out)] {
        out.layers.push(LayerRow {
            layer: name.into(),
            values: eval::categories(l),
        });
    }

    important_removal(cfg, data, seed, net, out);
    dynamics(cfg, data, net0, net, out);
}

/// Accuracy in the three evaluation modes (streams `eval_mf`, `eval_net`, `eval_step`): mean
/// and std over the draws as scalars; returns the mean-field scores.
fn evaluation_modes(
    cfg: &SasRnnConfig,
    data: &TaskData,
    seed: &RunSeed,
    net: &SasNet,
    out: &mut RunOutput,
) -> Vec<Score> {
    let ev = &cfg.eval;
    let mut buffers = Forward::default();
    let mut mf: Vec<Score> = Vec::new();
    for d in 0..ev.mean_field_draws.max(1) {
        mf.push(eval::score(
            net,
            data,
            Mode::MeanField,
            &mut seed.rng_indexed("eval_mf", d as u64),
            &mut buffers,
        ));
    }
    let sampled_mode = if ev.sampled_private_noise {
        Mode::SampledNetPrivateNoise
    } else {
        Mode::SampledNet
    };
    let sampled: Vec<f64> = (0..ev.sampled_nets)
        .map(|d| {
            eval::score(
                net,
                data,
                sampled_mode,
                &mut seed.rng_indexed("eval_net", d as u64),
                &mut buffers,
            )
            .accuracy
        })
        .collect();
    let per_step: Vec<f64> = (0..ev.per_step_draws)
        .map(|d| {
            eval::score(
                net,
                data,
                Mode::PerStep,
                &mut seed.rng_indexed("eval_step", d as u64),
                &mut buffers,
            )
            .accuracy
        })
        .collect();
    let accs: Vec<f64> = mf.iter().map(|s| s.accuracy).collect();
    let s = &mut out.scalars;
    let (m, sd) = mean_std(&accs);
    s.insert("acc_mf_mean".into(), m);
    s.insert("acc_mf_std".into(), sd);
    if !sampled.is_empty() {
        let (m, sd) = mean_std(&sampled);
        s.insert("acc_sampled_mean".into(), m);
        s.insert("acc_sampled_std".into(), sd);
    }
    if !per_step.is_empty() {
        let (m, sd) = mean_std(&per_step);
        s.insert("acc_per_step_mean".into(), m);
        s.insert("acc_per_step_std".into(), sd);
    }
    mf
}

/// The MSI psychometric matrix averaged over the mean-field draws: the probability of "high"
/// per modality and rate, accuracy and logistic slope per modality, the catch-trial output.
fn psychometric(cfg: &SasRnnConfig, mf: &[Score], s: &mut Values) {
    let ev = &cfg.eval;
    // Average the psychometric matrices over the mean-field draws.
    let mut avg = [[0.0f64; 8]; 3];
    for sc in mf {
        let p = sc.psychometric.as_ref().expect("msi");
        for (a, row) in avg.iter_mut().zip(p.iter()) {
            for (x, y) in a.iter_mut().zip(row) {
                *x += y / mf.len() as f64;
            }
        }
    }
    for (mi, name) in msi::MODALITIES.iter().enumerate() {
        for (ri, rate) in msi::RATES.iter().enumerate() {
            s.insert(format!("p_high_{name}{rate}"), avg[mi][ri]);
        }
        let acc = avg[mi]
            .iter()
            .zip(msi::RATES)
            .map(|(&p, r)| if r as f64 > 12.5 { p } else { 1.0 - p })
            .sum::<f64>()
            / 8.0;
        s.insert(format!("acc_{name}"), acc);
        s.insert(
            format!("slope_{name}"),
            eval::logistic_slope(&avg[mi], ev.mean_field_draws.max(1) as f64),
        );
    }
    let catch: Vec<f64> = mf.iter().filter_map(|s| s.catch_output).collect();
    if !catch.is_empty() {
        s.insert("catch_output_mean".into(), mean_std(&catch).0);
    }
}

/// The important recurrent connections (small pi and Xi, large |m|) and the removal curves of
/// them against as many others.
fn important_removal(
    cfg: &SasRnnConfig,
    data: &TaskData,
    seed: &RunSeed,
    net: &SasNet,
    out: &mut RunOutput,
) {
    let ev = &cfg.eval;
    // Important recurrent connections and their removal.
    let rec = &net.rec;
    let imp: Vec<usize> = (rec.pi.iter().zip(rec.xi.iter()).zip(rec.m.iter()))
        .enumerate()
        .filter(|&(_, ((&pi, &xi), &m))| {
            let p = if rec.stochastic { pi } else { 0.0 };
            (0.0..=ev.imp_pi as f32).contains(&p)
                && xi < ev.imp_xi as f32
                && m.abs() > ev.imp_m as f32
        })
        .map(|(i, _)| i)
        .collect();
    let total = net.rec.m.len();
    let s = &mut out.scalars;
    s.insert("important_count".into(), imp.len() as f64);
    s.insert("important_frac".into(), imp.len() as f64 / total as f64);
    let others: Vec<usize> = {
        let set: std::collections::HashSet<usize> = imp.iter().copied().collect();
        (0..total).filter(|i| !set.contains(i)).collect()
    };
    // At the reference's analysis step when one is set (MSI): the same network, simulated at
    // a finer step; the curves' rows are the same either way.
    let fine = ev
        .analysis_dt_ms
        .and_then(|dt| TaskData::msi_at_dt(cfg, net, dt));
    if let Some(dt) = ev.analysis_dt_ms {
        s.insert("analysis_dt_ms".into(), dt);
    }
    let (net, data) = match &fine {
        Some((d, n)) => (n, d),
        None => (net, data),
    };
    out.pruning.extend(eval::removal_curve(
        net,
        data,
        seed,
        (&imp, &others),
        (&ev.removal_fractions, &ev.damage_fractions),
        ev.removal_repeats,
    ));
}

/// Spectra of the mean recurrent matrix before and after training, probe trajectories and their
/// PCA, the dynamics class, the weights and how far the recurrent matrix moved.
fn dynamics(cfg: &SasRnnConfig, data: &TaskData, net0: &SasNet, net: &SasNet, out: &mut RunOutput) {
    let ev = &cfg.eval;
    // Spectra of the mean recurrent matrix.
    let mut mom = NetMoments::default();
    net0.moments(&mut mom);
    let s0 = metrics::spectrum(std_slice(&mom.rec.mu), cfg.n_hidden);
    net.moments(&mut mom);
    let s1 = metrics::spectrum(std_slice(&mom.rec.mu), cfg.n_hidden);
    out.spectra.extend(metrics::spectrum_rows("rec_init", &s0));
    out.spectra
        .extend(metrics::spectrum_rows("rec_trained", &s1));
    let rec0 = {
        let mut m0 = NetMoments::default();
        net0.moments(&mut m0);
        m0.rec.mu
    };

    // Probe trajectories (mean-field without noise, fixed probe set) and PCA.
    let (probe_batch, steps) = eval::probe_batch(data, ev.probe_trials);
    let mut f = Forward::default();
    let mut oscillating = 0usize;
    if let Some(pb) = &probe_batch {
        f.zero_noise(net, pb);
        forward(net, &mut mom, pb, &mut f, None);
        let (b, n) = (pb.b, cfg.n_hidden);
        let mut all = Vec::with_capacity(b * steps * n);
        for j in 0..b {
            let mut states = Vec::with_capacity(steps * n);
            for st in 0..steps {
                states.extend(f.rates(st + 1, j).iter());
            }
            if metrics::activity_oscillates(&states, steps, n) {
                oscillating += 1;
            }
            all.extend_from_slice(&states);
            out.trajectories.push(TrajectoryRow {
                probe: j as u32,
                condition: pb.conditions[j].clone(),
                steps: steps as u32,
                units: n as u32,
                states,
            });
        }
        out.scalars.insert(
            "pca3_explained".into(),
            metrics::pca_explained(&all, b * steps, n, 3),
        );
    }
    let osc = probe_batch
        .as_ref()
        .is_some_and(|pb| 2 * oscillating > pb.b);
    out.weights = net_weights(net, &mom);
    let s = &mut out.scalars;
    s.insert("eig_outside".into(), s1.outside as f64);
    s.insert("eig_outside_init".into(), s0.outside as f64);
    s.insert("spectral_radius".into(), s1.radius);
    s.insert("lead_re".into(), s1.lead.0);
    s.insert("lead_im".into(), s1.lead.1);
    s.insert("freq_proxy".into(), s1.freq_proxy);
    s.insert(
        "dynamics_class".into(),
        metrics::dynamics_class(&s1, osc, 4.0 * std::f64::consts::PI / steps.max(1) as f64),
    );
    s.insert(
        "w_change_fro".into(),
        metrics::fro_diff(std_slice(&mom.rec.mu), std_slice(&rec0)),
    );
}

/// The mean weights E[w] of every layer (`in`, `rec`, `out`) and, for stochastic layers, their
/// spike probabilities (`<name>.pi`), for weight-space diversity across seeds.
fn net_weights(net: &SasNet, mom: &NetMoments) -> Vec<WeightMatrix> {
    let mut out = Vec::new();
    for (name, layer, m) in [
        ("in", &net.input, &mom.input),
        ("rec", &net.rec, &mom.rec),
        ("out", &net.out, &mom.out),
    ] {
        out.push(WeightMatrix::new(
            name,
            layer.rows,
            layer.cols,
            std_slice(&m.mu).to_vec(),
        ));
        if layer.stochastic {
            let pi = format!("{name}.pi");
            out.push(WeightMatrix::new(
                &pi,
                layer.rows,
                layer.cols,
                std_slice(&layer.pi).to_vec(),
            ));
        }
    }
    out
}
