//! Passwords: a parsed `NewPassword`, argon2id hashing off the async
//! executor with bounded concurrency, and a dummy hash so that an unknown
//! email costs as much time as a wrong password.

use std::sync::Arc;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

/// A password that meets the policy (NIST SP 800-63B: length, not
/// composition rules). Hidden from Debug.
#[derive(Clone)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

impl NewPassword {
    pub fn parse(input: &str, email: &str) -> Result<NewPassword, &'static str> {
        let n = input.chars().count();
        if n < MIN_PASSWORD_CHARS {
            return Err("Use at least 8 characters.");
        }
        if n > MAX_PASSWORD_CHARS {
            return Err("Use at most 128 characters.");
        }
        if input.chars().any(char::is_control) {
            return Err("Control characters are not allowed.");
        }
        let lower = input.to_lowercase();
        if lower == email.to_lowercase() || COMMON.contains(&lower.as_str()) {
            return Err("That password is too easy to guess. Choose another.");
        }
        Ok(NewPassword(input.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The most common passwords that pass the length rule.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "iloveyou",
    "11111111",
    "00000000",
    "abcdefgh",
    "abc12345",
    "qwerty123",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "admin123",
    "letmein1",
    "passw0rd",
    "password123",
];

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).expect("valid argon2 parameters"),
    )
}

/// Hashes and verifies on a small pool of dedicated threads (one per core by
/// default), not on the async executor nor on the general blocking pool:
/// each argon2 run takes 19 MiB, and the allocator keeps that block per
/// thread, so a few fixed threads keep memory flat under a login storm.
/// The threads run at a lower priority so page views stay fast while logins
/// saturate the CPU.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: std::sync::mpsc::SyncSender<Job>,
    dummy_hash: Arc<String>,
}

type Job = Box<dyn FnOnce() + Send>;

impl PasswordHasher {
    pub fn new(threads: usize) -> PasswordHasher {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(4096);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawn password hashing thread");
        }
        PasswordHasher {
            jobs,
            dummy_hash: Arc::new(hash_blocking("dummy password for unknown accounts")),
        }
    }

    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        let jobs = self.jobs.clone();
        // The queue is bounded; waiting for room must not block the executor.
        tokio::task::spawn_blocking(move || jobs.send(job))
            .await
            .ok()?
            .ok()?;
        rx.await.ok()
    }

    pub async fn hash(&self, password: &NewPassword) -> String {
        let password = password.0.clone();
        self.on_pool(move || hash_blocking(&password))
            .await
            .expect("password hashing threads are running")
    }

    /// Verifies against `stored`, or against the dummy hash when there is no
    /// account, so both take the same time. Never true for a missing account.
    pub async fn verify(&self, stored: Option<String>, password: &str) -> bool {
        let exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.as_str().to_string());
        let password = password.to_string();
        let ok = self
            .on_pool(move || verify_blocking(&hash, &password))
            .await
            .unwrap_or(false);
        ok && exists
    }
}

/// Nice 10 for the calling thread (Linux sets niceness per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the current thread's id; no memory is shared.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

pub fn hash_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid parameters")
        .to_string()
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS * 4 {
        return false;
    }
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_agreed_cost() {
        let h = hash_blocking("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking(&h, "correct horse battery"));
        assert!(!verify_blocking(&h, "wrong"));
    }

    #[test]
    fn policy_is_about_length_and_guessability() {
        assert!(NewPassword::parse("short", "a@b.c").is_err());
        assert!(NewPassword::parse("password123", "a@b.c").is_err());
        assert!(NewPassword::parse(&"x".repeat(129), "a@b.c").is_err());
        assert!(NewPassword::parse("ann@example.com", "ann@example.com").is_err());
        assert!(NewPassword::parse("blue-kettle-42", "a@b.c").is_ok());
        assert_eq!(
            format!("{:?}", NewPassword::parse("blue-kettle-42", "").unwrap()),
            "NewPassword(<redacted>)"
        );
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        let hasher = PasswordHasher::new(1);
        assert!(
            !hasher
                .verify(None, "dummy password for unknown accounts")
                .await
        );
    }
}
