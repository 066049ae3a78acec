//! Jarne & Laje's tasks (docs/PAPERS.md 3a.2), one step = 1 ms: logic gates, flip-flop, oscillator
//! and time pulse. Timings follow the authors' generators; the loss mask is 1 everywhere, as
//! theirs is.

use super::{TaskGen, Trial, convolve_same, gaussian, hann};
use ensweep_core::config::tanh_rnn::{FlipFlopTask, GateTask, OscillatorTask, TimePulseTask};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

/// Gate stimulus onset, ms.
pub const GATE_FIRST_IN: usize = 30;
/// Gate stimulus duration, ms.
pub const GATE_STIM: usize = 20;

/// Which logic gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateKind {
    /// A AND B.
    And,
    /// A OR B.
    Or,
    /// A XOR B.
    Xor,
    /// NOT A (one input).
    Not,
}

/// Logic gate: inputs at 30-50 ms, target from 50 + mem_gap ms to the end.
#[derive(Clone, Debug)]
pub struct Gate {
    kind: GateKind,
    mem_gap: usize,
    steps: usize,
    noise: f64,
}

impl Gate {
    /// The gate task; `ood` doubles the trial length.
    pub fn new(kind: GateKind, cfg: &GateTask, ood: bool) -> Self {
        let out_gap = if kind == GateKind::And { 140 } else { 130 };
        let mem_gap = cfg.mem_gap as usize;
        let steps = GATE_FIRST_IN + GATE_STIM + mem_gap + out_gap;
        Gate {
            kind,
            mem_gap,
            steps: if ood { 2 * steps } else { steps },
            noise: cfg.input_noise,
        }
    }

    /// Target onset, ms.
    pub fn onset(&self) -> usize {
        GATE_FIRST_IN + GATE_STIM + self.mem_gap
    }

    fn baseline(&self) -> f32 {
        if self.kind == GateKind::And {
            0.0
        } else {
            0.01
        }
    }
}

impl TaskGen for Gate {
    fn n_in(&self) -> usize {
        if self.kind == GateKind::Not { 1 } else { 2 }
    }
    fn n_out(&self) -> usize {
        1
    }
    fn steps(&self) -> usize {
        self.steps
    }
    fn n_conditions(&self) -> usize {
        if self.kind == GateKind::Not { 2 } else { 4 }
    }
    fn trial(&self, rng: &mut Pcg64Mcg, condition: Option<usize>) -> Trial {
        let nc = self.n_conditions();
        let c = condition
            .map(|c| c % nc)
            .unwrap_or_else(|| rng.random_range(0..nc));
        // Condition c: bit 0 = A, bit 1 = B (the authors' order 00, 10, 01, 11).
        let (a, b) = (c & 1, (c >> 1) & 1);
        let value = match self.kind {
            GateKind::And => a & b,
            GateKind::Or => a | b,
            GateKind::Xor => a ^ b,
            GateKind::Not => 1 - a,
        } as f32;
        let n_in = self.n_in();
        let mut x = vec![0.0f32; self.steps * n_in];
        for s in GATE_FIRST_IN..GATE_FIRST_IN + GATE_STIM {
            x[s * n_in] = a as f32;
            if n_in == 2 {
                x[s * n_in + 1] = b as f32;
            }
        }
        add_noise(&mut x, self.noise, rng);
        let mut y = vec![self.baseline(); self.steps];
        y[self.onset()..].iter_mut().for_each(|v| *v = value);
        let condition = if n_in == 2 {
            format!("{a}{b}")
        } else {
            format!("{a}")
        };
        Trial {
            x,
            y,
            mask: vec![1.0; self.steps],
            condition,
        }
    }
}

/// Flip-flop: 20 ms pulses every 120 ms from 50 ms on channel 0 (Reset) or 1 (Set).
#[derive(Clone, Debug)]
pub struct FlipFlop {
    pulses: usize,
    mem_gap: usize,
    noise: f64,
}

/// First flip-flop pulse onset, ms.
pub const FF_FIRST: usize = 50;
/// Flip-flop pulse period, ms.
pub const FF_PERIOD: usize = 120;
/// Flip-flop pulse duration, ms.
pub const FF_PULSE: usize = 20;

