//! Every message a node sends or accepts. A datagram carries one or more of these.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codec::{Absurd, DecodeError};
use super::filter::SyncFilter;
use super::signed::{PublicKey, Signature};
use super::limits::{
    MAX_ANNOUNCED, MAX_FETCH_PIECES, MAX_ID_LEN, MAX_INLINE_VALUE, MAX_KEY_LEN, MAX_PEER_LIST, MAX_PIECE,
    MAX_PREFIX_LEN, MAX_TTL, MAX_TTL_MS, MAX_VALUE_LEN, MAX_VERSION, MAX_WATCH_CHANGES,
    MIN_PIECE, SYNC_BUCKETS,
};

/// A node's stable name. Printed everywhere, so it is a short string like `n7003`, not a UUID.
/// Shared (`Arc<str>`): every node holds it in its state table, peer set, digests and events,
/// and a clone must not copy the string.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// A node id from any string.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        NodeId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Ids name nodes in logs and tables; empty or huge ids are refused at the wire.
    pub fn is_valid(&self) -> bool {
        !self.0.is_empty() && self.0.len() <= MAX_ID_LEN
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for NodeId {
    fn from(s: &str) -> Self {
        NodeId(s.into())
    }
}

impl From<String> for NodeId {
    fn from(s: String) -> Self {
        NodeId(s.into())
    }
}

/// Who a piece of state belongs to and where that node can be reached; receiving one is how
/// nodes learn peers they were never configured with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
pub struct Origin {
    pub id: NodeId,
    pub addr: SocketAddr,
}

/// One key of an origin's state, stamped with the origin's version counter at the time it was set.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Entry {
    pub key: String,
    pub value: Payload,
    pub version: u64,
    /// Wall-clock deadline (ms since the UNIX epoch, by the origin's clock) after which every
    /// node treats the key as gone.
    pub expires_ms: Option<u64>,
    /// The origin's signature over this change (see [`super::signed::entry_statement`]);
    /// absent from a node that has no identity.
    pub sig: Option<Signature>,
}

/// How an entry's value travels.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Payload {
    /// The key was deleted: a tombstone, which spreads like any change so every node forgets
    /// the key.
    Deleted,
    /// A small value ([`MAX_INLINE_VALUE`] bytes at most), carried in full.
    Inline(Vec<u8>),
    /// A large value, announced: receivers fetch its pieces from a node that holds it.
    Announced(Announce),
}

impl Payload {
    /// The value's size in bytes (0 for a tombstone).
    pub fn size(&self) -> u64 {
        match self {
            Payload::Deleted => 0,
            Payload::Inline(v) => v.len() as u64,
            Payload::Announced(a) => u64::from(a.size),
        }
    }
}

/// A large value's size and content hash. Only a node holding the complete value announces
/// it, so whoever sent the announcement can serve its pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Announce {
    pub size: u32,
    /// BLAKE3 of the whole value: a fetched value is used only if it matches.
    pub hash: [u8; 32],
    /// Piece length the announcer serves (the last piece may be shorter).
    pub piece: u32,
}

impl Announce {
    /// Number of pieces.
    pub fn pieces(&self) -> u32 {
        self.size.div_ceil(self.piece.max(1))
    }
}

/// A pushed update: the entries an origin changed in versions `(since, version]`.
/// `since` lets a receiver tell whether it now holds every version up to `version`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Rumor {
    #[bincode(with_serde)]
    pub id: Uuid,
    pub origin: Origin,
    pub since: u64,
    pub version: u64,
    pub ttl: u8,
    pub hops: u8,
    pub entries: Vec<Entry>,
    /// The key the origin signs its changes with, as the sender knows it.
    pub signer: Option<PublicKey>,
}

/// Anti-entropy step 1: one hash per bucket of the origin table; equal hashes mean nothing to do.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SyncSummary {
    pub buckets: Vec<u64>,
}

/// "I hold this origin up to this version."
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct VersionClaim {
    pub origin: NodeId,
    pub version: u64,
}

/// Anti-entropy step 2: the full version list of the buckets whose hashes differed.
/// Every origin the sender knows in `buckets` is listed, so absence means "never heard of it".
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct SyncDigest {
    pub buckets: Vec<u8>,
    pub versions: Vec<VersionClaim>,
}

/// Anti-entropy step 3: "send me these origins from these versions on".
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SyncPull {
    pub wants: Vec<VersionClaim>,
}

