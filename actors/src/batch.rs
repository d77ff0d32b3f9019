//! Splitting multi-row inserts into a few fixed sizes.
//!
//! The database drivers cache one prepared statement per distinct SQL text and connection. A
//! batched `INSERT … VALUES (…), (…), …` of n rows is a distinct text for every n, and a statement of
//! hundreds of rows holds hundreds of kilobytes: batches of every size from 1 to 500 would fill
//! every connection's cache with them. Inserting in chunks of these sizes only keeps at most five
//! shapes per table.

/// The chunk sizes, largest first.
const SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// Splits `items` into consecutive chunks whose lengths are all in [`SIZES`], largest first.
pub fn chunks<T>(items: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut rest = items.into_iter().peekable();
    let mut left = rest.len();
    for size in SIZES {
        while left >= size {
            out.push(rest.by_ref().take(size).collect());
            left -= size;
        }
    }
    debug_assert!(rest.peek().is_none());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_use_only_the_fixed_sizes_and_keep_order() {
        for n in [0usize, 1, 3, 4, 5, 17, 100, 255, 256, 257, 300, 700] {
            let parts = chunks((0..n).collect::<Vec<_>>());
            assert!(parts.iter().all(|p| SIZES.contains(&p.len())), "{n}: {:?}", parts.iter().map(Vec::len).collect::<Vec<_>>());
            assert_eq!(parts.concat(), (0..n).collect::<Vec<_>>());
        }
        assert_eq!(chunks((0..300).collect::<Vec<_>>()).iter().map(Vec::len).collect::<Vec<_>>(), [256, 16, 16, 4, 4, 4]);
    }
}
