//! Versions of a chat: a regenerate or an edit keeps what it replaces as another version of
//! that turn, and the user can go back to it. The chat's turns (`Conversation::turns`) are
//! always the version on screen, the one sent to the model; the others are stored here, each
//! hanging off the turn position where it leaves the turns on screen.
//!
//! A tree without a tree type: a stored version carries the versions inside its own turns
//! (`nested`), which come back with it when it is shown again. Nothing is ever dropped but
//! an empty version (an edit that was never sent).

use std::collections::BTreeMap;

use crate::conversation::Turn;

/// The versions not on screen, and which version is on screen at each fork.
#[derive(Debug, Clone, Default)]
pub struct Branches {
    /// Each with the position it leaves the turns on screen at.
    pub stored: Vec<Branch>,
    /// At each fork of the turns on screen: the number of the version shown.
    pub shown: BTreeMap<usize, u32>,
}

/// A version of the chat from turn `at` on.
#[derive(Debug, Clone)]
pub struct Branch {
    pub at: usize,
    /// Its number among the versions at `at`, in the order they were made (from 0).
    pub number: u32,
    pub turns: Vec<Turn>,
    /// Forks inside `turns` (at positions after `at`).
    pub nested: Branches,
}

impl Branches {
    pub fn is_empty(&self) -> bool {
        self.stored.is_empty()
    }

    /// The numbers of the versions at `at`, sorted, and the one shown.
    fn versions_at(&self, at: usize) -> (Vec<u32>, u32) {
        let shown = self.shown.get(&at).copied().unwrap_or(0);
        let mut numbers: Vec<u32> = self
            .stored
            .iter()
            .filter(|b| b.at == at)
            .map(|b| b.number)
            .chain(std::iter::once(shown))
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        (numbers, shown)
    }

    /// Moves what hangs off positions after `at` out, for a version leaving at `at`.
    fn take_after(&mut self, at: usize) -> Branches {
        let (after, kept): (Vec<Branch>, Vec<Branch>) = std::mem::take(&mut self.stored)
            .into_iter()
            .partition(|b| b.at > at);
        self.stored = kept;
        let shown_after = self.shown.split_off(&(at + 1));
        Branches {
            stored: after,
            shown: shown_after,
        }
    }
}

/// The turns on screen and their stored versions.
pub struct TurnsAndBranches<'a> {
    pub turns: &'a mut Vec<Turn>,
    pub branches: &'a mut Branches,
}

impl TurnsAndBranches<'_> {
    /// Stores the turns from `at` on as version `number` (unless there are none).
    fn stash(&mut self, at: usize, number: u32) {
        let turns = self.turns.split_off(at.min(self.turns.len()));
        let nested = self.branches.take_after(at);
        if turns.is_empty() {
            // Nothing to keep: an edit never sent. (Forks inside nothing cannot exist.)
            debug_assert!(nested.is_empty());
            return;
        }
        self.branches.stored.push(Branch {
            at,
            number,
            turns,
            nested,
        });
    }
}

impl Branches {
    /// Which version is shown at `at`, and how many there are (from 1), when more than one.
    pub fn version_at(&self, at: usize) -> Option<(usize, usize)> {
        let (numbers, shown) = self.versions_at(at);
        let position = numbers.iter().position(|&n| n == shown)?;
        (numbers.len() > 1).then_some((position + 1, numbers.len()))
    }

    /// The last position with more than one version: every stored version leaves the turns
    /// on screen at one (an edit not sent yet, at their end).
    pub fn last_fork(&self) -> Option<usize> {
        self.stored.iter().map(|b| b.at).max()
    }
}

