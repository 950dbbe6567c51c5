//! Cutting lists (pull requests, deltas, peer lists, digests) into datagram-sized pages.

/// Splits `items` into pages whose sizes (by `size`) sum to at most `budget`, producing at
/// most `max_pages`; the flag says whether items were left over. Items are consumed lazily, so
/// nothing past the last page is built. An item alone larger than `budget` gets a page of its
/// own: callers shrink such items first.
pub(super) fn paginate<T>(
    items: impl IntoIterator<Item = T>,
    budget: usize,
    max_pages: usize,
    size: impl Fn(&T) -> usize,
) -> (Vec<Vec<T>>, bool) {
    let mut pages = Vec::new();
    let mut page = Vec::new();
    let mut used = 0;
    let mut items = items.into_iter().peekable();
    if max_pages == 0 {
        return (pages, items.peek().is_some());
    }
    for item in items {
        let len = size(&item);
        if used + len > budget && !page.is_empty() {
            pages.push(std::mem::take(&mut page));
            used = 0;
            if pages.len() == max_pages {
                return (pages, true);
            }
        }
        used += len;
        page.push(item);
    }
    if !page.is_empty() && pages.len() < max_pages {
        pages.push(page);
    }
    (pages, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_respect_the_budget_and_the_page_cap() {
        let (pages, cut) = paginate(1..=10, 10, 100, |_| 3);
        assert_eq!(
            pages,
            vec![vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9], vec![10]]
        );
        assert!(!cut);
        let (pages, cut) = paginate(1..=10, 10, 2, |_| 3);
        assert_eq!(pages.len(), 2);
        assert!(cut);
        let (pages, cut) = paginate(vec![50, 1], 10, 5, |&x| x);
        assert_eq!(pages, vec![vec![50], vec![1]]);
        assert!(!cut);
        assert_eq!(paginate(Vec::<u8>::new(), 10, 5, |_| 1), (vec![], false));
        assert_eq!(paginate(1..=3, 10, 0, |_| 1), (vec![], true), "no room, nothing sent");
    }
}
