//! Deterministic random streams.
//!
//! Every random number in ensweep comes from a stream named by (root of the run, stream name).
//! The root of a run is itself derived from (sweep seed, canonical cell config, replicate seed),
//! so the same cell produces the same numbers on any worker, in any order, on any machine.
//! Streams are independent by construction (distinct BLAKE3 derivations), so adding a new use of
//! randomness under a new name never shifts the numbers of an existing stream.

use rand_pcg::Pcg64Mcg;

/// Root of all random streams of one training run (one cell at one replicate seed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunSeed([u8; 32]);

impl RunSeed {
    /// Derives the root of a run from the sweep seed, the cell's canonical config text and the
    /// replicate seed.
    pub fn derive(sweep_seed: u64, canonical_config: &str, replicate: u64) -> Self {
        let mut h = blake3::Hasher::new_derive_key("ensweep run seed v1");
        h.update(&sweep_seed.to_le_bytes());
        h.update(&replicate.to_le_bytes());
        h.update(canonical_config.as_bytes());
        RunSeed(*h.finalize().as_bytes())
    }

    /// A root for tests and one-off runs that have no sweep around them.
    pub fn from_u64(seed: u64) -> Self {
        Self::derive(seed, "", 0)
    }

    /// The 64-bit seed of the named stream.
    pub fn stream_seed(&self, stream: &str) -> u128 {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(stream.as_bytes());
        let out = h.finalize();
        u128::from_le_bytes(out.as_bytes()[..16].try_into().expect("16 bytes"))
    }

    /// A fresh generator for the named stream (e.g. "init", "shuffle", "noise", "sampling").
    pub fn rng(&self, stream: &str) -> Pcg64Mcg {
        Pcg64Mcg::new(self.stream_seed(stream) | 1)
    }

    /// A generator for an indexed sub-stream, e.g. the noise of epoch 17 or perturbation repeat 3.
    pub fn rng_indexed(&self, stream: &str, index: u64) -> Pcg64Mcg {
        self.rng(&format!("{stream}/{index}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn same_inputs_same_stream_and_names_are_independent() {
        let a = RunSeed::derive(7, "{\"lr\":0.1}", 3);
        let b = RunSeed::derive(7, "{\"lr\":0.1}", 3);
        let xa: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(a.rng("init"), |r, _| Some(r.random()))
            .collect();
        let xb: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(b.rng("init"), |r, _| Some(r.random()))
            .collect();
        assert_eq!(xa, xb);
        assert_ne!(a.stream_seed("init"), a.stream_seed("noise"));
        assert_ne!(a, RunSeed::derive(7, "{\"lr\":0.1}", 4));
        assert_ne!(a, RunSeed::derive(8, "{\"lr\":0.1}", 3));
    }
}
