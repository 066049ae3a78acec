//! Huang et al.'s tasks (docs/PAPERS.md 3b.2): N-bit flip-flop, delayed discrimination and
//! sine-wave generation. Times are in steps (the paper has no ms).

use super::{TaskGen, Trial};
use ensweep_core::config::tanh_rnn::{DelayTask, NBitFlipFlopTask, SineTask};
use rand::RngExt;
use rand_pcg::Pcg64Mcg;

/// N-bit flip-flop: each channel emits a +-1 pulse with probability `p_switch` per step;
/// output k holds the last non-zero input of channel k (0 before the first).
#[derive(Clone, Debug)]
pub struct NBitFlipFlop {
    bits: usize,
    p: f64,
    steps: usize,
}

impl NBitFlipFlop {
    /// The task; `ood` doubles the trial length.
    pub fn new(cfg: &NBitFlipFlopTask, ood: bool) -> Self {
        let steps = cfg.steps.max(1) as usize;
        NBitFlipFlop {
            bits: cfg.bits.max(1) as usize,
            p: cfg.p_switch,
            steps: if ood { 2 * steps } else { steps },
        }
    }
}

impl TaskGen for NBitFlipFlop {
    fn n_in(&self) -> usize {
        self.bits
    }
    fn n_out(&self) -> usize {
        self.bits
    }
    fn steps(&self) -> usize {
        self.steps
    }
    fn n_conditions(&self) -> usize {
        1
    }
    fn trial(&self, rng: &mut Pcg64Mcg, _condition: Option<usize>) -> Trial {
        let n = self.bits;
        let mut x = vec![0.0f32; self.steps * n];
        let mut y = vec![0.0f32; self.steps * n];
        let mut state = vec![0.0f32; n];
        for s in 0..self.steps {
            for k in 0..n {
                if rng.random_bool(self.p) {
                    let v = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    x[s * n + k] = v;
                    state[k] = v;
                }
                y[s * n + k] = state[k];
            }
        }
        Trial {
            x,
            y,
            mask: vec![1.0; self.steps],
            condition: "random".into(),
        }
    }
}

/// Delayed discrimination: a 1-step pulse of height f1/10 at step 5, a delay, a pulse of height
/// f2/10; from the step after the second pulse to the end (10 response steps after the longest
/// delay) the output is sign(f2 - f1) and the mask is 1 (0 before). f1 != f2 in {2, ..., 10}.
///
/// With `channels` > 1 every channel has its own pair and its own sign output (outputs
/// `0..channels`); the pulse times are shared. With `aux_output` outputs
/// `channels..2 channels` hold |f2 - f1| / 10 of each channel over the same window.
#[derive(Clone, Debug)]
pub struct DelayedDiscrimination {
    delay_min: usize,
    delay_max: usize,
    channels: usize,
    aux: bool,
}

/// Onset of the first pulse.
pub const DD_FIRST: usize = 5;
/// Response steps after the longest delay.
pub const DD_RESPONSE: usize = 10;

impl DelayedDiscrimination {
    /// The task; `ood` doubles the delays.
    pub fn new(cfg: &DelayTask, ood: bool) -> Self {
        let k = if ood { 2 } else { 1 };
        let lo = cfg.delay_min.max(1) as usize;
        DelayedDiscrimination {
            delay_min: k * lo,
            delay_max: k * (cfg.delay_max as usize).max(lo),
            channels: cfg.channels.max(1) as usize,
            aux: cfg.aux_output,
        }
    }
}

/// One channel's pair (f1, f2), f1 != f2 in 2..=10, with f2 > f1 exactly when `higher`.
fn dd_pair(rng: &mut Pcg64Mcg, higher: bool) -> (u32, u32) {
    let f1 = rng.random_range(2..=10u32);
    let mut f2 = rng.random_range(2..=9u32);
    if f2 >= f1 {
        f2 += 1;
    }
    if (f2 > f1) == higher {
        (f1, f2)
    } else {
        (f2, f1)
    }
}

