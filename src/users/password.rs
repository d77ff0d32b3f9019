//! Passwords: the policy, and Argon2id hashing on dedicated hashing threads.
//!
//! Argon2id with m = 19456 KiB, t = 2, p = 1 (OWASP's first recommendation). Every hash and every
//! verification runs on one of a fixed set of hashing threads (one per CPU), never on the event
//! loop, so a burst of logins queues instead of starving the server. [`Passwords`] counts the work
//! it does, so tests can check how many verifications a login cost without timing anything.

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use std::sync::{LazyLock, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

/// A fixed Argon2id hash (same parameters as real ones) that unknown usernames are verified against,
/// so a login for a user that does not exist costs exactly one verification too. Its password is
/// unknown: salt and output are random bytes, so no password is known to produce it.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$C1p6Rm2dRjTQ2VB0vrDNUQ$j5LxVLlVFgxNQ5N6d1lDaWEmZkZAEnLvONT0OQyJWzM";

/// Checks the password policy: 8–128 characters and at least three of the four classes
/// lowercase, uppercase, digit, other. The error is a sentence to show the user.
pub fn check_policy(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(format!("The password must be at least {MIN_LEN} characters long."));
    }
    if len > MAX_LEN {
        return Err(format!("The password must be at most {MAX_LEN} characters long."));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|&&c| c).count() < 3 {
        return Err("The password must contain at least three of: lowercase letters, uppercase letters, digits, other characters.".into());
    }
    Ok(())
}

/// A random password that satisfies the policy (for bootstrap and `user create` without stdin).
pub fn generate() -> String {
    loop {
        let candidate = tessera_actors::crypto::random_token(18);
        if check_policy(&candidate).is_ok() {
            return candidate;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Failed(String),
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(19456, 2, 1, None).map_err(|e| HashError::Failed(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Verifies `password` against a parsed PHC string, filling `blocks` when they are the size the
/// hash's parameters need (else Argon2 allocates its own). `false` for a wrong password.
fn verify_into(blocks: &mut [Block], password: &[u8], phc: &str) -> Result<bool, argon2::password_hash::Error> {
    let parsed = PasswordHash::new(phc)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return Ok(false) };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str())?;
    let version = parsed.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(&parsed)?;
    let memory = params.block_count();
    let a = Argon2::new(algorithm, version, params);
    let mut out = [0u8; 64];
    let out = out.get_mut(..expected.len()).ok_or(argon2::password_hash::Error::OutputSize)?;
    if memory == blocks.len() {
        a.hash_password_into_with_memory(password, salt, out, blocks)?;
    } else {
        a.hash_password_into(password, salt, out)?;
    }
    Ok(tessera_actors::crypto::ct_eq(out, expected.as_bytes()))
}

/// Argon2's working memory for one verification: on Linux an anonymous mapping (the kernel hands
/// the pages out zeroed), kept by its thread between verifications. It is advised *against*
/// transparent huge pages: measured on the benchmark machine, two threads verifying into
/// huge-page buffers ran 7–10% slower than into 4 KiB pages (`bench/`, login storm).
struct Buffer {
    ptr: std::ptr::NonNull<Block>,
    len: usize,
    /// What to give back: the mapping (Linux) or the allocation.
    base: *mut u8,
    size: usize,
}

// SAFETY: the buffer owns its memory exclusively; moving it to another thread is sound.
unsafe impl Send for Buffer {}

const PAGE: usize = 4096;

impl Buffer {
    #[cfg(target_os = "linux")]
    fn new(blocks: usize) -> Buffer {
        let size = (blocks.max(1) * std::mem::size_of::<Block>()).next_multiple_of(PAGE);
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if base == libc::MAP_FAILED {
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<Block>());
        }
        // SAFETY: advice only, on the mapping above.
        unsafe {
            libc::madvise(base, size, libc::MADV_NOHUGEPAGE);
        }
        let base = base.cast::<u8>();
        let ptr = std::ptr::NonNull::new(base.cast::<Block>()).unwrap_or(std::ptr::NonNull::dangling());
        Buffer { ptr, len: blocks, base, size }
    }

    #[cfg(not(target_os = "linux"))]
    fn new(blocks: usize) -> Buffer {
        let layout = std::alloc::Layout::array::<Block>(blocks.max(1)).unwrap_or_else(|_| std::alloc::Layout::new::<Block>());
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = std::ptr::NonNull::new(base.cast::<Block>()) else { std::alloc::handle_alloc_error(layout) };
        Buffer { ptr, len: blocks, base, size: layout.size() }
    }

    fn blocks(&mut self) -> &mut [Block] {
        // SAFETY: `len` zeroed blocks (a valid `Block`) lie within the memory, which lives as long
        // as `self` and is borrowed mutably through it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe {
            libc::munmap(self.base.cast(), self.size);
        }
        #[cfg(not(target_os = "linux"))]
        // SAFETY: allocated in `new` with this size and `Block`'s alignment.
        unsafe {
            std::alloc::dealloc(self.base, std::alloc::Layout::from_size_align_unchecked(self.size, std::mem::align_of::<Block>()))
        }
    }
}

/// What a hashing thread is asked to do.
enum Work {
    Hash { password: String, done: oneshot::Sender<Result<String, HashError>> },
    Verify { password: String, phc: String, done: oneshot::Sender<bool> },
}

/// The bounded hashing pool, with counters.
///
/// One thread per CPU runs every hash and verification, never the event loop; a burst of logins
/// queues for them. Each thread keeps its own 19 MiB block buffer (a fresh allocation per login
/// would be mapped and zeroed by the kernel every time) and, when the pool has one thread per
/// allowed CPU, is pinned to its own CPU: left to the scheduler, a thread woken by an event loop is
/// often placed on that loop's CPU, beside the other hash, while the second CPU idles. The threads
/// run at a lower priority than request handling, and give their buffers back after 30 s idle.
pub struct Passwords {
    jobs: std::sync::mpsc::Sender<Work>,
    hashes: AtomicU64,
    verifications: AtomicU64,
}

static GLOBAL: LazyLock<Passwords> =
    LazyLock::new(|| Passwords::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)));