impl FlipFlop {
    /// The flip-flop task; `ood` doubles the number of pulses (and so the length).
    pub fn new(cfg: &FlipFlopTask, ood: bool) -> Self {
        let p = cfg.pulses.max(1) as usize;
        FlipFlop {
            pulses: if ood { 2 * p } else { p },
            mem_gap: cfg.mem_gap as usize,
            noise: cfg.input_noise,
        }
    }
}

impl TaskGen for FlipFlop {
    fn n_in(&self) -> usize {
        2
    }
    fn n_out(&self) -> usize {
        1
    }
    fn steps(&self) -> usize {
        FF_FIRST + self.pulses * FF_PERIOD
    }
    fn n_conditions(&self) -> usize {
        1 << self.pulses.min(16)
    }
    fn trial(&self, rng: &mut Pcg64Mcg, condition: Option<usize>) -> Trial {
        let steps = self.steps();
        let bits = condition.unwrap_or_else(|| rng.random_range(0..self.n_conditions()));
        let mut x = vec![0.0f32; steps * 2];
        let mut y = vec![0.01f32; steps];
        let mut label = String::new();
        for k in 0..self.pulses {
            let set = (bits >> (k % 16)) & 1 == 1;
            label.push(if set { 'S' } else { 'R' });
            let on = FF_FIRST + k * FF_PERIOD;
            for s in on..on + FF_PULSE {
                x[s * 2 + usize::from(set)] = 1.0;
            }
            let switch = (on + FF_PULSE + self.mem_gap).min(steps);
            y[switch..]
                .iter_mut()
                .for_each(|v| *v = if set { 1.0 } else { 0.0 });
        }
        add_noise(&mut x, self.noise, rng);
        Trial {
            x,
            y,
            mask: vec![1.0; steps],
            condition: label,
        }
    }
}

/// Oscillator: a smoothed 40 ms pulse at 100-140 ms (present or absent) triggers an oscillation
/// of 12 cycles per trial length from 160 ms until 40 ms before the end, amplitude scale 0.2.
#[derive(Clone, Debug)]
pub struct Oscillator {
    steps: usize,
    noise: f64,
}

const OSC_FIRST: usize = 100;
const OSC_STIM: usize = 40;
const OSC_OUT_T: usize = 160;
const OSC_OUT_GAP: usize = 40;

impl Oscillator {
    /// The oscillator task; `ood` doubles the trial length.
    pub fn new(cfg: &OscillatorTask, ood: bool) -> Self {
        let steps = OSC_FIRST + 2 * OSC_STIM + cfg.mem_gap as usize + OSC_OUT_GAP;
        Oscillator {
            steps: if ood { 2 * steps } else { steps },
            noise: cfg.input_noise,
        }
    }
}

impl TaskGen for Oscillator {
    fn n_in(&self) -> usize {
        1
    }
    fn n_out(&self) -> usize {
        1
    }
    fn steps(&self) -> usize {
        self.steps
    }
    fn n_conditions(&self) -> usize {
        2
    }
    fn trial(&self, rng: &mut Pcg64Mcg, condition: Option<usize>) -> Trial {
        let present = condition
            .map(|c| c % 2)
            .unwrap_or_else(|| rng.random_range(0..2))
            == 1;
        let amp = if present { 1.0 } else { 0.0 };
        let mut x = vec![0.0f32; self.steps];
        let win = hann(15);
        let wsum: f64 = win.iter().sum();
        let stim = convolve_same(&[amp; OSC_STIM], &win);
        for (i, v) in stim.iter().enumerate() {
            x[OSC_FIRST + i] = (v / wsum) as f32;
        }
        add_noise(&mut x, self.noise, rng);
        let mut y = vec![0.01f32 * 0.2; self.steps];
        let end = self.steps.saturating_sub(OSC_OUT_GAP).max(OSC_OUT_T);
        let seg = vec![amp; end - OSC_OUT_T];
        let kernel: Vec<f64> = (0..self.steps)
            .map(|i| (2.0 * std::f64::consts::PI * 12.0 / self.steps as f64 * i as f64).sin())
            .collect();
        for (i, v) in convolve_same(&seg, &kernel).iter().enumerate() {
            y[OSC_OUT_T + i] = (0.2 * v) as f32;
        }
        Trial {
            x,
            y,
            mask: vec![1.0; self.steps],
            condition: if present { "1" } else { "0" }.into(),
        }
    }
}

