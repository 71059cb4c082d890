//! The rows of the target index: a run's (user, event) pairs, sorted, cut into
//! chunks of about [`CHUNK_BYTES`] each.
//!
//! One row per pair cost every lookup 100 B-tree inserts and ~190 bytes of WAL
//! each (README, "Runs of 3 Dec 2026 (eleventh session)"); a chunk holds a few
//! hundred pairs in one row, written once, in key order. A user's pairs never
//! straddle two chunks, so the chunk holding user X in a run is the one with
//! the greatest first user `<= X`: one backward index seek.
//!
//! Encoding, per user in order: the length of the prefix shared with the
//! previous user, the rest's length and bytes, the number of events, the first
//! event id, then the gaps to each next one (ascending). All numbers are LEB128
//! varints, so a lookup's pair costs about 7 bytes.

use crate::varint::{get, put};

/// A chunk is cut at the first user boundary past this many bytes: under
/// PostgreSQL's TOAST threshold (~2 KB), so a chunk is stored inline, never
/// compressed, and fits one SQLite page.
pub const CHUNK_BYTES: usize = 1_800;

/// One chunk: its first user and the encoded pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub first_user: String,
    pub pairs: Vec<u8>,
}

/// Cuts `pairs` (sorted by user, then event; no duplicates) into chunks.
pub fn encode(pairs: &[(String, i64)]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let first_user = pairs[i].0.clone();
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 256);
        let mut prev: &str = "";
        while i < pairs.len() && buf.len() < CHUNK_BYTES {
            let user = pairs[i].0.as_str();
            let n = pairs[i..].iter().take_while(|p| p.0 == user).count();
            let shared = common_prefix(prev, user);
            put(&mut buf, shared as u64);
            put(&mut buf, (user.len() - shared) as u64);
            buf.extend_from_slice(&user.as_bytes()[shared..]);
            put(&mut buf, n as u64);
            let mut last = 0i64;
            for (k, (_, event)) in pairs[i..i + n].iter().enumerate() {
                put(&mut buf, if k == 0 { *event } else { *event - last } as u64);
                last = *event;
            }
            prev = user;
            i += n;
        }
        chunks.push(Chunk {
            first_user,
            pairs: buf,
        });
    }
    chunks
}

/// Every (user, events) of a chunk, in order. A malformed chunk ends early
/// (it cannot be produced by [`encode`]; the events themselves are the record).
pub fn decode(mut bytes: &[u8]) -> Vec<(String, Vec<i64>)> {
    let mut out: Vec<(String, Vec<i64>)> = Vec::new();
    let mut prev: Vec<u8> = Vec::new();
    while !bytes.is_empty() {
        let Some(entry) = next_user(&mut bytes, &mut prev) else {
            break;
        };
        out.push(entry);
    }
    out
}

/// The events of `user` in a chunk (ascending; empty when it is not there).
pub fn events_of(mut bytes: &[u8], user: &str) -> Vec<i64> {
    let mut prev: Vec<u8> = Vec::new();
    while !bytes.is_empty() {
        match next_user(&mut bytes, &mut prev) {
            Some((u, events)) if u == user => return events,
            // Users are sorted: once past it, it is not there.
            Some((u, _)) if u.as_str() > user => break,
            Some(_) => {}
            None => break,
        }
    }
    Vec::new()
}

fn next_user(bytes: &mut &[u8], prev: &mut Vec<u8>) -> Option<(String, Vec<i64>)> {
    let shared = get(bytes)? as usize;
    let rest = get(bytes)? as usize;
    if shared > prev.len() || rest > bytes.len() {
        return None;
    }
    prev.truncate(shared);
    prev.extend_from_slice(&bytes[..rest]);
    *bytes = &bytes[rest..];
    let n = get(bytes)? as usize;
    let mut events = Vec::with_capacity(n.min(bytes.len()));
    let mut last = 0i64;
    for k in 0..n {
        let v = get(bytes)? as i64;
        last = if k == 0 { v } else { last + v };
        events.push(last);
    }
    Some((String::from_utf8(prev.clone()).ok()?, events))
}

/// The length in bytes of the longest common prefix of `a` and `b` that ends
/// on a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    (0..=n).rev().find(|&k| b.is_char_boundary(k)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(users: usize, per_user: usize) -> Vec<(String, i64)> {
        let mut p = Vec::new();
        for u in 0..users {
            for e in 0..per_user {
                p.push((
                    format!("user-{u:06}"),
                    1_000_000 + (u * 7 + e * 1_000) as i64,
                ));
            }
        }
        p.sort();
        p
    }

    #[test]
    fn every_pair_comes_back_in_order_across_chunks() {
        let p = pairs(3_000, 2);
        let chunks = encode(&p);
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        let mut back = Vec::new();
        for c in &chunks {
            assert!(c.pairs.len() < CHUNK_BYTES + 64, "{}", c.pairs.len());
            let d = decode(&c.pairs);
            assert_eq!(d[0].0, c.first_user);
            for (u, events) in d {
                back.extend(events.into_iter().map(|e| (u.clone(), e)));
            }
        }
        assert_eq!(back, p);
        // About 8 bytes a pair for IDs like a lookup's.
        let bytes: usize = chunks.iter().map(|c| c.pairs.len()).sum();
        assert!(bytes < p.len() * 9, "{bytes} bytes for {} pairs", p.len());
    }

    #[test]
    fn a_users_events_stay_in_one_chunk_and_are_found_by_name() {
        let mut p = pairs(300, 1);
        p.extend((0..2_000).map(|e| ("user-000150".to_string(), e * 3)));
        p.sort();
        p.dedup();
        let chunks = encode(&p);
        let holding: Vec<&Chunk> = chunks
            .iter()
            .filter(|c| !events_of(&c.pairs, "user-000150").is_empty())
            .collect();
        assert_eq!(holding.len(), 1);
        let found = events_of(&holding[0].pairs, "user-000150");
        assert_eq!(found.len(), 2_001);
        assert!(found.windows(2).all(|w| w[0] < w[1]));
        // The chunk to read is the one with the greatest first user <= X.
        let at = chunks
            .iter()
            .rposition(|c| c.first_user.as_str() <= "user-000150")
            .unwrap();
        assert_eq!(&chunks[at], holding[0]);
        assert!(events_of(&holding[0].pairs, "user-0001500").is_empty());
        assert!(events_of(&holding[0].pairs, "nobody").is_empty());
    }

    #[test]
    fn multibyte_ids_share_prefixes_on_character_boundaries() {
        let p: Vec<(String, i64)> = ["김철수", "김철호", "김영", "é", "éa"]
            .iter()
            .enumerate()
            .map(|(i, u)| (u.to_string(), i as i64))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut sorted = p.clone();
        sorted.sort();
        let c = encode(&sorted);
        let d = decode(&c[0].pairs);
        let back: Vec<(String, i64)> = d
            .into_iter()
            .flat_map(|(u, e)| e.into_iter().map(move |e| (u.clone(), e)))
            .collect();
        assert_eq!(back, sorted);
    }

    #[test]
    fn a_truncated_chunk_ends_early_without_panicking() {
        let c = encode(&pairs(50, 3));
        for cut in [1, 7, c[0].pairs.len() / 2] {
            let d = decode(&c[0].pairs[..cut]);
            assert!(d.len() < 50);
        }
    }
}