/// The CPUs this process may run on, in order.
#[cfg(target_os = "linux")]
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `set` is a plain bitmask the call fills; size and pointer describe it exactly.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect()
    }
}

/// Pins the calling thread to `cpu` (best effort).
#[cfg(target_os = "linux")]
fn pin_to(cpu: usize) {
    // SAFETY: as above; 0 names the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The hashing threads' nice value: when the CPUs are contended, request handling (the event loops,
/// introspection beside a login storm) runs first and hashing takes the rest.
const HASHING_NICE: libc::c_int = 10;

/// How long an idle hashing thread keeps its 19 MiB buffer.
const KEEP_BUFFER: std::time::Duration = std::time::Duration::from_secs(30);

fn hashing_thread(jobs: std::sync::Arc<Mutex<std::sync::mpsc::Receiver<Work>>>, cpu: Option<usize>) {
    #[cfg(target_os = "linux")]
    {
        if let Some(cpu) = cpu {
            pin_to(cpu);
        }
        // SAFETY: changes only this thread's nice value.
        unsafe {
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, HASHING_NICE);
        }
    }
    let _ = cpu;
    let mut buffer: Option<Buffer> = None;
    loop {
        let next = jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv_timeout(KEEP_BUFFER);
        let work = match next {
            Ok(work) => work,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                buffer = None;
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match work {
            Work::Hash { password, done } => {
                let hashed = argon2().and_then(|a| {
                    a.hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| HashError::Failed(e.to_string()))
                });
                let _ = done.send(hashed);
            }
            Work::Verify { password, phc, done } => {
                let buffer = buffer.get_or_insert_with(|| Buffer::new(argon2().map(|a| a.params().block_count()).unwrap_or(1)));
                let matches = verify_into(buffer.blocks(), password.as_bytes(), &phc).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "stored password hash is unusable");
                    false
                });
                let _ = done.send(matches);
            }
        }
    }
}