/// Time pulse: a smoothed 20 ms pulse at 50-70 ms (amplitude 0 or 1); target a 20 ms bump
/// starting `mem_gap` ms after the stimulus end; baseline 0.045 by default; noise on input and
/// target.
#[derive(Clone, Debug)]
pub struct TimePulse {
    mem_gap: usize,
    steps: usize,
    noise: f64,
    baseline: f32,
}

const TP_FIRST: usize = 50;
const TP_STIM: usize = 20;

impl TimePulse {
    /// The time-pulse task; `ood` doubles the interval (the trial grows if needed).
    pub fn new(cfg: &TimePulseTask, ood: bool) -> Self {
        let mem_gap = cfg.mem_gap as usize * if ood { 2 } else { 1 };
        let need = TP_FIRST + TP_STIM + mem_gap + TP_STIM + 10;
        TimePulse {
            mem_gap,
            steps: (cfg.length as usize).max(need),
            noise: cfg.noise,
            baseline: cfg.baseline as f32,
        }
    }

    /// Onset of the response bump, ms.
    pub fn onset(&self) -> usize {
        TP_FIRST + TP_STIM + self.mem_gap
    }
}

impl TaskGen for TimePulse {
    fn n_in(&self) -> usize {
        1
    }
    fn n_out(&self) -> usize {
        1
    }
    fn steps(&self) -> usize {
        self.steps
    }
    fn n_conditions(&self) -> usize {
        2
    }
    fn trial(&self, rng: &mut Pcg64Mcg, condition: Option<usize>) -> Trial {
        let present = condition
            .map(|c| c % 2)
            .unwrap_or_else(|| rng.random_range(0..2))
            == 1;
        let amp = if present { 1.0 } else { 0.0 };
        let mut x = vec![0.0f32; self.steps];
        let win = hann(10);
        let wsum: f64 = win.iter().sum();
        for (i, v) in convolve_same(&[amp; TP_STIM], &win).iter().enumerate() {
            x[TP_FIRST + i] = (v / wsum) as f32;
        }
        let mut y = vec![self.baseline; self.steps];
        let g: Vec<f64> = gaussian(TP_STIM, 12.0).iter().map(|v| 0.055 * v).collect();
        for (i, v) in convolve_same(&[amp; TP_STIM], &g).iter().enumerate() {
            y[self.onset() + i] = *v as f32;
        }
        add_noise(&mut x, self.noise, rng);
        add_noise(&mut y, self.noise, rng);
        Trial {
            x,
            y,
            mask: vec![1.0; self.steps],
            condition: if present { "1" } else { "0" }.into(),
        }
    }
}

