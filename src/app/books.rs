//! The favorite book: every `gossip node` holds one title from books.txt under the key
//! `book` and draws a new one about every 10 s (jittered ±25% so a cluster does not re-draw in
//! step). This is an ordinary user of the library: it sets a key through the public API, and
//! the protocol core knows nothing of books.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::watch;
use tracing::warn;

use crate::config::BOOK_KEY;
use crate::GossipHandle;

/// The titles and the draws.
pub struct Books {
    titles: Vec<String>,
    rng: SmallRng,
    current: Option<String>,
}

impl Books {
    /// Draws from `titles` with a generator seeded by `seed` (`--seed` makes draws repeat).
    pub fn new(titles: Vec<String>, seed: u64) -> Self {
        Books {
            titles,
            // A different stream from the protocol's, which is seeded with `seed` too.
            rng: SmallRng::seed_from_u64(seed ^ 0xb00c_5eed_b00c_5eed),
            current: None,
        }
    }

    /// A new title, different from the current one when there is a choice; None without
    /// titles.
    pub fn draw(&mut self) -> Option<String> {
        if self.titles.is_empty() {
            return None;
        }
        let mut pick = self.titles[self.rng.random_range(0..self.titles.len())].clone();
        for _ in 0..3 {
            if Some(&pick) != self.current.as_ref() || self.titles.len() == 1 {
                break;
            }
            pick = self.titles[self.rng.random_range(0..self.titles.len())].clone();
        }
        self.current = Some(pick.clone());
        Some(pick)
    }

    /// Re-draws the book every `every` (read anew after each draw, so a config reload
    /// takes effect; `None` never re-draws) until the node stops.
    pub async fn run(mut self, node: &GossipHandle, mut every: watch::Receiver<Option<Duration>>) {
        if self.titles.is_empty() {
            return std::future::pending().await;
        }
        // False once no reload can come any more (no config file is watched).
        let mut reloads = true;
        loop {
            let interval = *every.borrow_and_update();
            match interval.filter(|d| !d.is_zero()) {
                None => {
                    if !reloads || every.changed().await.is_err() {
                        return std::future::pending().await;
                    }
                }
                Some(d) => {
                    let wait = d.mul_f64(self.rng.random_range(0.75..1.25));
                    if reloads {
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            // A reload changed the interval: start the wait again with it.
                            changed = every.changed() => {
                                reloads = changed.is_ok();
                                continue;
                            }
                        }
                    } else {
                        tokio::time::sleep(wait).await;
                    }
                    let Some(book) = self.draw() else { continue };
                    match node.set(BOOK_KEY, book).await {
                        Ok(_) => {}
                        Err(crate::Error::Stopped) => return,
                        // Titles are checked against the limits when books.txt loads.
                        Err(e) => warn!("could not set the new book: {e}"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redraw_changes_the_book_when_there_is_a_choice() {
        let titles: Vec<String> = ["Dune", "Emma"].map(String::from).to_vec();
        let mut books = Books::new(titles, 3);
        let mut last = books.draw();
        for _ in 0..20 {
            let next = books.draw();
            assert_ne!(next, last);
            last = next;
        }
        assert_eq!(Books::new(Vec::new(), 1).draw(), None);
        let mut one = Books::new(vec!["Dune".into()], 1);
        assert_eq!(one.draw().as_deref(), Some("Dune"));
        assert_eq!(one.draw().as_deref(), Some("Dune"));
    }
}