impl Passwords {
    /// A pool of `threads` hashing threads (they end when the pool is dropped).
    pub fn new(threads: usize) -> Passwords {
        let threads = threads.max(1);
        let (tx, rx) = std::sync::mpsc::channel();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        #[cfg(target_os = "linux")]
        let cpus = allowed_cpus();
        #[cfg(not(target_os = "linux"))]
        let cpus: Vec<usize> = Vec::new();
        let pin = cpus.len() == threads;
        for i in 0..threads {
            let rx = rx.clone();
            let cpu = if pin { cpus.get(i).copied() } else { None };
            if let Err(e) = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || hashing_thread(rx, cpu)) {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Passwords { jobs: tx, hashes: AtomicU64::new(0), verifications: AtomicU64::new(0) }
    }

    /// The process-wide pool the server uses.
    pub fn global() -> &'static Passwords {
        &GLOBAL
    }

    pub fn hashes(&self) -> u64 {
        self.hashes.load(Ordering::SeqCst)
    }

    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::SeqCst)
    }

    fn stopped() -> HashError {
        HashError::Failed("the password hashing threads have stopped".into())
    }

    /// Hashes `password` to a PHC string (a fresh random salt each time).
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.hashes.fetch_add(1, Ordering::SeqCst);
        let (done, result) = oneshot::channel();
        self.jobs.send(Work::Hash { password, done }).map_err(|_| Self::stopped())?;
        result.await.map_err(|_| Self::stopped())?
    }

    /// Verifies `password` against a PHC string; `false` for a wrong password or a malformed hash.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, HashError> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        let (done, result) = oneshot::channel();
        self.jobs.send(Work::Verify { password, phc, done }).map_err(|_| Self::stopped())?;
        result.await.map_err(|_| Self::stopped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_needs_length_and_three_classes() {
        assert!(check_policy("Ab1-").unwrap_err().contains("at least 8"));
        assert!(check_policy(&"Ab1-".repeat(33)).unwrap_err().contains("at most 128"));
        assert!(check_policy(&"Ab1-".repeat(32)).is_ok());
        assert!(check_policy("alllowercase").unwrap_err().contains("three of"));
        assert!(check_policy("lowerUPPER").unwrap_err().contains("three of"));
        assert!(check_policy("lower123456").unwrap_err().contains("three of"));
        assert!(check_policy("lowerUPPER1").is_ok());
        assert!(check_policy("lower-123456").is_ok());
        assert!(check_policy("UPPER-12345").is_ok());
        // Length counts characters, not bytes.
        assert!(check_policy("Äöü1-x").is_err());
        assert!(check_policy("Äöü1-xyz").is_ok());
    }

    #[test]
    fn generated_passwords_pass_the_policy() {
        for _ in 0..50 {
            let p = generate();
            assert!(check_policy(&p).is_ok(), "{p}");
        }
    }

    #[actix_rt::test]
    async fn hash_then_verify_and_count() {
        let pool = Passwords::new(1);
        let h = pool.hash("Correct-horse-1".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(pool.verify("Correct-horse-1".into(), h.clone()).await.unwrap());
        assert!(!pool.verify("Correct-horse-2".into(), h).await.unwrap());
        assert!(!pool.verify("anything".into(), DUMMY_HASH.into()).await.unwrap());
        // The dummy hash parses with the real parameters, so verifying against it costs the same.
        let dummy = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(dummy.params.to_string(), "m=19456,t=2,p=1");
        assert_eq!((pool.hashes(), pool.verifications()), (1, 3));
        // A hash made with other parameters (an older policy) still verifies, with its own memory.
        let params = Params::new(8192, 1, 1, None).unwrap();
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password(b"Older-policy-1").unwrap().to_string();
        assert!(pool.verify("Older-policy-1".into(), old.clone()).await.unwrap());
        assert!(!pool.verify("Older-policy-2".into(), old).await.unwrap());
        // Not a PHC string at all: refused, not a panic.
        assert!(!pool.verify("x".into(), "not a hash".into()).await.unwrap());
    }
}
