//! Who may speak for an origin. Each node signs its own changes with its ed25519 identity;
//! a receiver checks the signature against the key it trusts for that origin before it applies
//! anything, so a relay (even one holding the cluster key) can neither forge nor alter another
//! origin's state.
//!
//! Which key is trusted depends on the mode: `open` checks nothing (any member may speak for
//! any origin, as before signatures); `tofu` pins the first key that signs valid state for an
//! id and refuses any other key for it; `allowlist` accepts only keys listed by the operator
//! (optionally bound to one id), then pins them the same way.
//!
//! Pure computation: no clock, no randomness (ed25519 signing is deterministic), so the
//! simulator and the runtime drive the same checks.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::wire::{NodeId, PublicKey, Signature};

use super::hash::Seeded;
use super::time::Time;

/// A node's signing identity: an ed25519 key pair.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    public: PublicKey,
}

impl Identity {
    /// The identity whose secret key is these 32 bytes.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&secret);
        let public = PublicKey(key.verifying_key().to_bytes());
        Identity { key, public }
    }

    /// The secret key's 32 bytes (for the identity file).
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public key peers verify our changes with.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// Signs a statement.
    pub fn sign(&self, statement: &[u8]) -> Signature {
        Signature(self.key.sign(statement).to_bytes())
    }
}

impl fmt::Debug for Identity {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.public)
    }
}

/// Which keys a node accepts for an origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrustMode {
    /// Signatures are carried but not checked: every member may speak for every origin.
    #[default]
    Open,
    /// Trust on first use: the first key seen signing valid state for an id is pinned.
    Tofu,
    /// Only listed keys; an unlisted key can neither publish nor join.
    Allowlist,
}

impl TrustMode {
    /// Name used by `--trust` and status.
    pub fn name(self) -> &'static str {
        match self {
            TrustMode::Open => "open",
            TrustMode::Tofu => "tofu",
            TrustMode::Allowlist => "allowlist",
        }
    }
}

impl std::str::FromStr for TrustMode {
    type Err = String;

    /// `open`, `tofu` or `allowlist`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(TrustMode::Open),
            "tofu" => Ok(TrustMode::Tofu),
            "allowlist" => Ok(TrustMode::Allowlist),
            other => Err(format!(
                "unknown trust mode `{other}`: open, tofu or allowlist"
            )),
        }
    }
}

impl fmt::Display for TrustMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The operator's list of keys (`--trusted-keys`): each key, with the one id it may speak for
/// if the line names one.
pub type Allowlist = HashMap<PublicKey, Option<NodeId>>;

/// A node's trust settings.
#[derive(Clone, Debug, Default)]
pub struct TrustPolicy {
    pub mode: TrustMode,
    /// Keys accepted in [`TrustMode::Allowlist`].
    pub allowed: Arc<Allowlist>,
}

/// Why state was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refusal {
    /// A change (or the version it claims) came without a signature.
    Unsigned,
    /// A signature did not verify: the change was forged or altered on the way.
    Forged,
    /// Signed with a key other than the one pinned for the origin.
    KeyMismatch,
    /// Signed with a key the allowlist does not hold (or holds for another id).
    Untrusted,
    /// A validly signed change older than one the same peer gave us long before: no relay
    /// finds such a change fresh, so it is being replayed.
    Replayed,
}

impl Refusal {
    /// Counter name in status and metrics.
    pub fn counter(self) -> &'static str {
        match self {
            Refusal::Unsigned => "refused_unsigned",
            Refusal::Forged => "refused_forged",
            Refusal::KeyMismatch => "refused_key_mismatch",
            Refusal::Untrusted => "refused_untrusted",
            Refusal::Replayed => "refused_replayed",
        }
    }

    /// Every reason, for listing counters at zero.
    pub const ALL: [Refusal; 5] = [
        Refusal::Unsigned,
        Refusal::Forged,
        Refusal::KeyMismatch,
        Refusal::Untrusted,
        Refusal::Replayed,
    ];
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Unsigned => "unsigned",
            Refusal::Forged => "bad signature",
            Refusal::KeyMismatch => "signed by another key than the one pinned for this id",
            Refusal::Untrusted => "signed by a key not on the allowlist",
            Refusal::Replayed => "an old change replayed by the peer that gave us a newer one",
        })
    }
}

/// One statement to check: the bytes and the signature claimed over them.
pub struct Claim<'a> {
    pub statement: Vec<u8>,
    pub sig: &'a Signature,
}

