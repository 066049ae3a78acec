//! Throughput of `kernel::gemm_rows` on the GEMM shapes of the spike-and-slab RNN step
//! (per CPU second, so it is meaningful on a shared machine too).
//!
//! `cargo run --release -p ensweep-recurrent --example kernel_bench`
fn main() {
    use ensweep_recurrent::bench::cpu_seconds;
    let (b, w, n) = (64usize, 128usize, 100usize);
    let a: Vec<f32> = (0..b * w).map(|i| (i % 7) as f32 * 0.1).collect();
    let p: Vec<f32> = (0..w * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let reps = 20000;
    for (name, m, k, nn) in [
        ("fwd 64x128x100", b, w, n),
        ("bwd 64x100x100", b, n, n),
        ("wgrad 100x64x128", n, b, w),
    ] {
        let mut cc = vec![0.0f32; m * nn.max(w)];
        let t0 = std::time::Instant::now();
        let c0 = cpu_seconds();
        for _ in 0..reps {
            if name.starts_with("wgrad") {
                ensweep_recurrent::kernel::gemm_rows(
                    m,
                    k,
                    nn,
                    (&p[..], 1, n),
                    (&a[..], w),
                    true,
                    &mut cc,
                    nn,
                );
            } else {
                ensweep_recurrent::kernel::gemm_rows(
                    m,
                    k,
                    nn,
                    (&a[..], w, 1),
                    (&p[..], n),
                    false,
                    &mut cc,
                    nn,
                );
            }
        }
        let cpu = cpu_seconds() - c0;
        let fl = 2.0 * (m * k * nn) as f64 * reps as f64;
        println!(
            "{name}: {:.1} GFLOP/s CPU ({:.1} wall)",
            fl / cpu / 1e9,
            fl / t0.elapsed().as_secs_f64() / 1e9
        );
    }
}
