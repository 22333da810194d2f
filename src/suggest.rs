//! "Did you mean ...": the closest of some known names to a misspelled one.

/// The candidate closest to `word` when it is close: at most one edit for every three
/// characters of the candidate, and at least one. Case is ignored; `-` and `_` are alike.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c == '-' {
                    '_'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    };
    let word = norm(word);
    if word.chars().count() > 64 {
        return None;
    }
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &norm(c)), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters, each one edit.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // rows[i * width + j]: the distance between a[..i] and b[..j].
    let mut rows = vec![0usize; (a.len() + 1) * width];
    let at = |rows: &[usize], i: usize, j: usize| {
        rows.get(i * width + j).copied().unwrap_or(usize::MAX / 2)
    };
    for i in 0..=a.len() {
        if let Some(c) = rows.get_mut(i * width) {
            *c = i;
        }
    }
    for j in 0..=b.len() {
        if let Some(c) = rows.get_mut(j) {
            *c = j;
        }
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a.get(i - 1) != b.get(j - 1));
            let mut d = (at(&rows, i - 1, j) + 1)
                .min(at(&rows, i, j - 1) + 1)
                .min(at(&rows, i - 1, j - 1) + cost);
            if i > 1 && j > 1 && a.get(i - 1) == b.get(j - 2) && a.get(i - 2) == b.get(j - 1) {
                d = d.min(at(&rows, i - 2, j - 2) + 1);
            }
            if let Some(c) = rows.get_mut(i * width + j) {
                *c = d;
            }
        }
    }
    at(&rows, a.len(), b.len())
}

#[cfg(test)]
mod tests {
    use super::{closest, edit_distance};

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(edit_distance("pasword", "password"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            closest("alarm_comm", ["alarm_com", "total_connect"]),
            Some("alarm_com")
        );
        assert_eq!(
            closest("city-numbr", ["city_number", "crc"]),
            Some("city_number")
        );
        assert_eq!(closest("zzz", ["alarm_com"]), None);
    }
}
