//! Worker registrations: one per name, bounded in number, expired after inactivity, and
//! authenticated by a session secret.
//!
//! The secret is generated outside the machine (it needs the OS RNG, and the machine is pure)
//! and compared here. Leases belong to a worker *name*: re-registering a name (a restarted
//! worker, or one that re-registers after a coordinator restart) replaces the old registration,
//! whose id and session stop working, and the new one owns the name's leases.

use super::{Machine, WorkerId};
use crate::error::CoordError;
use std::collections::HashMap;

/// Most registrations held at once; more are refused until some expire.
pub const MAX_WORKERS: usize = 4_096;
/// Most slots one worker may declare (and so cells one LeaseCells call may take).
pub const MAX_SLOTS: u32 = 4_096;

/// A registered worker.
#[derive(Clone, Debug)]
pub(super) struct WorkerEntry {
    pub(super) name: String,
    pub(super) versions: Vec<String>,
    pub(super) slots: u32,
    session: String,
    last_seen: u64,
}

/// Every live registration, by id and by name.
#[derive(Debug)]
pub(super) struct Registry {
    by_id: HashMap<WorkerId, WorkerEntry>,
    by_name: HashMap<String, WorkerId>,
    next_id: WorkerId,
}

impl Registry {
    pub(super) fn new(first_id: WorkerId) -> Registry {
        Registry {
            by_id: HashMap::new(),
            by_name: HashMap::new(),
            next_id: first_id.max(1),
        }
    }

    /// The registration `id` after a call from it: refreshes its inactivity clock.
    pub(super) fn touch(&mut self, id: WorkerId, now: u64) -> Result<&WorkerEntry, CoordError> {
        let w = self
            .by_id
            .get_mut(&id)
            .ok_or(CoordError::UnknownWorker(id))?;
        w.last_seen = now;
        Ok(w)
    }

    /// Name of a registration, or "" when unknown.
    pub(super) fn name(&self, id: WorkerId) -> &str {
        self.by_id.get(&id).map_or("", |w| w.name.as_str())
    }

    /// Drops registrations not heard from for `ttl_ms`.
    pub(super) fn expire(&mut self, now: u64, ttl_ms: u64) {
        let by_name = &mut self.by_name;
        self.by_id.retain(|_, w| {
            let live = w.last_seen.saturating_add(ttl_ms) >= now;
            if !live {
                tracing::info!(worker = %w.name, "registration expired");
                by_name.remove(&w.name);
            }
            live
        });
    }
}

/// What a worker declares when it registers.
#[derive(Clone, Debug)]
pub struct Registration {
    /// Unique per worker process.
    pub name: String,
    /// Trainer versions it runs.
    pub versions: Vec<String>,
    /// Cells it runs at once (clamped to 1..=`MAX_SLOTS`).
    pub slots: u32,
    /// Secret the caller generated for this registration.
    pub session: String,
}

impl Machine {
    /// Registers a worker, replacing an earlier registration of the same name.
    pub fn register(&mut self, reg: Registration, now: u64) -> Result<WorkerId, CoordError> {
        let r = &mut self.workers;
        if let Some(old) = r.by_name.remove(&reg.name) {
            r.by_id.remove(&old);
        } else if r.by_id.len() >= MAX_WORKERS {
            return Err(CoordError::TooManyWorkers(MAX_WORKERS));
        }
        let id = r.next_id;
        r.next_id = r.next_id.checked_add(1).unwrap_or(1);
        r.by_name.insert(reg.name.clone(), id);
        r.by_id.insert(
            id,
            WorkerEntry {
                name: reg.name,
                versions: reg.versions,
                slots: reg.slots.clamp(1, MAX_SLOTS),
                session: reg.session,
                last_seen: now,
            },
        );
        Ok(id)
    }

    /// Checks that a worker-side call comes from registration `id` holding `session`, and
    /// refreshes its inactivity clock. A wrong session reads like an unknown id, so a caller
    /// learns nothing about which ids exist.
    pub fn authenticate(
        &mut self,
        id: WorkerId,
        session: &str,
        now: u64,
    ) -> Result<(), CoordError> {
        let w = self
            .workers
            .by_id
            .get_mut(&id)
            .ok_or(CoordError::UnknownWorker(id))?;
        if !constant_time_eq(w.session.as_bytes(), session.as_bytes()) {
            return Err(CoordError::UnknownWorker(id));
        }
        w.last_seen = now;
        Ok(())
    }

    /// Number of live registrations.
    pub fn n_workers(&self) -> u32 {
        self.workers.by_id.len() as u32
    }

    /// A registration expires after this long without any call from it: a few lease TTLs, so
    /// a worker that heartbeats (every quarter TTL) never expires while it is alive.
    pub fn worker_ttl_ms(&self) -> u64 {
        self.config.lease_ttl_ms.saturating_mul(3).max(1_000)
    }
}

/// Compares secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
