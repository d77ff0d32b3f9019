//! The `tessera` binary.

use clap::Parser;
use std::process::ExitCode;

/// A fixed 1 MiB mmap threshold: Argon2id's 19 MiB buffers are then always mapped and returned to
/// the kernel when freed. glibc's default threshold grows to the largest freed block, after which
/// every blocking thread's arena keeps its own 19 MiB (peak RSS grew past 600 MiB in a login storm).
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator parameters; it is called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = tessera::cli::Cli::parse();
    let system = actix_web::rt::System::new();
    match system.block_on(tessera::commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
