//! `ensweep bench gemm`: throughput of `ensweep_recurrent::kernel::gemm_rows` on the three
//! product shapes of one spike-and-slab RNN step (docs/PERFORMANCE.md, "Recurrent trainers"),
//! per CPU second as well as per wall second, so that it means something on a shared machine.

use clap::Args;
use ensweep_recurrent::kernel::gemm_rows;
use std::time::Instant;

/// Arguments of `ensweep bench gemm`.
#[derive(Args)]
pub struct GemmArgs {
    /// Calls of each product shape.
    #[arg(long, default_value_t = 20_000)]
    reps: usize,
}

/// Trials in a batch, packed `[input | recurrent]` width, hidden units: the shapes of the
/// row-MNIST step (B = 64, 28 + 100 inputs, N = 100).
const B: usize = 64;
const W: usize = 128;
const N: usize = 100;

/// One product shape: `C (m x n) = L (m x k) * R (k x n)`, with L read transposed for the
/// weight gradient.
struct Shape {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    weight_gradient: bool,
}

const SHAPES: [Shape; 3] = [
    Shape {
        name: "fwd 64x128x100",
        m: B,
        k: W,
        n: N,
        weight_gradient: false,
    },
    Shape {
        name: "bwd 64x100x100",
        m: B,
        k: N,
        n: N,
        weight_gradient: false,
    },
    Shape {
        name: "wgrad 100x64x128",
        m: N,
        k: B,
        n: W,
        weight_gradient: true,
    },
];

/// Runs `ensweep bench gemm` and prints GFLOP/s per CPU second and per wall second.
pub fn gemm(a: GemmArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.reps >= 1, "--reps must be at least 1");
    // Activations (B x W) and parameters (W x N), row-major; the values only need to be finite.
    let act: Vec<f32> = (0..B * W).map(|i| (i % 7) as f32 * 0.1).collect();
    let par: Vec<f32> = (0..W * N).map(|i| (i % 5) as f32 * 0.1).collect();
    for s in &SHAPES {
        let mut c = vec![0.0f32; s.m * s.n.max(W)];
        let wall0 = Instant::now();
        let cpu0 = super::rnn::cpu_seconds();
        for _ in 0..a.reps {
            if s.weight_gradient {
                // dW += P^T A: the parameter-shaped matrix read column-wise.
                gemm_rows(s.m, s.k, s.n, (&par, 1, N), (&act, W), true, &mut c, s.n);
            } else {
                gemm_rows(s.m, s.k, s.n, (&act, W, 1), (&par, N), false, &mut c, s.n);
            }
        }
        let cpu = super::rnn::cpu_seconds() - cpu0;
        let flops = 2.0 * (s.m * s.k * s.n) as f64 * a.reps as f64;
        println!(
            "{}: {:.1} GFLOP/s CPU ({:.1} wall)",
            s.name,
            flops / cpu / 1e9,
            flops / wall0.elapsed().as_secs_f64() / 1e9
        );
    }
    Ok(())
}
