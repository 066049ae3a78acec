//! The vectorised normal generator of the training noise: `LANES` xoshiro128+ streams and
//! Box-Muller with polynomial `ln`, `sin`, `cos`, so every instruction set gives the same bits.

/// Lanes of the vectorised normal generator.
pub const LANES: usize = 8;

/// State of [`fill_normals`]: `LANES` independent xoshiro128+ generators (one per SIMD lane).
#[derive(Clone, Debug)]
pub struct NormalState {
    s: [[u32; LANES]; 4],
}

impl NormalState {
    /// Seeds the lanes from `rng` (128 bits each; a lane that would be all-zero is fixed).
    pub fn from_rng(rng: &mut impl rand::Rng) -> Self {
        let mut s = [[0u32; LANES]; 4];
        for lane in 0..LANES {
            for w in &mut s {
                w[lane] = rng.next_u32();
            }
            if (0..4).all(|k| s[k][lane] == 0) {
                s[0][lane] = 1;
            }
        }
        NormalState { s }
    }

    /// One step of every lane: the lanes' next 32-bit outputs.
    #[inline(always)]
    fn next(&mut self) -> [u32; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0u32; LANES];
        for i in 0..LANES {
            out[i] = s0[i].wrapping_add(s3[i]);
            let t = s1[i] << 9;
            s2[i] ^= s0[i];
            s3[i] ^= s1[i];
            s1[i] ^= s2[i];
            s0[i] ^= s3[i];
            s2[i] ^= t;
            s3[i] = s3[i].rotate_left(11);
        }
        out
    }
}

dispatch_plain!(pub fn fill_normals(st: &mut NormalState, out: &mut [f32]) => fill_normals_body);

/// Fills `out` with standard normals: Box-Muller on `LANES` lanes at a time with polynomial
/// `ln`, `sin`, `cos` (Cephes single-precision minimax polynomials; relative error of each below
/// 2e-7 on the ranges used), from 24-bit uniforms `u1 in (0, 1]`, `u2 in [0, 1)`. Every block
/// yields `2 LANES` normals (`r cos`, then `r sin`); a partial last block discards the rest.
/// The tails are cut at `sqrt(-2 ln 2^-24) = 5.77` standard deviations (probability 8e-9).
/// Plain multiplies and adds only, so every instruction set gives the same bits.
#[inline(always)]
fn fill_normals_body(st: &mut NormalState, out: &mut [f32]) {
    let mut blocks = out.chunks_exact_mut(2 * LANES);
    for blk in &mut blocks {
        let (c, s) = normal_block(st);
        blk[..LANES].copy_from_slice(&c);
        blk[LANES..].copy_from_slice(&s);
    }
    let rest = blocks.into_remainder();
    if !rest.is_empty() {
        let (c, s) = normal_block(st);
        let mut all = [0.0f32; 2 * LANES];
        all[..LANES].copy_from_slice(&c);
        all[LANES..].copy_from_slice(&s);
        let k = rest.len();
        rest.copy_from_slice(&all[..k]);
    }
}

/// `2 LANES` standard normals (see [`fill_normals`]).
#[inline(always)]
fn normal_block(st: &mut NormalState) -> ([f32; LANES], [f32; LANES]) {
    let x = st.next();
    let y = st.next();
    let mut c = [0.0f32; LANES];
    let mut s = [0.0f32; LANES];
    const TWO_M24: f32 = 1.0 / 16_777_216.0;
    for i in 0..LANES {
        // u1 in (0, 1]: ln u1 in [-16.64, 0].
        let u1 = ((x[i] >> 8) + 1) as f32 * TWO_M24;
        let r = (-2.0 * ln_unit(u1)).sqrt();
        // u2 = k 2^-24; angle 2 pi u2 = quadrant q (pi/2) + phi, phi in [-pi/4, pi/4).
        let k = y[i] >> 8;
        let q = (k + (1 << 21)) >> 22; // round(4 u2), 0..=4
        let f = (k as i32 - (q << 22) as i32) as f32 * TWO_M24; // [-1/8, 1/8)
        let phi = f * std::f32::consts::TAU;
        let (sp, cp) = sincos_quarter(phi);
        let q = q & 3;
        let (cc, ss) = if q & 1 == 1 { (sp, cp) } else { (cp, sp) };
        let cos_neg = ((q + 1) >> 1) & 1;
        let sin_neg = q >> 1;
        c[i] = r * f32::from_bits(cc.to_bits() ^ (cos_neg << 31));
        s[i] = r * f32::from_bits(ss.to_bits() ^ (sin_neg << 31));
    }
    (c, s)
}

