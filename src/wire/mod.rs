//! The wire: every message type, the frame header, the bincode codec, size limits and MTU
//! packing. Nothing outside this module knows how a datagram is laid out, so the codec can be
//! swapped (bincode 2 is unmaintained) by editing this folder alone.

mod codec;
mod filter;
mod frame;
mod header;
mod limits;
mod message;
mod pack;
#[cfg(any(test, feature = "testing"))]
pub mod samples;
mod seal;
mod signed;
mod status;

pub use codec::{
    decode_saved, decode_status, encode_saved, encode_status, encoded_len, Absurd, DecodeError,
    EncodeError, SavedKey, SavedKeys,
};
pub use filter::{origin_hash, SyncFilter, FILTER_BITS_PER_ORIGIN, FILTER_HASHES, MAX_FILTER_HASHES};
pub use frame::{
    decode_datagram, decode_datagram_sized, encode_datagram, open_datagram, tag_datagram,
    Datagram, Opened, SenderTag, TAGGED, TAG_LEN,
};
pub use header::{ClusterId, Header};
pub use limits::*;
pub use message::{
    Ack, Announce, Announced, Change, ChangeKind, Delta, Entry, Fetch, FetchMiss, Found, GetReply, Graft,
    GetRequest, IHave, JoinProof, JoinRequest, MemberState, MemberUpdate, Members, Message, MessageKind, NodeId,
    Origin, OriginDelta, Payload, PeerList, Piece, Ping, PingReq, Prune, Refused, Rumor, SetReply,
    SetRequest, StatusPage, StatusRequest, SyncDigest, SyncPull, SyncSummary, VersionClaim,
    WatchEvents, WatchRequest,
};
pub use pack::Packer;
pub use seal::{seal, ClusterKey, Keyring, Stamp, MAX_KEYS, SEAL_OVERHEAD};
pub use signed::{
    change_statement, entry_statement, head_statement, join_statement, Commitment, PublicKey,
    Signature,
};
pub use status::{KnownOrigin, PartitionStatus, PeerStatus, RecentMessage, StatusReport};