/// Entries of one origin covering versions `(since, upto]`, oldest first, so any prefix of a
/// backlog is still a valid, gap-free step forward.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct OriginDelta {
    pub origin: Origin,
    pub since: u64,
    pub upto: u64,
    pub entries: Vec<Entry>,
    /// The sender has collected tombstones the receiver may still lack: `since` is 0 and
    /// the entries are the origin's whole state up to `upto`, so a key held at or below
    /// `upto` but not listed is gone.
    pub reset: bool,
    /// The key the origin signs its changes with, as the sender knows it.
    pub signer: Option<PublicKey>,
    /// The origin's signed head for `upto`, when no entry listed carries that version.
    pub head: Option<Signature>,
}

/// State a peer lacked, sized by the sender to fit one datagram.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Delta {
    pub origins: Vec<OriginDelta>,
}

/// Discovery: "tell me the peers you know". The sender's own origin rides in the datagram.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct JoinRequest {
    pub want_peers: bool,
    /// The joiner's identity and its signature over the join statement (see
    /// [`super::signed::join_statement`]): a cluster that admits only listed keys answers
    /// nobody else.
    pub proof: Option<JoinProof>,
}

/// A joiner's public key and its signature over its id and address.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct JoinProof {
    pub key: PublicKey,
    pub sig: Signature,
}

/// The answer to a join: some peers, and what the answering node holds of the joiner, so a
/// restarted node can continue above the version and incarnation it had before.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PeerList {
    pub peers: Vec<Origin>,
    pub your_version: u64,
    /// Fingerprint of the joiner's state as the answering node holds it, so an equal version
    /// with different content (a restart that reissued a version) is recognised.
    pub your_fingerprint: u64,
    pub your_incarnation: u64,
}

/// Broadcast tree: "make the link between us eager: push me every rumor you see", sent by a
/// node that missed news the tree should have brought, or that draws a new link; `want`
/// asks for one rumor it was told of and never received.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Graft {
    #[bincode(with_serde)]
    pub want: Option<Uuid>,
}

/// Broadcast tree, lazy push: "I have these rumors" (ids only), sent to the links that are
/// not eager; a node that does not get one of them soon by the tree grafts and asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct IHave {
    pub rumors: Vec<Announced>,
}

/// One rumor announced lazily: its id, and the origin and version it carries (a node that
/// holds them already, by anti-entropy, needs nothing).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Announced {
    #[bincode(with_serde)]
    pub id: Uuid,
    pub origin: NodeId,
    pub version: u64,
}

/// Broadcast tree: "drop the eager link between us: your rumors reach me another way", sent
/// on a duplicate.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Prune {}

/// SWIM probe: "are you there?"
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Ping {
    pub seq: u64,
}

/// SWIM probe answer, also relayed by an intermediary for an indirect probe.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Ack {
    pub seq: u64,
}

/// SWIM indirect probe: "ping `target` for me and tell me if it answers".
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PingReq {
    pub seq: u64,
    pub target: Origin,
}

/// A member's state as seen by the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    Alive,
    Suspect,
    Dead,
    Left,
}

impl MemberState {
    /// Every state, in the order status and metrics list them.
    pub const ALL: [MemberState; 4] = [
        MemberState::Alive,
        MemberState::Suspect,
        MemberState::Dead,
        MemberState::Left,
    ];

    /// Name shown in status and logs.
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
            MemberState::Left => "left",
        }
    }
}

/// One membership fact: `member` is in `state` at `incarnation`. `by` names the node that
/// observed it (the suspecter, the one that declared death, the member itself for a
/// refutation or a leave): it lets confirmations be counted and first-hand news be told apart.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct MemberUpdate {
    pub member: Origin,
    pub incarnation: u64,
    pub state: MemberState,
    pub by: Option<NodeId>,
}

/// Membership facts, pushed when new and piggybacked on other traffic.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Members {
    pub updates: Vec<MemberUpdate>,
}

/// Admin: fetch page `page` of a node's status snapshot identified by `request`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StatusRequest {
    pub request: u64,
    pub page: u32,
}

/// Admin: one slice of an encoded status report; the client reassembles `pages` chunks.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StatusPage {
    pub request: u64,
    pub page: u32,
    pub pages: u32,
    pub chunk: Vec<u8>,
}

/// Admin: set or delete a key of the receiving node's own state. A large value is
/// announced; the node then fetches its pieces from the client (origin: the node itself,
/// version: `request`) before it applies and acknowledges the write. A retry with the same
/// `request` is applied once.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SetRequest {
    pub request: u64,
    pub key: String,
    pub value: Payload,
    /// Expire the key this many milliseconds after the write.
    pub ttl_ms: Option<u64>,
}