impl TaskGen for DelayedDiscrimination {
    fn n_in(&self) -> usize {
        self.channels
    }
    fn n_out(&self) -> usize {
        if self.aux {
            2 * self.channels
        } else {
            self.channels
        }
    }
    fn steps(&self) -> usize {
        DD_FIRST + 2 + self.delay_max + DD_RESPONSE
    }
    /// One condition per combination of the channels' directions (bit k: channel k up).
    fn n_conditions(&self) -> usize {
        1 << self.channels.min(16)
    }
    fn trial(&self, rng: &mut Pcg64Mcg, condition: Option<usize>) -> Trial {
        let (steps, nc, no) = (self.steps(), self.channels, self.n_out());
        // Channel by channel: the direction (unless given), then the pair; then the delay. One
        // channel draws exactly what the single-channel task always drew.
        let pairs: Vec<(bool, u32, u32)> = (0..nc)
            .map(|k| {
                let higher = condition
                    .map(|c| (c >> k) % 2)
                    .unwrap_or_else(|| rng.random_range(0..2))
                    == 1;
                let (f1, f2) = dd_pair(rng, higher);
                (higher, f1, f2)
            })
            .collect();
        let delay = rng.random_range(self.delay_min..=self.delay_max);
        let t2 = DD_FIRST + 1 + delay;
        let mut x = vec![0.0f32; steps * nc];
        let mut y = vec![0.0f32; steps * no];
        let mut mask = vec![0.0f32; steps];
        for (k, &(_, f1, f2)) in pairs.iter().enumerate() {
            x[DD_FIRST * nc + k] = f1 as f32 / 10.0;
            x[t2 * nc + k] = f2 as f32 / 10.0;
            let sign = if f2 > f1 { 1.0 } else { -1.0 };
            let gap = f1.abs_diff(f2) as f32 / 10.0;
            for s in t2 + 1..steps {
                y[s * no + k] = sign;
                if self.aux {
                    y[s * no + nc + k] = gap;
                }
            }
        }
        mask[t2 + 1..].fill(1.0);
        let label = |up: bool| if up { "up" } else { "down" };
        Trial {
            x,
            y,
            mask,
            condition: pairs
                .iter()
                .map(|p| label(p.0))
                .collect::<Vec<_>>()
                .join("-"),
        }
    }
}

/// Sine-wave generation: a static input f / f_max, output sin(2 pi f t / steps) (f cycles per
/// training trial), f one of `n_freq` evenly spaced frequencies in [f_min, f_max]. With
/// `channels` > 1 each channel draws its own frequency and has its own input and output.
#[derive(Clone, Debug)]
pub struct Sine {
    freqs: Vec<f64>,
    f_max: f64,
    base_steps: usize,
    steps: usize,
    channels: usize,
}

impl Sine {
    /// The task; `ood` doubles the length (the sine continues).
    pub fn new(cfg: &SineTask, ood: bool) -> Self {
        let n = cfg.n_freq.max(1) as usize;
        let freqs = (0..n)
            .map(|i| {
                if n == 1 {
                    cfg.f_min
                } else {
                    cfg.f_min + (cfg.f_max - cfg.f_min) * i as f64 / (n - 1) as f64
                }
            })
            .collect();
        let base = cfg.steps.max(1) as usize;
        Sine {
            freqs,
            f_max: cfg.f_max.max(cfg.f_min).max(1e-9),
            base_steps: base,
            steps: if ood { 2 * base } else { base },
            channels: cfg.channels.max(1) as usize,
        }
    }
}

