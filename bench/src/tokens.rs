//! Deterministic session tokens, payloads and expiries. A table of a million sessions is
//! seeded and then addressed by index, so no list of tokens is kept in memory.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Size of every session's data, as the issue asks.
pub const PAYLOAD_BYTES: usize = 200;

/// Disjoint token families: sessions seeded active, seeded already expired, and drawn by
/// the native remote client's `create`.
#[derive(Debug, Clone, Copy)]
pub enum Family {
    Active = 1,
    Expired = 2,
    Created = 3,
}

/// The `i`-th token of `family`: 43 URL-safe characters, like the ones `create` draws.
pub fn token(family: Family, i: u64) -> String {
    let mut state = (family as u64) << 56 ^ i;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// 200 bytes of JSON-ish text that differs per session.
pub fn payload(i: u64) -> Vec<u8> {
    let mut data = format!("{{\"user\":{i},\"note\":\"").into_bytes();
    data.resize(PAYLOAD_BYTES - 2, b'x');
    data.extend_from_slice(b"\"}");
    data
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// An expiry between one and twenty-four hours after `now`, spread by `i`.
pub fn future_expiry(now: u64, i: u64) -> u64 {
    now + 3_600_000 + (i * 7_919) % (23 * 3_600_000)
}

/// A small, fast, seedable generator (splitmix64) for picking sessions at random.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        splitmix64(&mut self.0) % n.max(1)
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