/// The keys a node trusts, by origin id, and how it checks signatures.
#[derive(Debug)]
pub struct Trust {
    policy: TrustPolicy,
    pinned: HashMap<NodeId, Pinned, Seeded>,
    /// Pair keys for datagram tags, by peer id.
    pairs: HashMap<NodeId, [u8; 32], Seeded>,
    /// Peers that tagged a datagram to us: from then on, what claims to come from them must
    /// carry their tag.
    tagging: HashSet<NodeId, Seeded>,
    /// Reputation of the peers whose datagrams we authenticated, by id.
    standing: HashMap<NodeId, Standing, Seeded>,
}

/// A relay's record: strikes for forged state it delivered, and its current ban.
#[derive(Debug, Default)]
struct Standing {
    strikes: u32,
    bans: u32,
    ignored_until: Option<Time>,
}

/// Forged deliveries before a relay is ignored.
pub const STRIKES: u32 = 3;
/// The first ban; each next one doubles, up to [`MAX_BAN`].
pub const FIRST_BAN: Duration = Duration::from_secs(30);
/// The longest ban.
pub const MAX_BAN: Duration = Duration::from_secs(3600);
/// Peers whose standing is tracked at once.
const MAX_STANDING: usize = 8192;

/// Pair keys kept at once (recomputing one costs an X25519).
const MAX_PAIRS: usize = 8192;

#[derive(Debug)]
struct Pinned {
    key: PublicKey,
    verifying: VerifyingKey,
}

impl Trust {
    /// Trust as `policy` says, with our own key pinned to our id (so nobody can make us
    /// believe news about ourselves we never signed).
    pub fn new(policy: TrustPolicy, own: Option<(&NodeId, &Identity)>, hasher: Seeded) -> Self {
        let mut trust = Trust {
            policy,
            pinned: HashMap::with_hasher(hasher.clone()),
            pairs: HashMap::with_hasher(hasher.clone()),
            tagging: HashSet::with_hasher(hasher.clone()),
            standing: HashMap::with_hasher(hasher),
        };
        if let Some((id, identity)) = own {
            let (key, verifying) = (identity.public(), identity.key.verifying_key());
            trust.pinned.insert(id.clone(), Pinned { key, verifying });
        }
        trust
    }

    /// The mode in force.
    pub fn mode(&self) -> TrustMode {
        self.policy.mode
    }

    /// Whether signatures are checked at all.
    pub fn checks(&self) -> bool {
        self.policy.mode != TrustMode::Open
    }

    /// The key pinned for `id`, if any.
    pub fn pinned(&self, id: &NodeId) -> Option<PublicKey> {
        self.pinned.get(id).map(|p| p.key)
    }

    /// The key we share with the node `id` (whose key is pinned) for tagging datagrams:
    /// X25519 of our identity and its key, hashed with both keys. Computed once per peer.
    pub fn pair_key(&mut self, own: &Identity, id: &NodeId) -> Option<[u8; 32]> {
        if let Some(key) = self.pairs.get(id) {
            return Some(*key);
        }
        let theirs = self.pinned.get(id)?;
        let shared = theirs.verifying.to_montgomery() * own.key.to_scalar();
        let (a, b) = (own.public.0, theirs.key.0);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut material = Vec::with_capacity(96);
        material.extend_from_slice(shared.as_bytes());
        material.extend_from_slice(&lo);
        material.extend_from_slice(&hi);
        let key = blake3::derive_key("gossip/1 datagram tags between two identities", &material);
        if self.pairs.len() >= MAX_PAIRS {
            self.pairs.clear();
        }
        self.pairs.insert(id.clone(), key);
        Some(key)
    }

    /// `id` tagged a datagram to us: from now on its datagrams must be tagged.
    pub fn tagged_by(&mut self, id: &NodeId) {
        if self.tagging.len() < MAX_PAIRS && !self.tagging.contains(id) {
            self.tagging.insert(id.clone());
        }
    }

    /// Whether a datagram claiming to come from `id` must carry its tag.
    pub fn expects_tag(&self, id: &NodeId) -> bool {
        self.tagging.contains(id)
    }

