//! Responses stored as wire bytes, by key, in an open-addressing table.
//! Bounded in bytes: when full it starts over, which keeps the code
//! simple and the hot set refills in one pass.

use alloc::boxed::Box;
use alloc::vec::Vec;

/// Longest key: a 255-byte name, type, mode, limit.
pub(crate) const MAX_KEY: usize = 255 + 2 + 1 + 2;

#[derive(Debug)]
struct Entry {
    hash: u64,
    key: Box<[u8]>,
    template: Box<[u8]>,
}

#[derive(Debug)]
pub(crate) struct Cache {
    slots: Vec<Option<Entry>>,
    used: usize,
    bytes: usize,
    max_bytes: usize,
}

const FIRST_SLOTS: usize = 1024;

fn hash(key: &[u8]) -> u64 {
    // FNV-1a over 8-byte words, then a final mix: keys are short and
    // this runs once per query.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

impl Cache {
    pub(crate) fn new(max_bytes: usize) -> Cache {
        Cache { slots: Vec::new(), used: 0, bytes: 0, max_bytes }
    }

    pub(crate) fn clear(&mut self) {
        self.slots = Vec::new();
        self.used = 0;
        self.bytes = 0;
    }

    pub(crate) fn stats(&self) -> (usize, usize) {
        (self.used, self.bytes)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        if self.slots.is_empty() {
            return None;
        }
        let h = hash(key);
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            match &self.slots[i] {
                None => return None,
                Some(e) if e.hash == h && *e.key == *key => return Some(&e.template),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    pub(crate) fn insert(&mut self, key: &[u8], template: &[u8]) {
        let cost = key.len() + template.len() + core::mem::size_of::<Entry>() * 2;
        if cost > self.max_bytes {
            return;
        }
        if self.bytes + cost > self.max_bytes {
            self.clear();
        }
        if self.slots.is_empty() {
            self.slots.resize_with(FIRST_SLOTS, || None);
        }
        if (self.used + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let h = hash(key);
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        while let Some(e) = &self.slots[i] {
            if e.hash == h && *e.key == *key {
                return;
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = Some(Entry { hash: h, key: key.into(), template: template.into() });
        self.used += 1;
        self.bytes += cost;
    }

    fn grow(&mut self) {
        let old = core::mem::take(&mut self.slots);
        self.bytes += old.len() * core::mem::size_of::<Option<Entry>>();
        self.slots.resize_with(old.len() * 2, || None);
        let mask = self.slots.len() - 1;
        for e in old.into_iter().flatten() {
            let mut i = (e.hash as usize) & mask;
            while self.slots[i].is_some() {
                i = (i + 1) & mask;
            }
            self.slots[i] = Some(e);
        }
    }
}