/// Admin: the version the set produced, or why it was refused.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SetReply {
    pub request: u64,
    pub version: u64,
    pub error: Option<String>,
}

/// "Send me these pieces of `origin`'s `key` at `version`, cut `piece` bytes long."
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Fetch {
    pub origin: NodeId,
    pub key: String,
    pub version: u64,
    pub piece: u32,
    pub pieces: Vec<u32>,
}

/// One piece of a value.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Piece {
    pub origin: NodeId,
    pub key: String,
    pub version: u64,
    pub index: u32,
    pub bytes: Vec<u8>,
}

/// "I cannot serve that value" (it changed since, or a piece would not fit my MTU).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct FetchMiss {
    pub origin: NodeId,
    pub key: String,
    pub version: u64,
}

/// Admin: read `origin`'s `key`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct GetRequest {
    pub request: u64,
    pub origin: NodeId,
    pub key: String,
}

/// What a node holds under the key a [`GetRequest`] named.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Found {
    /// The node has never heard of that origin.
    NoOrigin,
    /// The origin is known but holds no live value under the key.
    NoKey,
    /// The value (inline, or announced: fetch its pieces from the node).
    Value { version: u64, value: Payload },
}

/// Admin: the answer to a [`GetRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct GetReply {
    pub request: u64,
    pub found: Found,
}

/// Admin: stream the changes the node applies to keys starting with `prefix`, for a while;
/// the client repeats the request to keep the stream going.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct WatchRequest {
    pub request: u64,
    pub prefix: String,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Set,
    Deleted,
    Expired,
}

/// One change a node applied.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Change {
    pub origin: NodeId,
    pub key: String,
    pub version: u64,
    pub size: u64,
    pub kind: ChangeKind,
}

/// Admin: changes for watch `request`, numbered so the client can tell what it missed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct WatchEvents {
    pub request: u64,
    /// Sequence number of the first change here; the stream starts at 0.
    pub seq: u64,
    pub changes: Vec<Change>,
}

/// Admin: the node will not serve this request, and why.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Refused {
    pub request: u64,
    pub reason: String,
}

/// Everything that can ride in a datagram.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Message {
    Rumor(Rumor),
    SyncSummary(SyncSummary),
    SyncDigest(SyncDigest),
    SyncPull(SyncPull),
    Delta(Delta),
    JoinRequest(JoinRequest),
    PeerList(PeerList),
    StatusRequest(StatusRequest),
    StatusPage(StatusPage),
    SetRequest(SetRequest),
    SetReply(SetReply),
    Ping(Ping),
    Ack(Ack),
    PingReq(PingReq),
    Members(Members),
    Fetch(Fetch),
    Piece(Piece),
    FetchMiss(FetchMiss),
    GetRequest(GetRequest),
    GetReply(GetReply),
    WatchRequest(WatchRequest),
    WatchEvents(WatchEvents),
    Refused(Refused),
    Graft(Graft),
    Prune(Prune),
    IHave(IHave),
    SyncFilter(SyncFilter),
}

/// Message type without payload, for per-type counters and metrics labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKind {
    Rumor,
    SyncSummary,
    SyncDigest,
    SyncPull,
    Delta,
    JoinRequest,
    PeerList,
    StatusRequest,
    StatusPage,
    SetRequest,
    SetReply,
    Ping,
    Ack,
    PingReq,
    Members,
    Fetch,
    Piece,
    FetchMiss,
    GetRequest,
    GetReply,
    WatchRequest,
    WatchEvents,
    Refused,
    Graft,
    Prune,
    IHave,
    SyncFilter,
}

impl MessageKind {
    /// Stable snake_case name used in counters, metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Rumor => "rumor",
            MessageKind::SyncSummary => "sync_summary",
            MessageKind::SyncDigest => "sync_digest",
            MessageKind::SyncPull => "sync_pull",
            MessageKind::Delta => "delta",
            MessageKind::JoinRequest => "join_request",
            MessageKind::PeerList => "peer_list",
            MessageKind::StatusRequest => "status_request",
            MessageKind::StatusPage => "status_page",
            MessageKind::SetRequest => "set_request",
            MessageKind::SetReply => "set_reply",
            MessageKind::Ping => "ping",
            MessageKind::Ack => "ack",
            MessageKind::PingReq => "ping_req",
            MessageKind::Members => "members",
            MessageKind::Fetch => "fetch",
            MessageKind::Piece => "piece",
            MessageKind::FetchMiss => "fetch_miss",
            MessageKind::GetRequest => "get_request",
            MessageKind::GetReply => "get_reply",
            MessageKind::WatchRequest => "watch_request",
            MessageKind::WatchEvents => "watch_events",
            MessageKind::Refused => "refused",
            MessageKind::Graft => "graft",
            MessageKind::Prune => "prune",
            MessageKind::IHave => "ihave",
            MessageKind::SyncFilter => "sync_filter",
        }
    }
}

