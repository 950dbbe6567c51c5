//! Node configuration: one TOML file per node, every option also a flag or `GOSSIP_*`
//! environment variable (flags win over the environment, both over the file). Errors name the
//! file, line and key, and the CLI exits with code 2.

mod addr;
mod books;
mod file;
mod resolve;

pub use addr::{parse_addr, parse_advertise, parse_delay};
pub use books::{book_in, load_books, own_book, BOOKS_EMBEDDED, BOOK_KEY};
pub use file::{node_files, FileConfig};
pub use resolve::{load_keyring, resolve, ConfigError, NodeArgs, NodeSettings};
