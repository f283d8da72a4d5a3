//! Sampled callchains kept whole: one count per distinct stack, each frame a small id (a
//! kallsyms index, or `[user]` / `[unknown]`), so a long profile stores every function name
//! once (in kallsyms) and every distinct stack once. Filled after a window stops, from the
//! frames the [`super::Attributor`] already named; turned into folded lines
//! (`root;…;leaf count`) only when an export asks for them.
//!
//! Memory is bounded: past [`MAX_DISTINCT`] distinct stacks, further new stacks are counted
//! under one `[more stacks]` frame, so the counts still add up to the samples.

use std::collections::HashMap;

use super::Category;
use super::categories;
use super::kallsyms::Kallsyms;

/// A frame: a kallsyms index, or one of the ids below.
pub type FrameId = u32;

/// A user-space sample (copylab does not record user callchains: `exclude_callchain_user`).
pub const USER: FrameId = u32::MAX;
/// A kernel address no symbol covers.
pub const UNKNOWN: FrameId = u32::MAX - 1;
/// The stacks past [`MAX_DISTINCT`], counted together.
pub const MORE: FrameId = u32::MAX - 2;

/// Distinct stacks one [`Stacks`] holds before it counts new ones under `[more stacks]`:
/// a few MiB at most (a stack is 10–40 frames of 4 bytes). A window of copylab's holds at most
/// the ring's ~30,000 samples, and a copy path's stacks repeat: a default compare has a few
/// hundred to a few thousand per thread.
pub const MAX_DISTINCT: usize = 100_000;

/// Distinct stacks (root first) and how many samples each got.
#[derive(Debug, Clone, Default)]
pub struct Stacks {
    counts: HashMap<Box<[FrameId]>, u64>,
    /// Reused buffer for turning a leaf-first chain around.
    scratch: Vec<FrameId>,
}

impl Stacks {
    /// Count one sample whose frames are `leaf_first` (leaf, then its callers).
    pub fn add_leaf_first(&mut self, leaf_first: &[FrameId]) {
        self.scratch.clear();
        self.scratch.extend(leaf_first.iter().rev());
        let key = std::mem::take(&mut self.scratch);
        self.add_root_first(&key, 1);
        self.scratch = key;
    }

    /// Count `n` samples of one stack, root first.
    pub fn add_root_first(&mut self, root_first: &[FrameId], n: u64) {
        if let Some(c) = self.counts.get_mut(root_first) {
            *c += n;
        } else if self.counts.len() < MAX_DISTINCT {
            self.counts.insert(root_first.into(), n);
        } else {
            *self.counts.entry(Box::new([MORE])).or_insert(0) += n;
        }
    }

    /// Add every stack of `other`.
    pub fn merge(&mut self, other: &Stacks) {
        for (k, n) in &other.counts {
            self.add_root_first(k, *n);
        }
    }

    /// Samples counted.
    pub fn samples(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Distinct stacks.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// No sample counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Every stack (root first) with its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[FrameId], u64)> {
        self.counts.iter().map(|(k, n)| (&k[..], *n))
    }
}

/// A frame's name: the kernel function (compiler suffixes already stripped by kallsyms),
/// `[user]`, `[unknown]` or `[more stacks]`.
pub fn frame_name(k: &Kallsyms, id: FrameId) -> &str {
    match id {
        USER => "[user]",
        MORE => "[more stacks]",
        UNKNOWN => "[unknown]",
        i => k.name(i as usize).unwrap_or("[unknown]"),
    }
}

/// A frame's own category by the one table (user frames are user), or `None` when the table
/// does not name it.
pub fn frame_category(name: &str) -> Option<Category> {
    if name == "[user]" {
        return Some(Category::User);
    }
    categories::classify(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_count_and_turn_around() {
        let mut s = Stacks::default();
        s.add_leaf_first(&[3, 2, 1]);
        s.add_leaf_first(&[3, 2, 1]);
        s.add_leaf_first(&[USER]);
        let mut v: Vec<(Vec<FrameId>, u64)> = s.iter().map(|(k, n)| (k.to_vec(), n)).collect();
        v.sort();
        assert_eq!(v, vec![(vec![1, 2, 3], 2), (vec![USER], 1)]);
        assert_eq!(s.samples(), 3);
        let mut t = Stacks::default();
        t.merge(&s);
        t.merge(&s);
        assert_eq!(t.samples(), 6);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn stacks_past_the_bound_still_add_up() {
        let mut s = Stacks::default();
        for i in 0..(MAX_DISTINCT as u32 + 10) {
            s.add_root_first(&[i], 1);
        }
        assert_eq!(s.len(), MAX_DISTINCT + 1);
        assert_eq!(s.samples(), MAX_DISTINCT as u64 + 10);
        let more: u64 = s.iter().filter(|(k, _)| *k == [MORE]).map(|(_, n)| n).sum();
        assert_eq!(more, 10);
    }
}