    /// `id` (authenticated by its tag) delivered state that failed the checks `count` times:
    /// its reputation drops. Returns how long it is now ignored, when this starts a ban:
    /// [`STRIKES`] strikes start one, 30 s the first time, doubling each time up to an hour.
    pub fn blame(&mut self, id: &NodeId, count: u32, now: Time) -> Option<Duration> {
        if self.standing.len() >= MAX_STANDING && !self.standing.contains_key(id) {
            self.standing
                .retain(|_, s| s.ignored_until.is_some_and(|t| t > now) || s.bans > 0);
            if self.standing.len() >= MAX_STANDING {
                return None;
            }
        }
        let standing = self.standing.entry(id.clone()).or_default();
        if standing.ignored_until.is_some_and(|t| t > now) {
            return None;
        }
        standing.strikes += count;
        if standing.strikes < STRIKES {
            return None;
        }
        standing.strikes = 0;
        let ban = FIRST_BAN
            .saturating_mul(1 << standing.bans.min(16))
            .min(MAX_BAN);
        standing.bans += 1;
        standing.ignored_until = Some(now + ban);
        Some(ban)
    }

    /// Whether `id` is being ignored for what it relayed.
    pub fn ignored(&self, id: &NodeId, now: Time) -> bool {
        self.standing
            .get(id)
            .and_then(|s| s.ignored_until)
            .is_some_and(|t| t > now)
    }

    /// Peers ignored right now.
    pub fn ignored_count(&self, now: Time) -> usize {
        self.standing
            .values()
            .filter(|s| s.ignored_until.is_some_and(|t| t > now))
            .count()
    }

    /// Whether a node talking to us may become a member in our view: always, except in
    /// allowlist mode, where its key must have been checked first (by its signed join or
    /// state), so an unlisted node never joins the membership.
    pub fn admits_member(&self, id: &NodeId) -> bool {
        self.policy.mode != TrustMode::Allowlist || self.pinned.contains_key(id)
    }

    /// Every pinned key, by id (ours included).
    pub fn pins(&self) -> impl Iterator<Item = (&NodeId, PublicKey)> {
        self.pinned.iter().map(|(id, p)| (id, p.key))
    }

    /// Pins `key` to `id` (kept from an earlier run), unless `id` has a key already or the
    /// key is not a valid one; whether it was pinned.
    pub fn pin(&mut self, id: NodeId, key: PublicKey) -> bool {
        if self.pinned.contains_key(&id) {
            return false;
        }
        match usable(&key) {
            Some(verifying) => {
                self.pinned.insert(id, Pinned { key, verifying });
                true
            }
            None => false,
        }
    }

    /// How many ids have a pinned key.
    pub fn pinned_count(&self) -> usize {
        self.pinned.len()
    }

    /// Replaces the policy (a reload); pins stay.
    pub fn set_policy(&mut self, policy: TrustPolicy) {
        self.policy = policy;
    }

    /// Whether `key` may speak for `id` at all (before any signature is checked).
    pub fn may_speak(&self, id: &NodeId, key: Option<PublicKey>) -> Result<(), Refusal> {
        if !self.checks() {
            return Ok(());
        }
        let key = key.ok_or(Refusal::Unsigned)?;
        if let Some(pinned) = self.pinned.get(id) {
            return if pinned.key == key {
                Ok(())
            } else {
                Err(Refusal::KeyMismatch)
            };
        }
        if self.policy.mode == TrustMode::Allowlist {
            match self.policy.allowed.get(&key) {
                Some(None) => {}
                Some(Some(bound)) if bound == id => {}
                _ => return Err(Refusal::Untrusted),
            }
        }
        Ok(())
    }

