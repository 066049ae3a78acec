//! Multisensory integration (rate discrimination) task of the spike-and-slab RNN
//! (docs/PAPERS.md 2.4): 5 input channels (visual+, auditory+, visual-, auditory-, start cue),
//! event rates 9-16 Hz against a 12.5 Hz boundary, catch trials, fixation / stimulus /
//! decision epochs and a loss mask on fixation and decision.

use super::{TaskGen, Trial};
use ensweep_core::config::sas_rnn::MsiTask;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

/// Membrane time constant of the reference network, ms (sets the input-noise scale).
pub const TAU_MS: f64 = 100.0;
/// Event rates, Hz.
pub const RATES: [u32; 8] = [9, 10, 11, 12, 13, 14, 15, 16];
/// Modalities in condition order.
pub const MODALITIES: [&str; 3] = ["v", "a", "va"];

/// Input channels.
pub const N_IN: usize = 5;
/// Output channels (0 = "high", 1 = "low").
pub const N_OUT: usize = 2;

/// The MSI trial generator at one step size.
#[derive(Clone, Debug)]
pub struct Msi {
    fix: usize,
    stim: usize,
    dec: usize,
    steps: usize,
    noise_std: f64,
    catch: bool,
}

impl Msi {
    /// Training trials (short fixation, padded to `train_length_ms`) or test trials (long
    /// fixation, no padding).
    pub fn new(cfg: &MsiTask, test: bool) -> Self {
        let n = |ms: f64| (ms / cfg.dt_ms).round() as usize;
        let fix = n(if test {
            cfg.fixation_test_ms
        } else {
            cfg.fixation_train_ms
        });
        let (stim, dec) = (n(cfg.stimulus_ms), n(cfg.decision_ms));
        let steps = if test {
            fix + stim + dec
        } else {
            n(cfg.train_length_ms).max(fix + stim + dec)
        };
        let alpha = cfg.dt_ms / TAU_MS;
        Msi {
            fix,
            stim,
            dec,
            steps,
            noise_std: (1.0 / alpha) * (2.0 * alpha).sqrt() * cfg.sigma_in,
            catch: false,
        }
    }

    /// The same generator producing catch trials.
    pub fn catch_trials(&self) -> Msi {
        Msi {
            catch: true,
            ..self.clone()
        }
    }

    /// (fixation, stimulus, decision) lengths in steps.
    pub fn epochs(&self) -> (usize, usize, usize) {
        (self.fix, self.stim, self.dec)
    }

    /// Std of the per-step input noise.
    pub fn noise_std(&self) -> f64 {
        self.noise_std
    }

    /// Index of the last decision step (where the choice is read).
    pub fn decision_end(&self) -> usize {
        self.fix + self.stim + self.dec - 1
    }
}

impl TaskGen for Msi {
    fn n_in(&self) -> usize {
        N_IN
    }
    fn n_out(&self) -> usize {
        N_OUT
    }
    fn steps(&self) -> usize {
        self.steps
    }
    fn n_conditions(&self) -> usize {
        24
    }
    fn trial(&self, rng: &mut Pcg64Mcg, condition: Option<usize>) -> Trial {
        let steps = self.steps;
        let mut x = vec![0.2f32; steps * N_IN];
        let mut y = vec![0.2f32; steps * N_OUT];
        let mut mask = vec![0.0f32; steps];
        let label;
        if self.catch {
            mask.iter_mut().for_each(|m| *m = 1.0);
            label = "catch".to_string();
        } else {
            let c = condition
                .map(|c| c % 24)
                .unwrap_or_else(|| rng.random_range(0..24));
            let (modality, f) = (c / 8, RATES[c % 8]);
            let pos = 0.4 + 0.8 * (f as f32 - 9.0) / 7.0;
            let neg = 0.4 + 0.8 * (16.0 - f as f32) / 7.0;
            let (vis, aud) = (modality != 1, modality != 0);
            let (s0, s1, s2) = (
                self.fix,
                self.fix + self.stim,
                self.fix + self.stim + self.dec,
            );
            for t in s0..s1 {
                let row = &mut x[t * N_IN..(t + 1) * N_IN];
                if vis {
                    row[0] += pos;
                    row[2] += neg;
                }
                if aud {
                    row[1] += pos;
                    row[3] += neg;
                }
            }
            for t in s0..s2 {
                x[t * N_IN + 4] += 1.0;
            }
            let chosen = if f as f64 > 12.5 { 0 } else { 1 };
            for t in s1..s2 {
                y[t * N_OUT + chosen] = 1.0;
            }
            for (t, m) in mask.iter_mut().enumerate() {
                if t < s0 || (s1..s2).contains(&t) {
                    *m = 1.0;
                }
            }
            label = format!("{}{}", MODALITIES[modality], f);
        }
        for v in x.iter_mut() {
            let e: f64 = StandardNormal.sample(rng);
            *v += (self.noise_std * e) as f32;
        }
        Trial {
            x,
            y,
            mask,
            condition: label,
        }
    }
}