fn add_noise(v: &mut [f32], std: f64, rng: &mut Pcg64Mcg) {
    if std > 0.0 {
        for x in v {
            let e: f64 = StandardNormal.sample(rng);
            *x += (std * e) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> Pcg64Mcg {
        Pcg64Mcg::seed_from_u64(3)
    }

    #[test]
    fn and_gate_timing_and_targets() {
        let g = Gate::new(
            GateKind::And,
            &GateTask {
                mem_gap: 20,
                input_noise: 0.0,
            },
            false,
        );
        assert_eq!(g.steps(), 210);
        assert_eq!(g.onset(), 70);
        for c in 0..4 {
            let t = g.trial(&mut rng(), Some(c));
            let (a, b) = ((c & 1) as f32, ((c >> 1) & 1) as f32);
            assert_eq!(t.x[29 * 2], 0.0);
            assert_eq!((t.x[30 * 2], t.x[30 * 2 + 1]), (a, b));
            assert_eq!((t.x[49 * 2], t.x[49 * 2 + 1]), (a, b));
            assert_eq!(t.x[50 * 2] + t.x[50 * 2 + 1], 0.0);
            assert_eq!(t.y[69], 0.0);
            assert_eq!(t.y[70], a * b);
            assert_eq!(t.y[209], a * b);
            assert!(t.mask.iter().all(|&m| m == 1.0));
        }
        let ood = Gate::new(
            GateKind::And,
            &GateTask {
                mem_gap: 20,
                input_noise: 0.0,
            },
            true,
        );
        assert_eq!(ood.steps(), 420);
    }

    #[test]
    fn or_xor_not_baselines_and_lengths() {
        let cfg = GateTask {
            mem_gap: 20,
            input_noise: 0.0,
        };
        for (kind, want) in [
            (GateKind::Or, [0.0, 1.0, 1.0, 1.0]),
            (GateKind::Xor, [0.0, 1.0, 1.0, 0.0]),
        ] {
            let g = Gate::new(kind, &cfg, false);
            assert_eq!(g.steps(), 200);
            for (c, w) in want.iter().enumerate() {
                let t = g.trial(&mut rng(), Some(c));
                assert_eq!(t.y[0], 0.01);
                assert_eq!(t.y[70], *w);
            }
        }
        let not = Gate::new(GateKind::Not, &cfg, false);
        assert_eq!(not.trial(&mut rng(), Some(0)).y[100], 1.0);
        assert_eq!(not.trial(&mut rng(), Some(1)).y[100], 0.0);
    }

    #[test]
    fn flip_flop_switches_mem_gap_after_each_pulse() {
        let f = FlipFlop::new(
            &FlipFlopTask {
                pulses: 3,
                mem_gap: 20,
                input_noise: 0.0,
            },
            false,
        );
        assert_eq!(f.steps(), 50 + 3 * 120);
        // bits 0b101: Set, Reset, Set
        let t = f.trial(&mut rng(), Some(0b101));
        assert_eq!(t.condition, "SRS");
        assert_eq!(t.x[50 * 2 + 1], 1.0); // Set channel at 50 ms
        assert_eq!(t.x[170 * 2], 1.0); // Reset channel at 170 ms
        assert_eq!(t.y[89], 0.01);
        assert_eq!(t.y[90], 1.0); // 50 + 20 + 20
        assert_eq!(t.y[209], 1.0);
        assert_eq!(t.y[210], 0.0); // 170 + 20 + 20
        assert_eq!(t.y[330], 1.0);
    }

    #[test]
    fn oscillator_and_time_pulse_shapes() {
        let o = Oscillator::new(
            &OscillatorTask {
                mem_gap: 200,
                input_noise: 0.0,
            },
            false,
        );
        assert_eq!(o.steps(), 420);
        let on = o.trial(&mut rng(), Some(1));
        let off = o.trial(&mut rng(), Some(0));
        assert!(on.x[120] > 0.9 && on.x[99] == 0.0);
        assert!(off.y.iter().all(|v| v.abs() < 0.01));
        let osc = &on.y[160..380];
        assert!(on.y[380..].iter().all(|&v| (v - 0.002).abs() < 1e-6));
        assert!(osc.iter().any(|&v| v > 0.05) && osc.iter().any(|&v| v < -0.05));

        let p = TimePulse::new(
            &TimePulseTask {
                mem_gap: 100,
                noise: 0.0,
                length: 300,
                baseline: 0.045,
                test_baseline: None,
            },
            false,
        );
        assert_eq!((p.steps(), p.onset()), (300, 170));
        let t = p.trial(&mut rng(), Some(1));
        assert!((t.y[169] - 0.045).abs() < 1e-6);
        let peak = t.y[170..190].iter().cloned().fold(0.0f32, f32::max);
        assert!((0.9..1.0).contains(&peak), "peak {peak}");
        assert!((t.y[170] - 0.5).abs() < 0.1, "edge {}", t.y[170]);
        assert!((t.y[190] - 0.045).abs() < 1e-6);
        let ood = TimePulse::new(
            &TimePulseTask {
                mem_gap: 170,
                noise: 0.0,
                length: 300,
                baseline: 0.01,
                test_baseline: None,
            },
            true,
        );
        assert_eq!(ood.onset(), 410);
        assert!(ood.steps() >= 440);
        let t = ood.trial(&mut rng(), Some(1));
        assert!((t.y[409] - 0.01).abs() < 1e-6 && (t.y[435] - 0.01).abs() < 1e-6);
    }
}