    /// Checks that `key` may speak for `id` and that every claim verifies under it; on
    /// success a key not yet pinned is pinned to `id`. Nothing is checked in open mode.
    pub fn admit(
        &mut self,
        id: &NodeId,
        key: Option<PublicKey>,
        claims: &[Claim<'_>],
    ) -> Result<(), Refusal> {
        let mut verdicts = self.admit_many(&[(id, key, claims)]);
        verdicts.pop().unwrap_or(Ok(()))
    }

    /// [`Trust::admit`] for several origins at once (one datagram's worth): every signature
    /// of every origin is checked in one batch, and origin by origin only if the batch fails,
    /// so an honest datagram costs one batch however many origins it carries.
    pub fn admit_many(
        &mut self,
        offers: &[(&NodeId, Option<PublicKey>, &[Claim<'_>])],
    ) -> Vec<Result<(), Refusal>> {
        if !self.checks() {
            return vec![Ok(()); offers.len()];
        }
        // Which key each origin's claims must verify under.
        let keys: Vec<Result<(PublicKey, VerifyingKey), Refusal>> = offers
            .iter()
            .map(|(id, key, _)| {
                self.may_speak(id, *key)?;
                let key = key.ok_or(Refusal::Unsigned)?;
                match self.pinned.get(*id) {
                    Some(p) => Ok((key, p.verifying)),
                    None => usable(&key).map(|v| (key, v)).ok_or(Refusal::Forged),
                }
            })
            .collect();
        let batch: Vec<(&VerifyingKey, &Claim<'_>)> = offers
            .iter()
            .zip(&keys)
            .filter_map(|((_, _, claims), key)| key.as_ref().ok().map(|(_, v)| (v, *claims)))
            .flat_map(|(v, claims)| claims.iter().map(move |c| (v, c)))
            .collect();
        let all_good = verify_batch(&batch);
        let verdicts: Vec<Result<(), Refusal>> = offers
            .iter()
            .zip(&keys)
            .map(|((_, _, claims), key)| {
                let (_, verifying) = key.as_ref().map_err(|r| *r)?;
                if all_good || claims.iter().all(|c| verify_one(verifying, c)) {
                    Ok(())
                } else {
                    Err(Refusal::Forged)
                }
            })
            .collect();
        // Pin in order: a later offer in the same batch for an id an earlier one just pinned
        // must be under that key too (first use is first, even within one datagram).
        let mut verdicts = verdicts;
        for (((id, _, claims), key), verdict) in offers.iter().zip(keys).zip(&mut verdicts) {
            if let (Ok((key, verifying)), Ok(())) = (key, &verdict) {
                if claims.is_empty() {
                    continue;
                }
                let pinned = self
                    .pinned
                    .entry((*id).clone())
                    .or_insert(Pinned { key, verifying });
                if pinned.key != key {
                    *verdict = Err(Refusal::KeyMismatch);
                }
            }
        }
        verdicts
    }

    /// Checks one statement signed by `key` for `id` (a join): the key must be allowed to
    /// speak for the id and the signature must verify. Pins on success.
    pub fn admit_one(
        &mut self,
        id: &NodeId,
        key: PublicKey,
        statement: Vec<u8>,
        sig: &Signature,
    ) -> Result<(), Refusal> {
        self.admit(id, Some(key), &[Claim { statement, sig }])
    }
}

/// Whether every claim verifies under its key, checked as one batch (about 2.5 times as fast
/// per signature as one by one, measured at 16). False says only that some claim failed.
#[cfg(feature = "cli")]
fn verify_batch(claims: &[(&VerifyingKey, &Claim<'_>)]) -> bool {
    match claims {
        [] => true,
        [(key, claim)] => verify_one(key, claim),
        _ => {
            let messages: Vec<&[u8]> = claims.iter().map(|(_, c)| c.statement.as_slice()).collect();
            let sigs: Vec<ed25519_dalek::Signature> = claims
                .iter()
                .map(|(_, c)| ed25519_dalek::Signature::from_bytes(&c.sig.0))
                .collect();
            let keys: Vec<VerifyingKey> = claims.iter().map(|(k, _)| **k).collect();
            ed25519_dalek::verify_batch(&messages, &sigs, &keys).is_ok()
        }
    }
}

/// Without the `batch` feature (the embed build keeps its crate count), one by one.
#[cfg(not(feature = "cli"))]
fn verify_batch(claims: &[(&VerifyingKey, &Claim<'_>)]) -> bool {
    claims.iter().all(|(key, claim)| verify_one(key, claim))
}

/// `key` as a key we may check signatures against: a valid point, and not of small order
/// (anyone could sign for that one).
fn usable(key: &PublicKey) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&key.0)
        .ok()
        .filter(|v| !v.is_weak())
}

fn verify_one(key: &VerifyingKey, claim: &Claim<'_>) -> bool {
    let sig = ed25519_dalek::Signature::from_bytes(&claim.sig.0);
    key.verify_strict(&claim.statement, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::head_statement;

    fn hasher() -> Seeded {
        Seeded::with_seed(7)
    }

    fn trust(mode: TrustMode, allowed: Allowlist) -> Trust {
        let policy = TrustPolicy {
            mode,
            allowed: Arc::new(allowed),
        };
        Trust::new(policy, None, hasher())
    }

    fn signed(who: &Identity, id: &NodeId, version: u64) -> (Vec<u8>, Signature) {
        let statement = head_statement(id, version);
        let sig = who.sign(&statement);
        (statement, sig)
    }

    #[test]
    fn tofu_pins_the_first_key_and_refuses_another_for_that_id() {
        let (alice, mallory) = (Identity::from_secret([1; 32]), Identity::from_secret([2; 32]));
        let id = NodeId::from("n1");
        let mut t = trust(TrustMode::Tofu, Allowlist::new());
        let (st, sig) = signed(&alice, &id, 1);
        assert_eq!(t.admit_one(&id, alice.public(), st, &sig), Ok(()));
        assert_eq!(t.pinned(&id), Some(alice.public()));
        let (st, sig) = signed(&mallory, &id, 2);
        assert_eq!(
            t.admit_one(&id, mallory.public(), st, &sig),
            Err(Refusal::KeyMismatch)
        );
        // Mallory's key is fine for an id nobody pinned yet.
        let other = NodeId::from("n2");
        let (st, sig) = signed(&mallory, &other, 1);
        assert_eq!(t.admit_one(&other, mallory.public(), st, &sig), Ok(()));
    }

    #[test]
    fn a_bad_signature_is_refused_and_pins_nothing() {
        let alice = Identity::from_secret([1; 32]);
        let id = NodeId::from("n1");
        let mut t = trust(TrustMode::Tofu, Allowlist::new());
        let (_, sig) = signed(&alice, &id, 1);
        // The signature of version 1, claimed for version 2: an altered change.
        let altered = head_statement(&id, 2);
        assert_eq!(
            t.admit_one(&id, alice.public(), altered, &sig),
            Err(Refusal::Forged)
        );
        assert_eq!(t.pinned(&id), None);
        // In a batch, one bad claim among good ones fails the whole.
        let good: Vec<(Vec<u8>, Signature)> = (1..4).map(|v| signed(&alice, &id, v)).collect();
        let mut claims: Vec<Claim> = good
            .iter()
            .map(|(statement, sig)| Claim {
                statement: statement.clone(),
                sig,
            })
            .collect();
        assert_eq!(t.admit(&id, Some(alice.public()), &claims), Ok(()));
        claims[1].statement = head_statement(&id, 9);
        assert_eq!(
            t.admit(&id, Some(alice.public()), &claims),
            Err(Refusal::Forged)
        );
    }

    #[test]
    fn two_keys_for_one_new_id_in_one_batch_pin_the_first_and_refuse_the_second() {
        let (alice, mallory) = (Identity::from_secret([1; 32]), Identity::from_secret([2; 32]));
        let id = NodeId::from("n1");
        let mut t = trust(TrustMode::Tofu, Allowlist::new());
        let (st_a, sig_a) = signed(&alice, &id, 1);
        let (st_m, sig_m) = signed(&mallory, &id, 2);
        let a = [Claim {
            statement: st_a,
            sig: &sig_a,
        }];
        let m = [Claim {
            statement: st_m,
            sig: &sig_m,
        }];
        let verdicts = t.admit_many(&[
            (&id, Some(alice.public()), &a[..]),
            (&id, Some(mallory.public()), &m[..]),
        ]);
        assert_eq!(verdicts, vec![Ok(()), Err(Refusal::KeyMismatch)]);
        assert_eq!(t.pinned(&id), Some(alice.public()));
    }

    #[test]
    fn allowlist_refuses_unlisted_keys_and_keys_bound_to_another_id() {
        let (alice, bob, eve) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([2; 32]),
            Identity::from_secret([3; 32]),
        );
        let (n1, n2) = (NodeId::from("n1"), NodeId::from("n2"));
        let allowed: Allowlist = [(alice.public(), None), (bob.public(), Some(n2.clone()))]
            .into_iter()
            .collect();
        let mut t = trust(TrustMode::Allowlist, allowed);
        let (st, sig) = signed(&eve, &n1, 1);
        assert_eq!(t.admit_one(&n1, eve.public(), st, &sig), Err(Refusal::Untrusted));
        let (st, sig) = signed(&bob, &n1, 1);
        assert_eq!(t.admit_one(&n1, bob.public(), st, &sig), Err(Refusal::Untrusted));
        let (st, sig) = signed(&alice, &n1, 1);
        assert_eq!(t.admit_one(&n1, alice.public(), st, &sig), Ok(()));
        assert_eq!(t.may_speak(&n1, None), Err(Refusal::Unsigned));
    }

    #[test]
    fn open_mode_checks_nothing() {
        let mut t = trust(TrustMode::Open, Allowlist::new());
        let id = NodeId::from("n1");
        let junk = Signature([0; 64]);
        assert_eq!(t.admit_one(&id, PublicKey([9; 32]), vec![1], &junk), Ok(()));
        assert_eq!(t.pinned(&id), None);
    }
}
