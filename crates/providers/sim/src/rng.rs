//! Stateless randomness. Every generated value is a pure function of (seed, what, index,
//! version), so any record can be regenerated in any order without keeping state, and
//! two processes with the same seed agree byte for byte.

/// SplitMix64's finaliser: a fast, well-mixing bijection on u64.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a seed and a few coordinates.
#[inline]
pub fn hash(seed: u64, a: u64, b: u64) -> u64 {
    mix(mix(mix(seed) ^ a) ^ b.wrapping_mul(0xA24B_AED4_963E_E407))
}

/// A cheap sequential generator for one record: seeded once from [`hash`], then each
/// draw is one `mix`.
#[derive(Debug, Clone)]
pub struct Draw(u64);

impl Draw {
    pub fn new(seed: u64, a: u64, b: u64) -> Self {
        Self(hash(seed, a, b))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant for simulated data.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    #[inline]
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

/// Greatest common divisor.
pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Inverse of `a` modulo `m` (requires gcd(a, m) = 1 and m > 1).
pub fn mod_inverse(a: u64, m: u64) -> u64 {
    let (mut old_r, mut r) = (a as i128, m as i128);
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    old_s.rem_euclid(m as i128) as u64
}

#[inline]
pub fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_undoes_multiplication() {
        for m in [2u64, 7, 100, 1_500_000, 1_500_007] {
            for a in [1u64, 3, 7, 11, 999_983] {
                if gcd(a % m, m) != 1 {
                    continue;
                }
                let inv = mod_inverse(a % m, m);
                assert_eq!(mul_mod(a % m, inv, m), 1 % m, "a={a} m={m}");
            }
        }
    }

    #[test]
    fn draws_are_reproducible_and_differ_by_coordinate() {
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Draw::new(1, 2, 3), |d, _| Some(d.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Draw::new(1, 2, 3), |d, _| Some(d.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Draw::new(1, 2, 4), |d, _| Some(d.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