impl Message {
    /// The payload-free type of this message.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Rumor(_) => MessageKind::Rumor,
            Message::SyncSummary(_) => MessageKind::SyncSummary,
            Message::SyncDigest(_) => MessageKind::SyncDigest,
            Message::SyncPull(_) => MessageKind::SyncPull,
            Message::Delta(_) => MessageKind::Delta,
            Message::JoinRequest(_) => MessageKind::JoinRequest,
            Message::PeerList(_) => MessageKind::PeerList,
            Message::StatusRequest(_) => MessageKind::StatusRequest,
            Message::StatusPage(_) => MessageKind::StatusPage,
            Message::SetRequest(_) => MessageKind::SetRequest,
            Message::SetReply(_) => MessageKind::SetReply,
            Message::Ping(_) => MessageKind::Ping,
            Message::Ack(_) => MessageKind::Ack,
            Message::PingReq(_) => MessageKind::PingReq,
            Message::Members(_) => MessageKind::Members,
            Message::Fetch(_) => MessageKind::Fetch,
            Message::Piece(_) => MessageKind::Piece,
            Message::FetchMiss(_) => MessageKind::FetchMiss,
            Message::GetRequest(_) => MessageKind::GetRequest,
            Message::GetReply(_) => MessageKind::GetReply,
            Message::WatchRequest(_) => MessageKind::WatchRequest,
            Message::WatchEvents(_) => MessageKind::WatchEvents,
            Message::Refused(_) => MessageKind::Refused,
            Message::Graft(_) => MessageKind::Graft,
            Message::Prune(_) => MessageKind::Prune,
            Message::IHave(_) => MessageKind::IHave,
            Message::SyncFilter(_) => MessageKind::SyncFilter,
        }
    }

    /// Field checks a well-formed decode cannot express: lengths and version ranges.
    /// Run on every received message so the core only ever sees sane values.
    pub fn validate(&self) -> Result<(), DecodeError> {
        match self {
            Message::Rumor(r) => {
                if r.ttl > MAX_TTL {
                    return Err(DecodeError::Absurd(Absurd::Ttl));
                }
                check_origin(&r.origin)?;
                check_range(r.since, r.version, &r.entries)
            }
            Message::SyncSummary(s) if s.buckets.len() != SYNC_BUCKETS => {
                Err(DecodeError::Invalid("summary bucket count"))
            }
            Message::SyncDigest(d) => {
                if d.buckets.iter().any(|b| usize::from(*b) >= SYNC_BUCKETS) {
                    return Err(DecodeError::Invalid("digest bucket index"));
                }
                d.versions.iter().try_for_each(check_claim)
            }
            Message::SyncPull(p) => p.wants.iter().try_for_each(check_claim),
            Message::SyncFilter(f) => f.check().map_err(DecodeError::Invalid),
            Message::Delta(d) => d.origins.iter().try_for_each(|o| {
                check_origin(&o.origin)?;
                check_range(o.since, o.upto, &o.entries)
            }),
            Message::PeerList(p) => {
                if p.peers.len() > MAX_PEER_LIST {
                    return Err(DecodeError::Absurd(Absurd::PeerList));
                }
                check_version(p.your_version)?;
                check_incarnation(p.your_incarnation)?;
                p.peers.iter().try_for_each(check_origin)
            }
            Message::SetRequest(s) => {
                check_key(&s.key)?;
                check_payload(&s.value)?;
                if s.ttl_ms.is_some_and(|t| t == 0 || t > MAX_TTL_MS) {
                    return Err(DecodeError::Invalid("ttl"));
                }
                Ok(())
            }
            Message::Fetch(f) => {
                check_id(&f.origin)?;
                check_key(&f.key)?;
                check_version(f.version)?;
                check_piece_len(f.piece)?;
                if f.pieces.is_empty() || f.pieces.len() > MAX_FETCH_PIECES {
                    return Err(DecodeError::Invalid("fetch piece count"));
                }
                Ok(())
            }
            Message::Piece(p) => {
                check_id(&p.origin)?;
                check_key(&p.key)?;
                check_version(p.version)?;
                if p.bytes.is_empty() || p.bytes.len() > MAX_PIECE {
                    return Err(DecodeError::Invalid("piece length"));
                }
                Ok(())
            }
            Message::FetchMiss(m) => {
                check_id(&m.origin)?;
                check_key(&m.key)?;
                check_version(m.version)
            }
            Message::GetRequest(g) => {
                check_id(&g.origin)?;
                check_key(&g.key)
            }
            Message::GetReply(GetReply {
                found: Found::Value { version, value },
                ..
            }) => {
                check_version(*version)?;
                check_payload(value)
            }
            Message::WatchRequest(w) if w.prefix.len() > MAX_PREFIX_LEN => {
                Err(DecodeError::Invalid("watch prefix length"))
            }
            Message::WatchEvents(w) => {
                if w.changes.len() > MAX_WATCH_CHANGES {
                    return Err(DecodeError::Invalid("watch change count"));
                }
                w.changes.iter().try_for_each(|c| {
                    check_id(&c.origin)?;
                    check_key(&c.key)?;
                    check_version(c.version)
                })
            }
            Message::PingReq(p) => check_origin(&p.target),
            Message::IHave(h) => {
                if h.rumors.is_empty() || h.rumors.len() > MAX_ANNOUNCED {
                    return Err(DecodeError::Invalid("announced rumor count"));
                }
                h.rumors.iter().try_for_each(|a| {
                    check_id(&a.origin)?;
                    check_version(a.version)
                })
            }
            Message::Members(m) => m.updates.iter().try_for_each(|u| {
                check_origin(&u.member)?;
                check_incarnation(u.incarnation)?;
                u.by.as_ref().map_or(Ok(()), check_id)
            }),
            _ => Ok(()),
        }
    }
}

