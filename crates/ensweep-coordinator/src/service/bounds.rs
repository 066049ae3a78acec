//! Bounds on the fields of incoming requests, checked before a request becomes an event.
//!
//! The port is reachable by anyone on a cluster's network, and gRPC only bounds a message as a
//! whole (256 MiB here, for result batches). Without these checks one request could make the
//! coordinator store and log a 200 MB worker name, or walk millions of fences while every other
//! caller waits on the event loop.

use tonic::Status;

/// Longest worker name (it is stored with every result the worker sends).
pub const MAX_WORKER_NAME: usize = 256;
/// Most trainer versions one worker may declare.
pub const MAX_VERSIONS: usize = 64;
/// Longest trainer version or code hash.
pub const MAX_LABEL: usize = 256;
/// Longest session secret (the coordinator's own are 64 hex digits).
pub const MAX_SESSION: usize = 256;
/// Most fences, results or failures in one request (a worker holds at most `MAX_SLOTS` leases
/// plus its prefetch, far below this).
pub const MAX_ITEMS: usize = 16_384;
/// Longest failure message kept; longer ones are cut (a panic message can be long, and it is
/// better to keep its start than to refuse the failure).
pub const MAX_FAILURE_MESSAGE: usize = 4_096;
/// Longest sweep name a client may ask about (the spec's own limit is 128 characters).
pub const MAX_SWEEP_NAME: usize = 128;

fn too_long(what: &str, len: usize, limit: usize) -> Status {
    Status::invalid_argument(format!("{what} is {len} bytes; the limit is {limit}"))
}

/// Checks a registration's worker name, versions and code hash.
pub fn registration(name: &str, versions: &[String], code_hash: &str) -> Result<(), Status> {
    if name.is_empty() || name.len() > MAX_WORKER_NAME {
        return Err(Status::invalid_argument(format!(
            "worker_name must be 1 to {MAX_WORKER_NAME} bytes, not {}",
            name.len()
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Status::invalid_argument(
            "worker_name contains a control character",
        ));
    }
    if versions.len() > MAX_VERSIONS {
        return Err(Status::invalid_argument(format!(
            "{} trainer_versions; the limit is {MAX_VERSIONS}",
            versions.len()
        )));
    }
    if let Some(v) = versions.iter().find(|v| v.len() > MAX_LABEL) {
        return Err(too_long("a trainer version", v.len(), MAX_LABEL));
    }
    if code_hash.len() > MAX_LABEL {
        return Err(too_long("code_hash", code_hash.len(), MAX_LABEL));
    }
    Ok(())
}

/// Checks a worker call's session secret.
pub fn session(session: &str) -> Result<(), Status> {
    if session.len() > MAX_SESSION {
        return Err(too_long("session", session.len(), MAX_SESSION));
    }
    Ok(())
}

/// Most epochs a progress report may name: far above any trainer's config limit.
pub const MAX_EPOCHS: u32 = 100_000_000;

/// Checks a heartbeat's progress entries (at most one per fence, done <= total where the
/// total is known, both bounded) and returns them as (fence, done, total).
pub fn progress(
    entries: &[ensweep_proto::v1::CellProgress],
    fences: usize,
) -> Result<Vec<(u64, u32, u32)>, Status> {
    if entries.len() > fences {
        return Err(Status::invalid_argument(format!(
            "{} progress entries for {fences} fences",
            entries.len()
        )));
    }
    entries
        .iter()
        .map(|p| {
            let (done, total) = (p.epochs_done, p.epochs_total);
            if done > MAX_EPOCHS || total > MAX_EPOCHS || (total > 0 && done > total) {
                return Err(Status::invalid_argument(format!(
                    "progress of fence {}: {done} of {total} epochs",
                    p.fence
                )));
            }
            Ok((p.fence, done, total))
        })
        .collect()
}

/// Checks the number of fences, results or failures in one request.
pub fn items(what: &str, n: usize) -> Result<(), Status> {
    if n > MAX_ITEMS {
        return Err(Status::invalid_argument(format!(
            "{n} {what} in one request; the limit is {MAX_ITEMS}"
        )));
    }
    Ok(())
}

/// Checks a sweep name a client asks about (empty means "every sweep" where allowed).
pub fn sweep_name(name: &str) -> Result<(), Status> {
    if name.len() > MAX_SWEEP_NAME {
        return Err(too_long("sweep", name.len(), MAX_SWEEP_NAME));
    }
    Ok(())
}

/// A failure message cut to [`MAX_FAILURE_MESSAGE`] bytes at a character boundary.
pub fn failure_message(mut message: String) -> String {
    if message.len() > MAX_FAILURE_MESSAGE {
        let mut end = MAX_FAILURE_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(" [cut]");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn registrations_outside_the_bounds_are_refused() {
        let ok = vec!["synthetic/1".to_string()];
        assert!(registration("w1", &ok, "abc").is_ok());
        let long = "x".repeat(MAX_WORKER_NAME + 1);
        for (name, versions, hash) in [
            ("", ok.clone(), "abc".to_string()),
            (long.as_str(), ok.clone(), "abc".to_string()),
            ("w\n1", ok.clone(), "abc".to_string()),
            (
                "w1",
                vec!["v".to_string(); MAX_VERSIONS + 1],
                "abc".to_string(),
            ),
            ("w1", vec!["v".repeat(MAX_LABEL + 1)], "abc".to_string()),
            ("w1", ok.clone(), "h".repeat(MAX_LABEL + 1)),
        ] {
            let err = registration(name, &versions, &hash).expect_err("refused");
            assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        }
    }

    #[test]
    fn counts_sessions_and_sweep_names_are_bounded() {
        assert!(items("fences", MAX_ITEMS).is_ok());
        assert_eq!(
            items("fences", MAX_ITEMS + 1).unwrap_err().code(),
            Code::InvalidArgument
        );
        assert!(session(&"s".repeat(MAX_SESSION)).is_ok());
        assert!(session(&"s".repeat(MAX_SESSION + 1)).is_err());
        assert!(sweep_name("").is_ok());
        assert!(sweep_name(&"a".repeat(MAX_SWEEP_NAME + 1)).is_err());
    }

    #[test]
    fn long_failure_messages_are_cut_at_a_character_boundary() {
        assert_eq!(failure_message("short".into()), "short");
        let cut = failure_message("é".repeat(MAX_FAILURE_MESSAGE));
        assert!(cut.len() <= MAX_FAILURE_MESSAGE + " [cut]".len());
        assert!(cut.ends_with(" [cut]"));
        assert!(cut.trim_end_matches(" [cut]").chars().all(|c| c == 'é'));
    }
}