impl TurnsAndBranches<'_> {
    /// Keeps the turns from `at` on as a stored version and leaves the chat ending before
    /// `at`, ready for a new version (a regenerate's answer, an edited message).
    pub fn fork(&mut self, at: usize) {
        if at >= self.turns.len() {
            return;
        }
        let (numbers, shown) = self.branches.versions_at(at);
        self.stash(at, shown);
        let next = numbers.iter().max().map_or(0, |n| n + 1);
        self.branches.shown.insert(at, next);
    }

    /// Shows the version `step` places before (negative) or after the one shown at `at`.
    /// False when there is none.
    pub fn show_version(&mut self, at: usize, step: isize) -> bool {
        let (numbers, shown) = self.branches.versions_at(at);
        let Some(position) = numbers.iter().position(|&n| n == shown) else {
            return false;
        };
        let Some(&target) = position
            .checked_add_signed(step)
            .and_then(|p| numbers.get(p))
        else {
            return false;
        };
        let Some(index) = self
            .branches
            .stored
            .iter()
            .position(|b| b.at == at && b.number == target)
        else {
            return false;
        };
        let branch = self.branches.stored.remove(index);
        self.stash(at, shown);
        self.turns.extend(branch.turns);
        self.branches.stored.extend(branch.nested.stored);
        self.branches.shown.extend(branch.nested.shown);
        self.branches.shown.insert(at, target);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{AssistantTurn, UserTurn};
    use crate::rng::SplitMix64;

    fn user(text: &str) -> Turn {
        Turn::User(UserTurn {
            text: text.into(),
            images: vec![],
        })
    }

    fn answer(text: &str) -> Turn {
        Turn::Assistant(AssistantTurn {
            text: text.into(),
            settings: Default::default(),
            stats: None,
            answered_by: None,
        })
    }

    fn text(turn: &Turn) -> String {
        match turn {
            Turn::User(u) => u.text.clone(),
            Turn::Assistant(a) => a.text.clone(),
        }
    }

    /// Every turn's text, on screen and stored, sorted: what must never change but grow.
    fn all_texts(turns: &[Turn], branches: &Branches) -> Vec<String> {
        fn walk(branches: &Branches, out: &mut Vec<String>) {
            for b in &branches.stored {
                out.extend(b.turns.iter().map(text));
                walk(&b.nested, out);
            }
        }
        let mut out: Vec<String> = turns.iter().map(text).collect();
        walk(branches, &mut out);
        out.sort();
        out
    }

    #[test]
    fn a_regenerate_keeps_the_old_answer_as_version_1() {
        let mut turns = vec![user("q"), answer("a1")];
        let mut branches = Branches::default();
        let mut chat = TurnsAndBranches {
            turns: &mut turns,
            branches: &mut branches,
        };
        chat.fork(1);
        chat.turns.push(answer("a2"));
        assert_eq!(chat.branches.version_at(1), Some((2, 2)));
        assert_eq!(chat.branches.last_fork(), Some(1));
        assert!(chat.show_version(1, -1));
        assert_eq!(text(&chat.turns[1]), "a1");
        assert_eq!(chat.branches.version_at(1), Some((1, 2)));
        assert!(!chat.show_version(1, -1), "no version before the first");
        assert!(chat.show_version(1, 1));
        assert_eq!(text(&chat.turns[1]), "a2");
    }

    #[test]
    fn an_edit_never_sent_leaves_no_empty_version() {
        let mut turns = vec![user("q"), answer("a")];
        let mut branches = Branches::default();
        let mut chat = TurnsAndBranches {
            turns: &mut turns,
            branches: &mut branches,
        };
        chat.fork(0);
        assert!(chat.turns.is_empty());
        assert!(chat.show_version(0, -1));
        assert_eq!(chat.turns.len(), 2);
        assert_eq!(
            chat.branches.version_at(0),
            None,
            "the empty version is gone"
        );
    }

    /// Seeded random forks, appends and switches: no text is ever lost, each switch there
    /// and back restores the turns, and the counts shown stay consistent.
    #[test]
    fn random_forks_and_switches_keep_every_turn() {
        for seed in 0..200 {
            let mut rng = SplitMix64::new(seed);
            let mut turns: Vec<Turn> = Vec::new();
            let mut branches = Branches::default();
            let mut made = 0;
            for _ in 0..60 {
                let before = all_texts(&turns, &branches);
                let mut chat = TurnsAndBranches {
                    turns: &mut turns,
                    branches: &mut branches,
                };
                match rng.next_u64() % 4 {
                    0 | 1 => {
                        made += 1;
                        let t = if chat.turns.len().is_multiple_of(2) {
                            user(&format!("u{made}"))
                        } else {
                            answer(&format!("a{made}"))
                        };
                        chat.turns.push(t);
                        let mut expected = before.clone();
                        expected.push(text(chat.turns.last().unwrap()));
                        expected.sort();
                        assert_eq!(all_texts(chat.turns, chat.branches), expected);
                        continue;
                    }
                    2 if !chat.turns.is_empty() => {
                        let at = (rng.next_u64() % chat.turns.len() as u64) as usize;
                        chat.fork(at);
                        assert_eq!(chat.turns.len(), at, "seed {seed}");
                    }
                    _ => {
                        if let Some(at) = chat.branches.last_fork() {
                            let shown: Vec<String> = chat.turns.iter().map(text).collect();
                            let step = if rng.next_u64().is_multiple_of(2) {
                                1
                            } else {
                                -1
                            };
                            let left_empty = shown.len() <= at;
                            if chat.show_version(at, step) && !left_empty {
                                // (An empty version, an edit never sent, is gone once left.)
                                let (k, n) = chat.branches.version_at(at).unwrap();
                                assert!(k >= 1 && k <= n, "seed {seed}");
                                // And back: the same turns as before.
                                let mut back = TurnsAndBranches {
                                    turns: chat.turns,
                                    branches: chat.branches,
                                };
                                assert!(back.show_version(at, -step), "seed {seed}");
                                let again: Vec<String> = back.turns.iter().map(text).collect();
                                assert_eq!(again, shown, "seed {seed}: there and back");
                            }
                        }
                    }
                }
                // A fork may drop only an empty version: never a turn.
                let after = all_texts(&turns, &branches);
                assert_eq!(after, before, "seed {seed}: a turn was lost");
            }
        }
    }
}