fn check_version(v: u64) -> Result<(), DecodeError> {
    if v > MAX_VERSION {
        return Err(DecodeError::Absurd(Absurd::Version));
    }
    Ok(())
}

fn check_incarnation(i: u64) -> Result<(), DecodeError> {
    if i > MAX_VERSION {
        return Err(DecodeError::Absurd(Absurd::Incarnation));
    }
    Ok(())
}

fn check_claim(c: &VersionClaim) -> Result<(), DecodeError> {
    check_id(&c.origin)?;
    check_version(c.version)
}

fn check_id(id: &NodeId) -> Result<(), DecodeError> {
    if id.is_valid() {
        Ok(())
    } else {
        Err(DecodeError::Invalid("node id length"))
    }
}

fn check_origin(o: &Origin) -> Result<(), DecodeError> {
    check_id(&o.id)?;
    if o.addr.port() == 0 || o.addr.ip().is_unspecified() || o.addr.ip().is_multicast() {
        return Err(DecodeError::Invalid("origin address"));
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), DecodeError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(DecodeError::Invalid("key length"));
    }
    Ok(())
}

fn check_piece_len(piece: u32) -> Result<(), DecodeError> {
    if (MIN_PIECE..=MAX_PIECE).contains(&(piece as usize)) {
        Ok(())
    } else {
        Err(DecodeError::Invalid("piece length"))
    }
}

/// Inline values are small; an announced one is larger than inline and within the hard cap.
fn check_payload(value: &Payload) -> Result<(), DecodeError> {
    match value {
        Payload::Deleted => Ok(()),
        Payload::Inline(v) if v.len() <= MAX_INLINE_VALUE => Ok(()),
        Payload::Inline(_) => Err(DecodeError::Invalid("inline value length")),
        Payload::Announced(a) => {
            let size = a.size as usize;
            if size <= MAX_INLINE_VALUE || size > MAX_VALUE_LEN {
                return Err(DecodeError::Invalid("announced value size"));
            }
            check_piece_len(a.piece)
        }
    }
}

/// Entries must lie inside the claimed version range and be sorted, oldest first.
fn check_range(since: u64, upto: u64, entries: &[Entry]) -> Result<(), DecodeError> {
    check_version(upto)?;
    if since >= upto {
        return Err(DecodeError::Invalid("empty version range"));
    }
    let mut last = since;
    for e in entries {
        check_key(&e.key)?;
        check_payload(&e.value)?;
        if e.version <= last || e.version > upto {
            return Err(DecodeError::Invalid("entry version outside range"));
        }
        last = e.version;
    }
    Ok(())
}
