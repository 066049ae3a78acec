//! 2-D path integration (Huang et al.'s fourth task, docs/RNN.md): each step the network reads
//! the heading as (cos theta, sin theta) and the speed v, and reports the position reached by
//! integrating them from the origin.
//!
//! The heading is fed as its cosine and sine, not as the angle: the displacement
//! v (cos theta, sin theta) is then a product of two inputs, while the angle itself jumps from
//! pi to -pi where the displacement is continuous, a discontinuity a tanh network would have
//! to learn around.

use super::{TaskGen, Trial};
use ensweep_core::config::tanh_rnn::PathIntegrationTask;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

/// The path-integration generator.
#[derive(Clone, Debug)]
pub struct PathIntegration {
    steps: usize,
    speed_max: f64,
    turn_std: f64,
    arena: f64,
}

impl PathIntegration {
    /// The task; `ood` doubles the trial length.
    pub fn new(cfg: &PathIntegrationTask, ood: bool) -> Self {
        let steps = cfg.steps.max(1) as usize;
        PathIntegration {
            steps: if ood { 2 * steps } else { steps },
            speed_max: cfg.speed_max,
            turn_std: cfg.turn_std,
            arena: cfg.arena,
        }
    }
}

/// Mirrors one component of the direction when the step would leave [-arena, arena]: the
/// mirrored step stays inside whenever the speed is at most the arena's half-width.
fn wall(pos: f64, dir: f64, v: f64, arena: f64) -> f64 {
    if (pos + v * dir).abs() > arena {
        -dir
    } else {
        dir
    }
}

impl TaskGen for PathIntegration {
    fn n_in(&self) -> usize {
        3
    }
    fn n_out(&self) -> usize {
        2
    }
    fn steps(&self) -> usize {
        self.steps
    }
    fn n_conditions(&self) -> usize {
        1
    }
    /// A smooth random walk from the origin: the heading turns by a Normal(0, turn_std^2) step,
    /// the speed is Uniform[0, speed_max), and a component of the direction that would cross a
    /// wall is mirrored before the step (a reflecting wall whose reflected heading is what the
    /// network reads, so the target stays the exact sum of the inputs' displacements).
    fn trial(&self, rng: &mut Pcg64Mcg, _condition: Option<usize>) -> Trial {
        let mut x = Vec::with_capacity(3 * self.steps);
        let mut y = Vec::with_capacity(2 * self.steps);
        let mut theta = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
        let (mut px, mut py) = (0.0f64, 0.0f64);
        for _ in 0..self.steps {
            let turn: f64 = StandardNormal.sample(rng);
            theta += self.turn_std * turn;
            let v = rng.random_range(0.0..self.speed_max);
            let cx = wall(px, theta.cos(), v, self.arena);
            let cy = wall(py, theta.sin(), v, self.arena);
            theta = cy.atan2(cx);
            // The target integrates the f32 inputs the network reads, so it is their exact sum.
            let (cx, cy, vf) = (cx as f32, cy as f32, v as f32);
            x.extend_from_slice(&[cx, cy, vf]);
            px += f64::from(vf * cx);
            py += f64::from(vf * cy);
            y.extend_from_slice(&[px as f32, py as f32]);
        }
        Trial {
            x,
            y,
            mask: vec![1.0; self.steps],
            condition: "random".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn task(ood: bool) -> PathIntegration {
        PathIntegration::new(
            &PathIntegrationTask {
                steps: 100,
                speed_max: 0.5,
                turn_std: 0.3,
                arena: 5.0,
            },
            ood,
        )
    }

    #[test]
    fn target_is_the_integral_of_the_inputs() {
        let t = task(false);
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        for tr in t.trials(&mut rng, 20) {
            let (mut px, mut py) = (0.0f64, 0.0f64);
            for s in 0..100 {
                let (c, sn, v) = (tr.x[3 * s], tr.x[3 * s + 1], tr.x[3 * s + 2]);
                assert!(
                    (c * c + sn * sn - 1.0).abs() < 1e-5,
                    "heading not a unit vector"
                );
                assert!((0.0..0.5).contains(&v), "speed {v}");
                px += f64::from(v * c);
                py += f64::from(v * sn);
                assert!((tr.y[2 * s] as f64 - px).abs() < 1e-5);
                assert!((tr.y[2 * s + 1] as f64 - py).abs() < 1e-5);
            }
        }
    }

    /// A fast, straight walker hits the walls many times and stays inside.
    #[test]
    fn positions_stay_in_the_arena() {
        let t = PathIntegration::new(
            &PathIntegrationTask {
                steps: 400,
                speed_max: 2.0,
                turn_std: 0.05,
                arena: 3.0,
            },
            false,
        );
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut near_wall = 0;
        for tr in t.trials(&mut rng, 20) {
            for p in &tr.y {
                assert!(p.abs() <= 3.0 + 1e-5, "position {p} outside [-3, 3]");
                near_wall += usize::from(p.abs() > 2.5);
            }
        }
        assert!(near_wall > 100, "the walls were never reached: {near_wall}");
        // The default arena and speeds explore beyond the centre.
        let far = task(false)
            .trials(&mut rng, 50)
            .iter()
            .flat_map(|tr| tr.y.clone())
            .fold(0.0f32, |m, p| m.max(p.abs()));
        assert!(far > 2.0 && far <= 5.0, "largest |position| {far}");
    }

    #[test]
    fn deterministic_from_the_seed_and_ood_doubles_the_length() {
        let a = task(false).trial(&mut Pcg64Mcg::seed_from_u64(3), None);
        let b = task(false).trial(&mut Pcg64Mcg::seed_from_u64(3), None);
        let c = task(false).trial(&mut Pcg64Mcg::seed_from_u64(4), None);
        assert_eq!(a.x, b.x);
        assert_eq!(a.y, b.y);
        assert_ne!(a.x, c.x);
        let o = task(true);
        assert_eq!(o.steps(), 200);
        assert_eq!(o.trial(&mut Pcg64Mcg::seed_from_u64(3), None).y.len(), 400);
    }
}