impl TaskGen for Sine {
    fn n_in(&self) -> usize {
        self.channels
    }
    fn n_out(&self) -> usize {
        self.channels
    }
    fn steps(&self) -> usize {
        self.steps
    }
    /// One condition per combination of the channels' frequencies (saturating).
    fn n_conditions(&self) -> usize {
        self.freqs
            .len()
            .saturating_pow(u32::try_from(self.channels).unwrap_or(u32::MAX))
    }
    fn trial(&self, rng: &mut Pcg64Mcg, condition: Option<usize>) -> Trial {
        let (n, nc) = (self.freqs.len(), self.channels);
        // Condition c picks channel k's frequency as digit k of c in base n_freq.
        let picks: Vec<usize> = (0..nc)
            .map(|k| {
                condition
                    .map(|c| (c / n.saturating_pow(k as u32)) % n)
                    .unwrap_or_else(|| rng.random_range(0..n))
            })
            .collect();
        let mut x = vec![0.0f32; self.steps * nc];
        let mut y = vec![0.0f32; self.steps * nc];
        for (k, &c) in picks.iter().enumerate() {
            let f = self.freqs[c];
            for t in 0..self.steps {
                x[t * nc + k] = (f / self.f_max) as f32;
                y[t * nc + k] = (2.0 * std::f64::consts::PI * f * t as f64 / self.base_steps as f64)
                    .sin() as f32;
            }
        }
        let label: Vec<String> = picks.iter().map(|c| c.to_string()).collect();
        Trial {
            x,
            y,
            mask: vec![1.0; self.steps],
            condition: format!("f{}", label.join("-")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn nbit_outputs_hold_last_pulse() {
        let t = NBitFlipFlop::new(
            &NBitFlipFlopTask {
                bits: 3,
                p_switch: 0.2,
                steps: 50,
            },
            false,
        );
        let tr = t.trial(&mut Pcg64Mcg::seed_from_u64(1), None);
        let mut state = [0.0f32; 3];
        for s in 0..50 {
            for (k, st) in state.iter_mut().enumerate() {
                if tr.x[s * 3 + k] != 0.0 {
                    *st = tr.x[s * 3 + k];
                }
                assert_eq!(tr.y[s * 3 + k], *st);
            }
        }
        assert!(tr.x.contains(&1.0) && tr.x.contains(&-1.0));
    }

    #[test]
    fn delayed_discrimination_sign_delay_and_mask() {
        let d = DelayedDiscrimination::new(
            &DelayTask {
                delay_min: 5,
                delay_max: 20,
                channels: 1,
                aux_output: false,
            },
            false,
        );
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        for i in 0..40 {
            let tr = d.trial(&mut rng, Some(i));
            let pulses: Vec<usize> = (0..d.steps()).filter(|&s| tr.x[s] != 0.0).collect();
            assert_eq!(pulses.len(), 2);
            assert_eq!(pulses[0], DD_FIRST);
            let delay = pulses[1] - pulses[0] - 1;
            assert!((5..=20).contains(&delay));
            let want = (tr.x[pulses[1]] - tr.x[pulses[0]]).signum();
            assert_eq!(want, if i % 2 == 1 { 1.0 } else { -1.0 });
            assert!(tr.mask[..=pulses[1]].iter().all(|&m| m == 0.0));
            assert!(tr.y[pulses[1] + 1..].iter().all(|&v| v == want));
        }
        let ood = DelayedDiscrimination::new(
            &DelayTask {
                delay_min: 5,
                delay_max: 20,
                channels: 1,
                aux_output: false,
            },
            true,
        );
        assert_eq!(ood.steps(), DD_FIRST + 2 + 40 + DD_RESPONSE);
    }

    #[test]
    fn sine_frequency_and_ood_continuation() {
        let cfg = SineTask {
            n_freq: 3,
            f_min: 1.0,
            f_max: 3.0,
            steps: 100,
            channels: 1,
        };
        let s = Sine::new(&cfg, false);
        let tr = s.trial(&mut Pcg64Mcg::seed_from_u64(0), Some(2));
        assert_eq!(tr.x[0], 1.0);
        assert!((tr.y[25] - (2.0 * std::f32::consts::PI * 3.0 * 0.25).sin()).abs() < 1e-5);
        let o = Sine::new(&cfg, true).trial(&mut Pcg64Mcg::seed_from_u64(0), Some(2));
        assert_eq!(o.y.len(), 200);
        assert!((o.y[125] - tr.y[25]).abs() < 1e-4);
    }

    /// Each channel compares its own pair; the auxiliary outputs hold |f2 - f1| / 10; the pulse
    /// times are shared; the condition fixes every channel's direction.
    #[test]
    fn multi_channel_delayed_discrimination_with_aux_output() {
        let d = DelayedDiscrimination::new(
            &DelayTask {
                delay_min: 3,
                delay_max: 9,
                channels: 3,
                aux_output: true,
            },
            false,
        );
        assert_eq!((d.n_in(), d.n_out(), d.n_conditions()), (3, 6, 8));
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        for c in 0..16 {
            let tr = d.trial(&mut rng, Some(c));
            let steps = d.steps();
            let t2 = (DD_FIRST + 1..steps)
                .find(|&s| tr.x[s * 3] != 0.0)
                .expect("second pulse");
            for k in 0..3 {
                let (f1, f2) = (tr.x[DD_FIRST * 3 + k], tr.x[t2 * 3 + k]);
                assert!(f1 > 0.0 && f2 > 0.0 && f1 != f2, "channel {k}: {f1} {f2}");
                assert_eq!(f2 > f1, (c >> k) % 2 == 1, "condition {c}, channel {k}");
                for s in 0..steps {
                    let (sign, aux) = (tr.y[s * 6 + k], tr.y[s * 6 + 3 + k]);
                    if s > t2 {
                        assert_eq!(sign, (f2 - f1).signum());
                        assert!((aux - (f2 - f1).abs()).abs() < 1e-6);
                    } else {
                        assert_eq!((sign, aux), (0.0, 0.0));
                    }
                }
            }
            assert!(tr.mask[..=t2].iter().all(|&m| m == 0.0));
            assert!(tr.mask[t2 + 1..].iter().all(|&m| m == 1.0));
        }
    }

    /// The single-channel task without the auxiliary output draws what it always drew.
    #[test]
    fn one_channel_delayed_discrimination_is_unchanged() {
        let d = DelayedDiscrimination::new(
            &DelayTask {
                delay_min: 5,
                delay_max: 20,
                channels: 1,
                aux_output: false,
            },
            false,
        );
        let tr = d.trial(&mut Pcg64Mcg::seed_from_u64(2), None);
        // The values of the generator before it had channels (same seed).
        let pulses: Vec<(usize, f32)> = (0..d.steps())
            .filter(|&s| tr.x[s] != 0.0)
            .map(|s| (s, tr.x[s]))
            .collect();
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        let higher = rng.random_range(0..2) == 1;
        let (f1, f2) = dd_pair(&mut rng, higher);
        let delay = rng.random_range(5..=20usize);
        assert_eq!(
            pulses,
            vec![
                (DD_FIRST, f1 as f32 / 10.0),
                (DD_FIRST + 1 + delay, f2 as f32 / 10.0)
            ]
        );
        assert_eq!(tr.condition, if higher { "up" } else { "down" });
    }

    #[test]
    fn multi_channel_sine_has_one_frequency_per_channel() {
        let cfg = SineTask {
            n_freq: 3,
            f_min: 1.0,
            f_max: 3.0,
            steps: 100,
            channels: 2,
        };
        let s = Sine::new(&cfg, false);
        assert_eq!((s.n_in(), s.n_out(), s.n_conditions()), (2, 2, 9));
        // Condition 5 = digits (2, 1): channel 0 at 3 cycles, channel 1 at 2.
        let tr = s.trial(&mut Pcg64Mcg::seed_from_u64(0), Some(5));
        assert_eq!((tr.x[0], tr.x[1]), (1.0, 2.0 / 3.0));
        let want = |f: f32| (2.0 * std::f32::consts::PI * f * 0.1).sin();
        assert!((tr.y[10 * 2] - want(3.0)).abs() < 1e-5);
        assert!((tr.y[10 * 2 + 1] - want(2.0)).abs() < 1e-5);
        assert_eq!(tr.condition, "f2-1");
    }
}
