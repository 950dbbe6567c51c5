//! The favorite-book list. A missing default `books.txt` falls back to the copy compiled into
//! the binary, so `gossip node` works from any directory; an explicit path must exist.

use std::path::Path;

use crate::wire::MAX_VALUE_LEN;

/// The key a node's favorite book is kept under.
pub const BOOK_KEY: &str = "book";

/// The favorite book among an origin's values (as shown in a status report).
pub fn book_in(values: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    values.get(BOOK_KEY).map(String::as_str)
}

/// The favorite book a status report's node holds of its own.
pub fn own_book(report: &crate::wire::StatusReport) -> Option<&str> {
    report
        .known
        .iter()
        .find(|k| k.origin == report.id)
        .and_then(|k| book_in(&k.values))
}

/// The project's `books.txt`, built in.
pub const BOOKS_EMBEDDED: &str = include_str!("../../books.txt");

/// Reads titles, one per line; blank lines and `#` comments are skipped, overlong lines refused.
pub fn load_books(path: Option<&Path>) -> Result<Vec<String>, String> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read books file {}: {e}", p.display()))?,
        None => match std::fs::read_to_string("books.txt") {
            Ok(t) => t,
            Err(_) => BOOKS_EMBEDDED.to_string(),
        },
    };
    parse_books(
        &text,
        path.map_or("books.txt", |p| p.to_str().unwrap_or("books file")),
    )
}

fn parse_books(text: &str, name: &str) -> Result<Vec<String>, String> {
    let mut books = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let title = line.trim();
        if title.is_empty() || title.starts_with('#') {
            continue;
        }
        if title.len() > MAX_VALUE_LEN {
            return Err(format!(
                "{name}:{}: title longer than {MAX_VALUE_LEN} bytes",
                i + 1
            ));
        }
        books.push(title.to_string());
    }
    if books.is_empty() {
        return Err(format!("{name}: no book titles in it"));
    }
    Ok(books)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_has_at_least_a_hundred_distinct_titles() {
        let books = parse_books(BOOKS_EMBEDDED, "books.txt").unwrap();
        let mut distinct = books.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() >= 100, "only {} titles", distinct.len());
        assert_eq!(distinct.len(), books.len(), "duplicate titles");
    }

    #[test]
    fn comments_and_blanks_are_skipped_and_empty_lists_refused() {
        assert_eq!(parse_books("# x\n\nDune\n", "t").unwrap(), vec!["Dune"]);
        assert!(parse_books("# only comments\n", "t").is_err());
    }
}
