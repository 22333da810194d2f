//! Test support shared by the parsers' property tests: byte-level mutations of real answers.

use proptest::prelude::*;
use proptest::sample::{Index, select};

/// One edit of a sample answer.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    Replace(Index, u8),
    Truncate(Index),
    Insert(Index, &'static [u8]),
    Delete(Index, usize),
    Duplicate(Index, usize),
}

/// Mutations that insert one of `inserts` (the tokens that matter to the parser at hand).
pub(crate) fn mutation(inserts: &'static [&'static [u8]]) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), select(inserts)).prop_map(|(i, s)| Mutation::Insert(i, s)),
        1 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1usize..60).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

/// `sample` with `mutations` applied in order.
pub(crate) fn mutate(sample: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut v = sample.to_vec();
    for m in mutations {
        if v.is_empty() {
            break;
        }
        match m {
            Mutation::Replace(i, b) => {
                let at = i.index(v.len());
                v[at] = *b;
            }
            Mutation::Truncate(i) => v.truncate(i.index(v.len())),
            Mutation::Insert(i, s) => {
                let at = i.index(v.len() + 1);
                v.splice(at..at, s.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let at = i.index(v.len());
                let end = (at + n).min(v.len());
                v.drain(at..end);
            }
            Mutation::Duplicate(i, n) => {
                let at = i.index(v.len());
                let end = (at + n).min(v.len());
                let chunk = v[at..end].to_vec();
                v.splice(at..at, chunk);
            }
        }
    }
    v
}