/// Natural logarithm of a normal positive `x` (Cephes `logf`).
// The Cephes constants as published (they round to the same f32).
#[expect(
    clippy::excessive_precision,
    reason = "the Cephes coefficients as published, digits beyond f32 included"
)]
#[inline(always)]
fn ln_unit(x: f32) -> f32 {
    const SQRTHF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    let m0 = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // [0.5, 1)
    let small = m0 < SQRTHF;
    e -= small as i32;
    let m = if small { m0 + m0 - 1.0 } else { m0 - 1.0 };
    let z = m * m;
    let mut y = 7.037_683_6e-2;
    y = y * m - 1.151_461_03e-1;
    y = y * m + 1.167_699_87e-1;
    y = y * m - 1.242_014_08e-1;
    y = y * m + 1.424_932_3e-1;
    y = y * m - 1.666_805_8e-1;
    y = y * m + 2.000_071_4e-1;
    y = y * m - 2.499_999_4e-1;
    y = y * m + 3.333_333_1e-1;
    y = y * m * z;
    let ef = e as f32;
    y += ef * -2.121_944_4e-4;
    y += -0.5 * z;
    m + y + ef * 0.693_359_4
}

/// `(sin phi, cos phi)` for `|phi| <= pi/4` (Cephes `sinf`/`cosf` polynomials).
// The Cephes constants as published (they round to the same f32).
#[expect(
    clippy::excessive_precision,
    reason = "the Cephes coefficients as published, digits beyond f32 included"
)]
#[inline(always)]
fn sincos_quarter(phi: f32) -> (f32, f32) {
    let z = phi * phi;
    let s = ((-1.951_529_6e-4 * z + 8.332_160_9e-3) * z - 1.666_665_5e-1) * z * phi + phi;
    let c = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    (s, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_ln_and_sincos_are_accurate() {
        let mut worst_ln = 0.0f64;
        for k in 1..=(1u32 << 24) {
            if k % 97 != 0 && k > 5000 {
                continue;
            }
            let x = k as f32 / 16_777_216.0;
            let err = (ln_unit(x) as f64 - (x as f64).ln()).abs();
            worst_ln = worst_ln.max(err / (x as f64).ln().abs().max(1e-3));
        }
        assert!(worst_ln < 5e-7, "ln relative error {worst_ln}");
        let mut worst = 0.0f64;
        for k in -1000..=1000 {
            let phi = k as f32 / 1000.0 * std::f32::consts::FRAC_PI_4;
            let (s, c) = sincos_quarter(phi);
            worst = worst.max((s as f64 - (phi as f64).sin()).abs());
            worst = worst.max((c as f64 - (phi as f64).cos()).abs());
        }
        assert!(worst < 2e-7, "sin/cos absolute error {worst}");
    }

    #[test]
    fn normals_have_the_right_moments_and_quadrants() {
        use rand::SeedableRng;
        let mut st = NormalState::from_rng(&mut rand_pcg::Pcg64Mcg::seed_from_u64(3));
        let n = 1 << 21;
        let mut x = vec![0.0f32; n + 5];
        fill_normals(&mut st, &mut x);
        let x = &x[..n];
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let m2 = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let m4 = x.iter().map(|&v| (v as f64 - mean).powi(4)).sum::<f64>() / n as f64;
        let m3 = x.iter().map(|&v| (v as f64 - mean).powi(3)).sum::<f64>() / n as f64;
        // Standard errors: mean 7e-4, variance 1e-3, skewness 1.7e-3, kurtosis 3.4e-3.
        assert!(mean.abs() < 4e-3, "mean {mean}");
        assert!((m2 - 1.0).abs() < 6e-3, "variance {m2}");
        assert!(m3.abs() < 1e-2, "third moment {m3}");
        assert!(
            (m4 / (m2 * m2) - 3.0).abs() < 2e-2,
            "kurtosis {}",
            m4 / (m2 * m2)
        );
        // Tail and sign balance, and the cos/sin halves of a block are independent.
        let frac = |t: f32| x.iter().filter(|v| v.abs() > t).count() as f64 / n as f64;
        assert!(
            (frac(1.96) - 0.05).abs() < 1.5e-3,
            "P(|x|>1.96) = {}",
            frac(1.96)
        );
        assert!(
            (frac(3.0) - 0.0027).abs() < 3e-4,
            "P(|x|>3) = {}",
            frac(3.0)
        );
        let pos = x.iter().filter(|&&v| v > 0.0).count() as f64 / n as f64;
        assert!((pos - 0.5).abs() < 2e-3, "P(x>0) = {pos}");
        let corr = x
            .chunks_exact(2 * LANES)
            .map(|b| {
                (0..LANES)
                    .map(|i| (b[i] * b[i + LANES]) as f64)
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (n / 2) as f64;
        assert!(corr.abs() < 5e-3, "cos/sin correlation {corr}");
        // Deterministic per seed.
        let mut a = NormalState::from_rng(&mut rand_pcg::Pcg64Mcg::seed_from_u64(9));
        let mut b = a.clone();
        let (mut u, mut v) = (vec![0.0f32; 37], vec![0.0f32; 37]);
        fill_normals(&mut a, &mut u);
        fill_normals_body(&mut b, &mut v);
        assert_eq!(u, v, "dispatched and baseline code give the same bits");
    }
}