/// One training batch: every (modality, rate) once plus `catch` catch trials.
pub fn training_batch(train: &Msi, catch: usize, rng: &mut Pcg64Mcg) -> Vec<Trial> {
    let mut v: Vec<Trial> = (0..24).map(|c| train.trial(rng, Some(c))).collect();
    let ct = train.catch_trials();
    v.extend((0..catch).map(|_| ct.trial(rng, None)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cfg() -> MsiTask {
        toml::from_str("").unwrap()
    }

    #[test]
    fn epochs_inputs_targets_and_mask_follow_the_definition() {
        let mut c = cfg();
        c.sigma_in = 0.0;
        let tr = Msi::new(&c, false);
        assert_eq!(tr.steps(), 125);
        assert_eq!(tr.epochs(), (5, 50, 15));
        let te = Msi::new(&c, true);
        assert_eq!(te.steps(), 90);
        let mut rng = Pcg64Mcg::seed_from_u64(0);
        // condition 13 = auditory, 14 Hz ("high")
        let t = tr.trial(&mut rng, Some(13));
        assert_eq!(t.condition, "a14");
        let row = |s: usize| &t.x[s * 5..(s + 1) * 5];
        assert_eq!(row(4), &[0.2; 5]);
        let pos = 0.2 + 0.4 + 0.8 * 5.0 / 7.0;
        let neg = 0.2 + 0.4 + 0.8 * 2.0 / 7.0;
        let r = row(5);
        assert!((r[1] - pos).abs() < 1e-6 && (r[3] - neg).abs() < 1e-6);
        assert_eq!((r[0], r[2]), (0.2, 0.2));
        assert!((r[4] - 1.2).abs() < 1e-6);
        assert!((row(69)[4] - 1.2).abs() < 1e-6 && row(70)[4] == 0.2);
        assert_eq!(row(55)[1], 0.2); // stimulus over, cue on
        assert_eq!((t.y[54 * 2], t.y[55 * 2], t.y[55 * 2 + 1]), (0.2, 1.0, 0.2));
        let m: Vec<usize> = (0..125).filter(|&s| t.mask[s] == 1.0).collect();
        assert_eq!(m, (0..5).chain(55..70).collect::<Vec<_>>());
        let low = tr.trial(&mut rng, Some(3)); // visual 12 Hz
        assert_eq!((low.y[60 * 2], low.y[60 * 2 + 1]), (0.2, 1.0));
        let catch = tr.catch_trials().trial(&mut rng, None);
        assert!(catch.mask.iter().all(|&m| m == 1.0));
        assert!(catch.x.iter().all(|&v| v == 0.2) && catch.y.iter().all(|&v| v == 0.2));
        assert!((Msi::new(&cfg(), false).noise_std() - 0.0316).abs() < 1e-3);
        let b = training_batch(&tr, 6, &mut rng);
        assert_eq!(b.len(), 30);
    }
}
