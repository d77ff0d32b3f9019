//! Prints one JSON line: the time of one Argon2id verification (m=19456 KiB, t=2, p=1 — Tessera's
//! parameters) on one thread, and the verification rate with one thread per CPU.
//!
//!   cargo run --release -- [seconds-per-phase]

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::time::{Duration, Instant};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19456, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verifies `phc` repeatedly for `budget`; returns (count, elapsed).
fn run(phc: &str, budget: Duration) -> (u64, Duration) {
    let a = argon2();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget || n == 0 {
        a.verify_password(b"Bench-password-1", phc).expect("verification succeeds");
        n += 1;
    }
    (n, start.elapsed())
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let budget = Duration::from_secs_f64(seconds);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    let t = Instant::now();
    let phc = argon2().hash_password(b"Bench-password-1").expect("hash").to_string();
    let hash_ms = t.elapsed().as_secs_f64() * 1e3;

    let (n1, e1) = run(&phc, budget);
    let verify_ms = e1.as_secs_f64() * 1e3 / n1 as f64;

    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let phc = phc.clone();
            std::thread::spawn(move || run(&phc, budget))
        })
        .collect();
    let mut total = 0u64;
    let mut longest = Duration::ZERO;
    for h in handles {
        let (n, e) = h.join().expect("thread");
        total += n;
        longest = longest.max(e);
    }
    let parallel_per_s = total as f64 / longest.as_secs_f64();
    println!(
        "{{\"hash_ms\":{hash_ms:.2},\"verify_ms\":{verify_ms:.2},\"threads\":{threads},\"single_per_s\":{:.1},\"parallel_per_s\":{parallel_per_s:.1}}}",
        1e3 / verify_ms
    );
}
